"""FID and KID through torch-fidelity, offline only.

torch-fidelity (optional extra ``fid``: ``pip install 'deap-gan-prune[fid]'``; it imports
torchvision) downloads its Inception network on first use unless it is given a local weights
file. This module never lets it download: the weights (torch-fidelity's
``weights-inception-2015-12-05-6726825d.pth``) come from the file passed as
``inception_weights`` (CLI: ``evaluate --fid --inception-weights PATH``) or, without it, from
torch-fidelity's own cache (where its first download puts them, ``<torch hub
dir>/checkpoints/``, see :func:`cached_inception_weights`); when neither is there, or
torch-fidelity is missing, a one-line :class:`FIDUnavailable` says what is missing.

Scores: ``fid`` (Fréchet Inception Distance on the 2048-d pool features; lower is better),
``kid_mean`` and ``kid_std`` (Kernel Inception Distance, polynomial kernel, over random
subsets; lower is better). Images go to torch-fidelity as uint8 ``[3, H, W]``; it resizes them
to 299 x 299 itself.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

FID_HIGHER_IS_BETTER = {"fid": False, "kid_mean": False, "kid_std": False}
INCEPTION_WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
_KEY_FID = "frechet_inception_distance"
_KEY_KID_MEAN = "kernel_inception_distance_mean"
_KEY_KID_STD = "kernel_inception_distance_std"


class FIDUnavailable(ValueError):
    """FID/KID cannot be computed here (no weights file, no torch-fidelity); one line."""


@dataclass(frozen=True)
class FidConfig:
    """Settings of :func:`fid_kid`.

    ``batch_size``: images per Inception forward pass; ``kid``: also KID; ``kid_subsets``:
    random subsets KID averages over, each of ``kid_subset_size`` images (None: min(1000,
    N1, N2), since a subset can be no larger than a set); ``seed``: torch-fidelity's
    ``rng_seed``, which draws the subsets.
    """

    batch_size: int = 32
    kid: bool = True
    kid_subsets: int = 100
    kid_subset_size: int | None = None
    seed: int = 2020

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.kid_subsets < 1:
            raise ValueError(f"FidConfig: batch_size and kid_subsets must be 1 or more, got "
                             f"{self.batch_size} and {self.kid_subsets}")
        if self.kid_subset_size is not None and self.kid_subset_size < 2:
            raise ValueError(f"FidConfig: kid_subset_size must be 2 or more, got "
                             f"{self.kid_subset_size}")


def cached_inception_weights() -> Path:
    """Where torch-fidelity keeps the Inception weights it downloaded (``torch.hub``'s
    checkpoint folder, ``$TORCH_HOME/hub/checkpoints``); the file may not exist."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_NAME


def check_inception_weights(path: str | os.PathLike | None) -> Path:
    """The Inception weights file as a Path: ``path``, or without it torch-fidelity's cached
    file (:func:`cached_inception_weights`) if it is there; a one-line
    :class:`FIDUnavailable` when ``path`` is missing or not a file, or when none is given and
    none is cached. Nothing is downloaded."""
    if path is None or str(path) == "":
        cached = cached_inception_weights()
        if cached.is_file():
            return cached
        raise FIDUnavailable(
            f"FID needs Inception weights: pass --inception-weights PATH (inception_weights= in "
            f"Python; torch-fidelity's {INCEPTION_WEIGHTS_NAME}), or put that file in "
            f"torch-fidelity's cache {cached.parent}; none is downloaded")
    path = Path(path)
    if not path.is_file():
        raise FIDUnavailable(
            f"{path}: no such Inception weights file (FID needs torch-fidelity's "
            f"{INCEPTION_WEIGHTS_NAME} on disk; none is downloaded)")
    return path


def import_torch_fidelity():
    """The ``torch_fidelity`` module, or a one-line :class:`FIDUnavailable` naming the extra."""
    try:
        import torch_fidelity
    except ImportError as exc:
        if exc.name not in (None, "torch_fidelity"):  # installed, but a dependency is missing
            raise FIDUnavailable(f"torch-fidelity cannot be imported: {exc} (it needs "
                                 f"{exc.name}; install the build matching your torch)") \
                from None
        raise FIDUnavailable("FID needs the optional package torch-fidelity: pip install "
                             "'deap-gan-prune[fid]' (or pip install torch-fidelity)") from None
    return torch_fidelity


class Uint8Images(Dataset):
    """Images as torch-fidelity reads them: item ``i`` is a uint8 tensor ``[3, H, W]``.

    ``images``: a float tensor ``[N, 3, H, W]`` in [-1, 1] (as the generators produce) or a
    uint8 tensor ``[N, 3, H, W]``.
    """

    def __init__(self, images: torch.Tensor) -> None:
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
            shape = list(images.shape) if hasattr(images, "shape") else type(images).__name__
            raise ValueError(f"FID images must be a tensor [N, 3, H, W], got {shape}")
        if images.dtype != torch.uint8:
            images = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
            images = images.to(torch.uint8)
        self.images = images.cpu()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def _as_input(images: torch.Tensor | str | os.PathLike,
              name: str) -> tuple[str, None] | tuple[Uint8Images, int]:
    """A folder path (str) stays a path for torch-fidelity; tensors become a Dataset."""
    if isinstance(images, (str, os.PathLike)):
        folder = Path(images)
        if not folder.is_dir():
            raise ValueError(f"{folder}: no such image folder ({name})")
        return str(folder), None
    dataset = Uint8Images(images)
    return dataset, len(dataset)


def _device_options(fidelity_module: Any, device: str | torch.device) -> dict:
    """torch-fidelity 0.3 takes ``cuda=bool``; later versions also take ``device``."""
    on_gpu = torch.device(device).type == "cuda"
    defaults = getattr(getattr(fidelity_module, "defaults", None), "DEFAULTS", {})
    if "device" in defaults:
        return {"device": str(device)}
    return {"cuda": on_gpu}


def fid_kid(images_1: torch.Tensor | str | os.PathLike, images_2: torch.Tensor | str | os.PathLike,
            inception_weights: str | os.PathLike | None,
            device: str | torch.device = "cpu", config: FidConfig = FidConfig()) -> dict:
    """FID (and KID) between two image sets, with a LOCAL Inception weights file.

    ``images_1``, ``images_2``: tensors ``[N, 3, H, W]`` (float in [-1, 1] or uint8) or paths of
    image folders. ``inception_weights``: torch-fidelity's ``INCEPTION_WEIGHTS_NAME`` file.
    ``config``: batch size and KID settings (:class:`FidConfig`). No cache is written and
    nothing is downloaded. Returns ``{"fid": .., ["kid_mean": .., "kid_std": ..,]
    "higher_is_better": {name: False}}``.
    """
    weights = check_inception_weights(inception_weights)
    input1, n1 = _as_input(images_1, "images_1")
    input2, n2 = _as_input(images_2, "images_2")
    fidelity = import_torch_fidelity()
    sizes = [n for n in (n1, n2) if n is not None]
    if min(sizes, default=2) < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {sizes}")
    kid = config.kid
    options = dict(input1=input1, input2=input2, fid=True, kid=kid,
                   feature_extractor="inception-v3-compat",
                   feature_extractor_weights_path=str(weights), batch_size=config.batch_size,
                   cache=False, datasets_download=False, verbose=False, rng_seed=config.seed,
                   **_device_options(fidelity, device))
    if kid:
        options.update(kid_subsets=config.kid_subsets,
                       kid_subset_size=config.kid_subset_size or min([1000, *sizes]))
    try:
        result = fidelity.calculate_metrics(**options)
    except FIDUnavailable:
        raise
    except Exception as exc:  # torch-fidelity raises assorted errors for a bad weights file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FIDUnavailable(f"{weights}: torch-fidelity could not compute FID with these "
                             f"Inception weights: {first[:160]}") from None
    scores: dict[str, Any] = {"fid": float(result[_KEY_FID])}
    if kid:
        scores.update(kid_mean=float(result[_KEY_KID_MEAN]),
                      kid_std=float(result[_KEY_KID_STD]))
    scores["higher_is_better"] = {k: FID_HIGHER_IS_BETTER[k] for k in scores}
    return scores


def check_fid_available(inception_weights: str | os.PathLike | None) -> Path:
    """Before any work: the Inception weights file (given or cached) and an importable
    torch-fidelity, else a one-line :class:`FIDUnavailable`."""
    weights = check_inception_weights(inception_weights)
    import_torch_fidelity()
    return weights


def fid_by_direction(outputs: Mapping[str, Mapping[str, torch.Tensor]],
                     reals: Mapping[str, torch.Tensor],
                     inception_weights: str | os.PathLike | None,
                     device: str | torch.device = "cpu",
                     config: FidConfig = FidConfig()) -> dict:
    """``{name: {"fid_<direction>": {"fid": .., "kid_mean": .., "kid_std": ..,
    "higher_is_better": ..}}}``: each set of translations ``outputs[name][direction]`` (e.g.
    ``"a2b"``) against the real images ``reals[direction]`` of its target domain
    (:func:`fid_kid` with ``config``)."""
    return {name: {f"fid_{direction}": fid_kid(images, reals[direction], inception_weights,
                                               device, config)
                   for direction, images in sorted(by_direction.items())}
            for name, by_direction in outputs.items()}

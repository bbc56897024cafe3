"""Endless, seekable streams of augmented training images from a list of files.

A stream numbers the images it serves 0, 1, 2, ...: sample ``c`` belongs to epoch
``c // n`` (``n`` files), is the file at place ``c % n`` of that epoch's permutation, and is
augmented as upstream CycleGAN does (:func:`deap_gan_prune.data.augment`: resize to
``load_size``, random crop, random flip). The permutation and the augmentation are drawn from
(seed, stream key, epoch, file index) only, so a sample is the same whatever the order, the
worker or the machine, and a training run resumed at step ``k`` simply starts at sample
``k * batch_size``: the stream position is the step.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance
from torch.utils.data import DataLoader, Dataset

from .configs import setting, validate
from .data import DataError, augment, load_image, read_rgb, to_tensor
from .imagerange import DEFAULT_RANGE, InputRange


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def holdout_split(files: Sequence[str | os.PathLike], n_val: int, seed: int = 0
                  ) -> tuple[list[Path], list[Path]]:
    """``(train, val)``: ``n_val`` files chosen at random (seeded) held out for validation,
    the rest for training, each list in the input's order. DataError when fewer than
    ``n_val + 1`` files are given (at least one must remain to train on)."""
    paths = [Path(f) for f in files]
    if n_val < 0:
        raise ValueError(f"holdout_split: n_val must be >= 0, got {n_val}")
    if len(paths) <= n_val:
        where = paths[0].parent if paths else "the folder"
        raise DataError(f"{where}: {len(paths)} images cannot give {n_val} validation images "
                        "and at least one to train on")
    chosen = set(_rng(seed, 7).choice(len(paths), size=n_val, replace=False).tolist())
    return ([f for i, f in enumerate(paths) if i not in chosen],
            [f for i, f in enumerate(paths) if i in chosen])


@dataclass(frozen=True)
class Augment:
    """Augmentation for distillation, beyond upstream's crop and flip.

    ``scale_jitter``: the resize before the crop is ``load_size`` times a factor drawn
    uniformly from ``(low, high)`` (at least ``image_size``; ``(1, 1)``: off). ``load_sizes``:
    sizes in pixels the image is resized to before the crop, one drawn per sample (crops from
    several resolutions; empty: ``load_size``; each at least ``image_size``).
    ``color_jitter``: brightness, contrast and saturation each scaled by a factor drawn from
    ``[1 - color_jitter, 1 + color_jitter]`` (0: off). The original generator labels the
    augmented crop itself, so any of them keeps the distillation target consistent.

    The defaults (scale jitter 1–2, colour jitter 0.2) are the recipe measured in
    ``benchmarks/distillation.py``; :meth:`off` is upstream's preprocessing, sample for
    sample."""

    scale_jitter: tuple[float, float] = setting(
        (1.0, 2.0), "the resize before the crop scaled by a factor drawn from LOW..HIGH "
        "(default 1 2; 1 1: off)", within="(0, inf)", metavar=("LOW", "HIGH"))
    load_sizes: tuple[int, ...] = setting(
        (), "sizes the images are resized to before the crop, one drawn per crop (default: "
        "--load-size)", within="[1, inf)", metavar="PX")
    color_jitter: float = setting(
        0.2, "brightness, contrast and saturation scaled by factors in [1 - S, 1 + S] "
        "(default 0.2; 0: off)", within="[0, 1)", metavar="S")

    @classmethod
    def off(cls) -> Augment:
        """No augmentation beyond upstream's crop and flip."""
        return cls(scale_jitter=(1.0, 1.0), load_sizes=(), color_jitter=0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale_jitter", tuple(self.scale_jitter))
        object.__setattr__(self, "load_sizes", tuple(self.load_sizes))
        validate(self)
        low, high = self.scale_jitter
        if low > high:
            raise ValueError(f"Augment: scale_jitter must be two factors low <= high, got "
                             f"{[low, high]}")

    @property
    def active(self) -> bool:
        """True when any augmentation beyond upstream's is on."""
        return self.scale_jitter != (1.0, 1.0) or bool(self.load_sizes) or self.color_jitter > 0

    def apply(self, image: Image.Image, rng: np.random.Generator, image_size: int,
              load_size: int, input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
        """``image`` resized (bicubic) to a drawn load size, cropped to ``image_size``²,
        flipped at random and colour-jittered, all drawn from ``rng``: ``[3, S, S]`` in
        ``input_range``."""
        base = load_size
        if self.load_sizes:
            base = self.load_sizes[int(rng.integers(len(self.load_sizes)))]
        low, high = self.scale_jitter
        load = max(image_size, round(base * float(rng.uniform(low, high))))
        image = image.resize((load, load), Image.Resampling.BICUBIC)
        top, left = rng.integers(0, load - image_size + 1, size=2)
        image = image.crop((left, top, left + image_size, top + image_size))
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        factors = rng.uniform(1 - self.color_jitter, 1 + self.color_jitter, size=3)
        if self.color_jitter > 0:
            for enhancer, factor in zip((ImageEnhance.Brightness, ImageEnhance.Contrast,
                                         ImageEnhance.Color), factors):
                image = enhancer(image).enhance(float(factor))
        return to_tensor(image, input_range)


class ImageStream(Dataset):
    """Sample ``c`` (any ``c >= 0``) of the stream of augmented images of ``files``:
    a float tensor ``[3, image_size, image_size]`` in ``input_range`` (default [-1, 1]; see
    the module docstring).

    ``load_size`` defaults to upstream's 286/256 of ``image_size``. ``key`` tells streams of
    one seed apart (e.g. source and target domain). A file that fails to decode is skipped
    with a warning naming it, and the next readable file of the epoch's order is served.
    ``len()`` is the number of files (one epoch). ``extra``: :class:`Augment` settings
    (None or all off: upstream's augmentation)."""

    def __init__(self, files: Sequence[str | os.PathLike], image_size: int,
                 load_size: int | None = None, seed: int = 0, key: int = 0,
                 input_range: InputRange = DEFAULT_RANGE, extra: Augment | None = None
                 ) -> None:
        self.input_range = input_range
        self.extra = extra if extra is not None and extra.active else None
        self.files = [Path(f) for f in files]
        if not self.files:
            raise DataError("an image stream needs at least one file")
        self.image_size = int(image_size)
        self.load_size = round(image_size * 286 / 256) if load_size is None else int(load_size)
        if self.image_size < 1 or self.load_size < self.image_size:
            raise ValueError(f"image_size ({image_size}) must be positive and load_size "
                             f"({self.load_size}) at least image_size")
        self.seed, self.key = int(seed), int(key)
        self._order: tuple[int, np.ndarray] | None = None
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def order(self, epoch: int) -> np.ndarray:
        """The file indices of ``epoch`` in the order they are served."""
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, _rng(self.seed, self.key, 0, epoch).permutation(len(self)))
        return self._order[1]

    def file_of(self, sample: int) -> Path:
        """The file sample ``sample`` is drawn from (before any skip of a broken file)."""
        epoch, place = divmod(int(sample), len(self))
        return self.files[int(self.order(epoch)[place])]

    def __getitem__(self, sample: int) -> torch.Tensor:
        if sample < 0:
            raise IndexError(f"stream samples are numbered from 0, got {sample}")
        epoch, place = divmod(int(sample), len(self))
        order = self.order(epoch)
        for shift in range(len(self)):
            index = int(order[(place + shift) % len(self)])
            if index in self._bad:
                continue
            try:
                image = read_rgb(self.files[index])
            except DataError as error:
                self._bad.add(index)
                warnings.warn(f"skipped {error}", stacklevel=2)  # the error names the file
                continue
            rng = _rng(self.seed, self.key, 1, epoch, index)
            if self.extra is not None:
                return self.extra.apply(image, rng, self.image_size, self.load_size,
                                        self.input_range)
            return augment(image, rng, self.image_size, self.load_size, self.input_range)
        raise DataError(f"{self.files[0].parent}: none of the {len(self)} images is readable")


class KeyedStreams(Dataset):
    """Sample ``c`` of several streams at once: ``{name: stream[c]}``."""

    def __init__(self, streams: Mapping[str, ImageStream]) -> None:
        self.streams = dict(streams)

    def __len__(self) -> int:
        return max(len(s) for s in self.streams.values())

    def __getitem__(self, sample: int) -> dict[str, torch.Tensor]:
        return {name: stream[sample] for name, stream in self.streams.items()}


def stream_batches(dataset: Dataset, batch_size: int, start: int = 0, stop: int | None = None,
                   workers: int = 0) -> Iterator:
    """Batches ``start, start + 1, ...`` (batch ``k`` holds samples ``k·B .. k·B + B − 1``)
    up to batch ``stop`` (exclusive; None: endless), read by ``workers`` processes (0: in this
    one). The batches do not depend on ``workers``."""
    if batch_size < 1 or start < 0 or workers < 0:
        raise ValueError(f"stream_batches: need batch_size >= 1, start >= 0, workers >= 0 "
                         f"(got {batch_size}, {start}, {workers})")
    while True:
        end = start + 4096 if stop is None else stop
        samples = range(start * batch_size, end * batch_size)
        # A generator of its own: creating the loader's iterator draws a seed from it, and
        # must not draw from the global one (a resumed run creates it at another step).
        yield from DataLoader(dataset, batch_size=batch_size, sampler=samples,
                              num_workers=workers, generator=torch.Generator().manual_seed(0))
        if stop is not None:
            return
        start = end


def load_images(files: Sequence[str | os.PathLike], image_size: int,
                input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
    """Whole images, resized (bicubic) to ``image_size``², as ``[N, 3, S, S]`` in
    ``input_range`` (default [-1, 1]; the test preprocessing; for validation)."""
    return torch.stack([load_image(f, image_size, input_range) for f in files])


def write_images(images: torch.Tensor, folder: str | os.PathLike,
                 input_range: InputRange = DEFAULT_RANGE) -> list[Path]:
    """Write images ``[N, 3, H, W]`` in ``input_range`` (default [-1, 1]) as ``00000.png``,
    ``00001.png``, ... into ``folder`` (created); returns the paths. For data held in memory
    (e.g. the synthetic set) that a stream should read."""
    from PIL import Image
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    signed = input_range.to_signed(images.detach().cpu())
    pixels = ((signed.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    paths = []
    for i, x in enumerate(pixels):
        path = folder / f"{i:05d}.png"
        Image.fromarray(x.permute(1, 2, 0).numpy()).save(path)
        paths.append(path)
    return paths

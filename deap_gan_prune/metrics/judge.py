"""An offline judge of translations, in the spirit of the FCN score: a small CNN classifier
trained on the REAL images of the two domains (A = 0, B = 1), then asked about translated ones.

No downloaded network is involved, so the measure works anywhere and on any data set; it says
how well a translation fools a classifier of the real domains, not how it looks to a person.

Scores (:func:`judge_scores`), each reported with its direction:

- ``judge_success``: share of translated images classified as the target domain (higher is
  better, in [0, 1]);
- ``judge_target_probability``: mean probability of the target domain (higher is better);
- ``judge_frechet``: Fréchet distance between the judge's penultimate features of the
  translated and of real target images (lower is better, 0 for identical statistics).
"""
from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..nets.frozen import borrowed

JUDGE_HIGHER_IS_BETTER = {"judge_success": True, "judge_target_probability": True,
                          "judge_frechet": False}
DOMAIN_LABELS = {"A": 0, "B": 1}


class Judge(nn.Module):
    """Four 3x3 stride-2 convs (``width``, 2, 4, 4 x ``width`` channels, LeakyReLU), global
    average pooling, a linear layer to one logit (domain B).

    Input: ``[N, 3, H, W]`` float in [-1, 1]; images are first resized (bilinear, antialiased)
    to ``image_size`` x ``image_size``, so the judge sees every input at the scale it was
    trained on. ``features``: ``[N, 4 * width]``; ``forward``: logits ``[N]``.
    """

    def __init__(self, in_channels: int = 3, width: int = 16, image_size: int = 64) -> None:
        super().__init__()
        if width < 1 or image_size < 16:
            raise ValueError(f"Judge: width must be >= 1 and image_size >= 16, got {width}, "
                             f"{image_size}")
        self.in_channels, self.width, self.image_size = in_channels, width, image_size
        chans = [in_channels, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(4 * width, 1)

    @property
    def n_features(self) -> int:
        return 4 * self.width

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"the judge takes images [N, {self.in_channels}, H, W], got "
                             f"{list(images.shape)}")
        param = self.head.weight
        images = images.to(device=param.device, dtype=param.dtype)
        if tuple(images.shape[-2:]) != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size),
                                   mode="bilinear", align_corners=False, antialias=True)
        return images

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[N, 4 * width]`` (pooled activations of the last conv)."""
        return self.body(self._prepare(images)).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)).squeeze(1)

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Probability of domain B for each image, ``[N]`` on the CPU (the judge has no
        dropout or batch norm, so train and eval mode agree)."""
        return torch.cat([torch.sigmoid(self(chunk)).cpu()
                          for chunk in images.split(batch_size)])


def _batched_features(judge: Judge, images: torch.Tensor, batch_size: int) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([judge.features(c).cpu() for c in images.split(batch_size)]
                         ).double().numpy()


@dataclass(frozen=True)
class JudgeConfig:
    """The judge's network and optimiser in :func:`train_judge`: ``batch_size`` images a
    step (half of each domain; at least 2), Adam at learning rate ``lr``, a :class:`Judge`
    of ``width`` channels that sees ``image_size`` x ``image_size`` pixels (None: the
    images' own size, at least 16)."""

    batch_size: int = 32
    lr: float = 2e-3
    width: int = 16
    image_size: int | None = None


def train_judge(images_a: torch.Tensor, images_b: torch.Tensor, steps: int = 200,
                seed: int = 0, *, config: JudgeConfig = JudgeConfig(),
                device: str | torch.device = "cpu", progress: bool = True) -> Judge:
    """Train a :class:`Judge` on real images of domain A (label 0) and B (label 1).

    ``images_a``, ``images_b``: ``[N, 3, H, W]`` float in [-1, 1] (square). Each of ``steps``
    steps draws ``config.batch_size / 2`` images of each domain (so unequal set sizes stay
    balanced) with random horizontal flips; Adam, binary cross-entropy (:class:`JudgeConfig`).
    Deterministic under ``seed`` on the CPU. Returned in eval mode.
    """
    batch_size = config.batch_size
    for name, x in (("images_a", images_a), ("images_b", images_b)):
        if x.dim() != 4 or len(x) < 1:
            raise ValueError(f"train_judge: {name} must be a non-empty [N, C, H, W] tensor, "
                             f"got shape {list(x.shape)}")
    if images_a.shape[1:] != images_b.shape[1:]:
        raise ValueError(f"train_judge: domains differ in shape {list(images_a.shape[1:])} vs "
                         f"{list(images_b.shape[1:])}")
    if steps < 1 or batch_size < 2:
        raise ValueError(f"train_judge: need steps >= 1 and batch_size >= 2, got {steps}, "
                         f"{batch_size}")
    size = config.image_size or max(16, int(images_a.shape[-1]))
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        judge = Judge(images_a.shape[1], config.width, size)
    judge = judge.to(device).train()
    optimiser = torch.optim.Adam(judge.parameters(), lr=config.lr)
    half = batch_size // 2
    labels = torch.cat([torch.zeros(half), torch.ones(half)]).to(device)
    for _ in tqdm(range(steps), desc="judge", disable=not progress, leave=False):
        ia = torch.randint(len(images_a), (half,), generator=gen)
        ib = torch.randint(len(images_b), (half,), generator=gen)
        batch = torch.cat([images_a[ia], images_b[ib]]).float()
        flip = torch.rand(len(batch), generator=gen) < 0.5
        batch[flip] = batch[flip].flip(-1)
        loss = F.binary_cross_entropy_with_logits(judge(batch.to(device)), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return judge.eval()


def judge_accuracy(judge: Judge, images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """Share of real images of both domains that the judge classifies correctly, in [0, 1]."""
    correct = (judge.predict_proba(images_a) < 0.5).sum() + (judge.predict_proba(images_b)
                                                             >= 0.5).sum()
    return float(correct) / (len(images_a) + len(images_b))


def frechet_distance(features_1: np.ndarray | torch.Tensor,
                     features_2: np.ndarray | torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N1, F]``, ``[N2, F]``:
    ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))`` (float64).

    The trace of the square root is computed without a non-symmetric matrix square root:
    ``tr((S1 S2)^(1/2)) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2)))``, a symmetric PSD matrix whose
    eigenvalues (clipped at 0) come from ``numpy.linalg.eigvalsh``. Needs N >= 2 per set.
    """
    f1 = np.asarray(features_1, dtype=np.float64)
    f2 = np.asarray(features_2, dtype=np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"frechet_distance: feature sets must be [N, F] with the same F, got "
                         f"{list(f1.shape)} and {list(f2.shape)}")
    if len(f1) < 2 or len(f2) < 2:
        raise ValueError("frechet_distance: each feature set needs at least 2 rows")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    s1, s2 = np.atleast_2d(s1), np.atleast_2d(s2)
    vals, vecs = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eig, 0, None)).sum()
    distance = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root)
    return max(distance, 0.0)


def _target_label(target_domain: str | int) -> int:
    if target_domain in DOMAIN_LABELS:
        return DOMAIN_LABELS[target_domain]
    if target_domain in (0, 1):
        return int(target_domain)
    raise ValueError(f"unknown target domain {target_domain!r}: use 'A' or 'B'")


def judge_scores(judge: Judge, translated: torch.Tensor, target_domain: str | int,
                 real_target: torch.Tensor, batch_size: int = 64) -> dict:
    """Judge translated images ``[N, 3, H, W]`` (in [-1, 1]) meant to look like
    ``target_domain`` ("A" or "B"), against real images of that domain ``[M, 3, H', W']``.

    Returns ``{"judge_success": .., "judge_target_probability": .., "judge_frechet": ..,
    "higher_is_better": {name: bool}}`` (see the module docstring; N, M >= 2 for the distance).
    The judge runs in eval mode and is given back in its own.
    """
    label = _target_label(target_domain)
    with borrowed(judge, training=False):
        p_b = judge.predict_proba(translated, batch_size).double()
        features = (_batched_features(judge, translated, batch_size),
                    _batched_features(judge, real_target, batch_size))
    p_target = p_b if label == 1 else 1.0 - p_b
    success = (p_b >= 0.5) if label == 1 else (p_b < 0.5)
    distance = frechet_distance(*features)
    return {"judge_success": float(success.double().mean()),
            "judge_target_probability": float(p_target.mean()),
            "judge_frechet": distance,
            "higher_is_better": dict(JUDGE_HIGHER_IS_BETTER)}


def save_judge(judge: Judge, path: str | os.PathLike) -> Path:
    """Write the judge's weights and configuration (tensors and ints only) to ``path``."""
    from ..files import atomic_write

    payload = {"kind": "Judge", "config": {"in_channels": judge.in_channels,
                                           "width": judge.width,
                                           "image_size": judge.image_size},
               "state_dict": {k: v.detach().cpu().clone() for k, v in
                              judge.state_dict().items()}}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return Path(path)


def load_judge(path: str | os.PathLike, device: str | torch.device = "cpu") -> Judge:
    """Read a judge written by :func:`save_judge` (``weights_only=True``); eval mode."""
    from ..nets.checkpoints import CheckpointError

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(path, f"not a readable judge file: {first[:120]}") from None
    if not isinstance(payload, dict) or payload.get("kind") != "Judge":
        raise CheckpointError(path, "not a judge file (written by save_judge)")
    judge = Judge(**payload["config"])
    try:
        judge.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(path, f"judge weights do not fit: {str(exc).splitlines()[0]}"
                              ) from None
    return judge.to(device).eval()

"""Settings and result of :func:`deap_gan_prune.training.distill.distill_generator`."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..streams import Augment
from .config import lr_factor

#: presets of :attr:`DistillLoss.feature_layers`
FEATURE_PRESETS = ("groups", "blocks")
FEATURE_MAPS = ("kept", "1x1")


@dataclass(frozen=True)
class DistillLoss:
    """The terms a student is distilled with, each weighted (0: off, not computed).

    ``l1``: ``|G(x) − T(x)|₁`` (pixel mean) to the original T's output. ``ssim``:
    ``1 − SSIM(G(x), T(x))`` on both mapped to [0, 1] (``data_range`` 1, Gaussian window of
    ``ssim_window`` pixels; with ``ms_ssim`` the multi-scale SSIM over 5 scales, which needs
    images larger than 16 × (``ssim_window`` − 1) pixels). ``gradient``: the L1 distance of
    the horizontal and vertical image gradients (finite differences, in [-1, 1] units), a
    high-frequency term. ``feature``: the mean squared distance of the student's activations
    to the original's at ``feature_layers`` (mean over layers): "groups" (the last normalised,
    or else convolved, output of every channel group of the mask space), "blocks" (the
    outputs of the network's own block modules, e.g. the residual stream of a ResNet) or a
    tuple of module names. ``feature_map`` "kept": the student's channels against the
    original's channels the mask kept (the slim network's channels are a known subset);
    "1x1": through a learned 1x1 convolution per layer (trained with the student,
    initialised to pick the kept channels when they are known)."""

    l1: float = 1.0
    ssim: float = 0.0
    ms_ssim: bool = False
    ssim_window: int = 11
    gradient: float = 0.0
    feature: float = 0.0
    feature_layers: str | tuple[str, ...] = "groups"
    feature_map: str = "kept"

    def __post_init__(self) -> None:
        if not isinstance(self.feature_layers, str):
            object.__setattr__(self, "feature_layers", tuple(self.feature_layers))
        layers = self.feature_layers
        checks = [
            ("l1", self.l1 >= 0, ">= 0"), ("ssim", self.ssim >= 0, ">= 0"),
            ("ssim_window", self.ssim_window >= 3 and self.ssim_window % 2 == 1,
             "an odd number >= 3"),
            ("gradient", self.gradient >= 0, ">= 0"), ("feature", self.feature >= 0, ">= 0"),
            ("feature_layers", layers in FEATURE_PRESETS if isinstance(layers, str) else
             bool(layers) and all(isinstance(n, str) and n for n in layers),
             f"{' or '.join(FEATURE_PRESETS)} or a list of module names"),
            ("feature_map", self.feature_map in FEATURE_MAPS, " or ".join(FEATURE_MAPS)),
        ]
        for name, ok, need in checks:
            if not ok:
                raise ValueError(f"DistillLoss: {name} must be {need}, got "
                                 f"{getattr(self, name)!r}")
        if self.l1 + self.ssim + self.gradient + self.feature <= 0:
            raise ValueError("DistillLoss: every weight is 0 (l1, ssim, gradient, feature); "
                             "give at least one term a weight")

    def to_dict(self) -> dict:
        """Plain JSON values (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))


@dataclass
class DistillConfig:
    """How a slim generator is fine-tuned toward its original.

    Data: ``val_images`` files of the training folder, chosen with ``seed``, are held out for
    validation (never trained on; 0: no validation); the rest are streamed with upstream
    augmentation (resize to ``load_size``, default 286/256 of ``image_size``, random crop of
    ``image_size`` pixels, random flip), ``batch_size`` crops a step, read by ``workers``
    processes (the batches do not depend on it).

    Loss: ``loss.l1`` × ``|G(x) − T(x)|₁`` (pixel mean) to the original T's output on the same
    crop (and the further terms of ``loss``), plus ``adversarial`` × LSGAN(D(G(x)), real) when
    ``adversarial`` > 0. The discriminator D (a PatchGAN) judges target-domain images as real;
    when none is given it is fitted first for ``disc_fit_steps`` against the frozen original
    (ndf ``disc_ndf``, ``disc_layers`` layers), and it keeps training during fine-tuning on real
    target images against the student's outputs through a pool of ``pool_size`` fakes unless
    ``train_discriminator`` is False. ``teacher_pool`` > 0: the first ``teacher_pool`` crops of
    the stream and T's outputs on them are computed once and every batch is drawn from them (no
    teacher forward during training, at the cost of holding 2 × ``teacher_pool`` images in
    memory).

    Schedule: Adam (``lr``, ``betas``); the learning rate stays at ``lr`` for the first
    ``decay_start`` share of ``steps`` and then falls linearly to 0 at ``steps`` (upstream
    CycleGAN's schedule; ``decay_start`` 1: constant), for the discriminator too; with
    ``warmup_steps`` > 0 it is also scaled by ``(step + 1) / warmup_steps`` over the first
    ``warmup_steps`` updates. ``ema`` > 0: an exponential moving average of the student's
    weights (decay ``min(ema, (1 + k) / (10 + k))`` at update ``k``; buffers copied) is kept,
    and it is what is validated, kept as best, checkpointed and returned.

    Terms (``loss``, :class:`DistillLoss`: L1 by default, and SSIM, image-gradient and
    feature terms) and further augmentation (``augment``, :class:`Augment`: scale and colour
    jitter, crops from several resolutions) are off by default.

    Validation: every ``val_every`` steps, at step 0 and at the end, the L1 and PSNR of the
    student to the original's output on the held-out whole images (resized to
    ``image_size``); with ``keep_best`` the student ends with the weights of the lowest
    validation L1 (the earliest on ties). ``checkpoint_every``: steps between checkpoints
    (and one at the end) when a checkpoint file is given.
    """

    steps: int = 1000
    batch_size: int = 4
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    decay_start: float = 0.5
    image_size: int = 256
    load_size: int | None = None
    val_images: int = 16
    val_every: int = 100
    keep_best: bool = True
    adversarial: float = 0.0
    disc_fit_steps: int = 500
    disc_ndf: int = 64
    disc_layers: int = 3
    train_discriminator: bool = True
    pool_size: int = 50
    teacher_pool: int = 0
    checkpoint_every: int = 100
    log_every: int = 10
    workers: int = 0
    seed: int = 0
    loss: DistillLoss = field(default_factory=DistillLoss)
    augment: Augment = field(default_factory=Augment)
    warmup_steps: int = 0
    ema: float = 0.0

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        if isinstance(self.loss, dict):
            self.loss = DistillLoss(**self.loss)
        if isinstance(self.augment, dict):
            self.augment = Augment(**self.augment)
        checks = [
            ("steps", self.steps >= 0, ">= 0"), ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"),
            ("betas", len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
             "two numbers in [0, 1)"),
            ("decay_start", 0 <= self.decay_start <= 1, "a fraction in [0, 1]"),
            ("image_size", self.image_size >= 1, ">= 1"),
            ("load_size", self.load_size is None or self.load_size >= self.image_size,
             "at least image_size"),
            ("val_images", self.val_images >= 0, ">= 0"),
            ("val_every", self.val_every >= 0, ">= 0"),
            ("adversarial", self.adversarial >= 0, ">= 0"),
            ("disc_fit_steps", self.disc_fit_steps >= 0, ">= 0"),
            ("pool_size", self.pool_size >= 0, ">= 0"),
            ("teacher_pool", self.teacher_pool >= 0, ">= 0"),
            ("checkpoint_every", self.checkpoint_every >= 1, ">= 1"),
            ("log_every", self.log_every >= 1, ">= 1"), ("workers", self.workers >= 0, ">= 0"),
            ("loss", isinstance(self.loss, DistillLoss), "a DistillLoss"),
            ("augment", isinstance(self.augment, Augment), "an Augment"),
            ("augment", not isinstance(self.augment, Augment) or all(
                v >= self.image_size for v in self.augment.load_sizes),
             "load sizes of at least image_size"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("ema", 0 <= self.ema < 1, "a decay in [0, 1)"),
        ]
        for name, ok, need in checks:
            if not ok:
                raise ValueError(f"DistillConfig: {name} must be {need}, got "
                                 f"{getattr(self, name)}")

    def lr_at(self, step: int) -> float:
        """Learning rate of the update with 0-based index ``step``."""
        lr = self.lr * lr_factor(step, self.steps, round(self.decay_start * self.steps))
        if step < self.warmup_steps:
            lr *= (step + 1) / self.warmup_steps
        return lr

    def settings(self) -> dict:
        """What a checkpoint must have been written with to be resumed (all but how often it
        is written, the logging and the number of reading processes; the terms, augmentation,
        warm-up and EMA only when not at their defaults, so a run without them has the
        settings it always had)."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        for key in ("checkpoint_every", "log_every", "workers"):
            d.pop(key)
        defaults = {"loss": DistillLoss(), "augment": Augment(), "warmup_steps": 0, "ema": 0.0}
        for key, default in defaults.items():
            if getattr(self, key) == default:
                d.pop(key)
        return json.loads(json.dumps(d))


@dataclass
class DistillResult:
    """What :func:`distill_generator` did. ``history``: ``step``, ``lr`` and the losses
    (``l1``, and ``ssim``, ``gradient``, ``feature``, ``adversarial``, ``D`` when used),
    averaged over each ``log_every`` steps; ``validation``: one ``{"step", "l1",
    "psnr_db"}`` per validation; ``best``: the entry of the lowest L1 (None without
    validation); ``train_files`` / ``val_files``: the split."""

    steps: int
    history: dict[str, list[float]] = field(default_factory=dict)
    validation: list[dict] = field(default_factory=list)
    best: dict | None = None
    train_files: list[str] = field(default_factory=list)
    val_files: list[str] = field(default_factory=list)
    resumed_from: int = 0

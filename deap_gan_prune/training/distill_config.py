"""Settings and result of :func:`deap_gan_prune.training.distill.distill_generator`."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..configs import setting, to_dict, validate
from ..streams import Augment
from .schedule import lr_factor

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
    initialised to pick the kept channels when they are known).

    The defaults (L1, 0.5 × SSIM, feature distillation on the kept channels of every group)
    are the recipe measured in ``benchmarks/distillation.py``; :meth:`l1_only` is upstream's
    pixel L1 alone."""

    l1: float = setting(1.0, "weight of the L1 distance to the original's output (default 1)",
                        within="[0, inf)", metavar="WEIGHT")
    ssim: float = setting(0.5, "weight of 1 - SSIM to the original's output (default 0.5)",
                          within="[0, inf)", metavar="WEIGHT")
    ms_ssim: bool = setting(False, "multi-scale SSIM for the SSIM term (images above 16 x "
                            "(ssim window - 1) px)")
    ssim_window: int = setting(11, "SSIM's Gaussian window, odd", within="[3, inf)", metavar="PX")
    gradient: float = setting(0.0, "weight of the L1 distance of image gradients (default 0)",
                              within="[0, inf)", metavar="WEIGHT")
    feature: float = setting(1.0, "weight of feature distillation at the feature layers "
                             "(default 1)", within="[0, inf)", metavar="WEIGHT")
    feature_layers: str | tuple[str, ...] = setting(
        "groups", "groups (every channel group's last output), blocks (the network's own "
        "blocks) or module names separated by commas", metavar="LAYERS")
    feature_map: str = setting(
        "kept", "the student's activations against the original's kept channels (needs the "
        "slim file's mask), or through learned 1x1 maps", choices=FEATURE_MAPS)

    def __post_init__(self) -> None:
        if not isinstance(self.feature_layers, str):
            object.__setattr__(self, "feature_layers", tuple(self.feature_layers))
        validate(self)
        layers = self.feature_layers
        if not (layers in FEATURE_PRESETS if isinstance(layers, str) else
                bool(layers) and all(layers)):
            raise ValueError(f"DistillLoss: feature_layers must be "
                             f"{' or '.join(FEATURE_PRESETS)} or a list of module names, got "
                             f"{layers!r}")
        if self.ssim_window % 2 == 0:
            raise ValueError(f"DistillLoss: ssim_window must be an odd number >= 3, got "
                             f"{self.ssim_window}")
        if self.l1 + self.ssim + self.gradient + self.feature <= 0:
            raise ValueError("DistillLoss: every weight is 0 (l1, ssim, gradient, feature); "
                             "give at least one term a weight")

    @classmethod
    def l1_only(cls) -> DistillLoss:
        """The L1 distance to the original's output pixels alone."""
        return cls(l1=1.0, ssim=0.0, gradient=0.0, feature=0.0)

    def to_dict(self) -> dict:
        """Plain JSON values (tuples as lists)."""
        return to_dict(self)


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
    memory, and with feature distillation the original's activations on the kept channels of
    the feature layers for each crop).

    Schedule: Adam (``lr``, ``betas``); the learning rate stays at ``lr`` for the first
    ``decay_start`` share of ``steps`` and then falls linearly to 0 at ``steps`` (upstream
    CycleGAN's schedule; ``decay_start`` 1: constant), for the discriminator too; with
    ``warmup_steps`` > 0 it is also scaled by ``(step + 1) / warmup_steps`` over the first
    ``warmup_steps`` updates. ``ema`` > 0: an exponential moving average of the student's
    weights (decay ``min(ema, (1 + k) / (10 + k))`` at update ``k``; buffers copied) is kept,
    and it is what is validated, kept as best, checkpointed and returned.

    Recipe: the defaults (``loss``: L1, SSIM and feature distillation; ``augment``: scale and
    colour jitter; ``lr`` 5e-4 with ``warmup_steps`` 200; ``ema`` 0.999) are the recipe
    ``benchmarks/distillation.py`` measured against upstream's; :meth:`upstream` is the L1
    recipe of upstream CycleGAN (lr 2e-4, no augmentation, warm-up or EMA).

    Validation: every ``val_every`` steps, at step 0 and at the end, the L1 and PSNR of the
    student to the original's output on the held-out whole images (resized to
    ``image_size``); with ``keep_best`` the student ends with the weights of the lowest
    validation L1 (the earliest on ties). ``checkpoint_every``: steps between checkpoints
    (and one at the end) when a checkpoint file is given.
    """

    steps: int = setting(1000, "optimiser updates", within="[0, inf)")
    batch_size: int = setting(4, "crops a step", within="[1, inf)")
    lr: float = setting(5e-4, "Adam's learning rate", within="(0, inf)")
    betas: tuple[float, float] = setting((0.5, 0.999), "Adam's betas", within="[0, 1)")
    decay_start: float = setting(
        0.5, "the learning rate is constant for this share of the steps, then falls linearly "
        "to 0 (default 0.5; 1: constant)", within="[0, 1]", metavar="SHARE")
    image_size: int = setting(256, "pixels of the crops", within="[1, inf)")
    load_size: int | None = setting(
        None, "pixels images are resized to before the random crop of image_size (default "
        "286/256 of image_size)", within="[1, inf)", metavar="PX")
    val_images: int = setting(
        16, "validation images: whole images held out of the training folder at random "
        "(seeded) and never trained on", within="[0, inf)")
    val_every: int = setting(100, "steps between validations", within="[0, inf)")
    keep_best: bool = setting(True, "end with the weights of the lowest validation L1")
    adversarial: float = setting(
        0.0, "weight of the GAN loss against a discriminator judging target-domain images "
        "(default 0: pure distillation)", within="[0, inf)", metavar="WEIGHT")
    disc_fit_steps: int = setting(500, "steps fitting that discriminator first when none is "
                                  "given", within="[0, inf)")
    disc_ndf: int = setting(64, "filters of that discriminator's first layer", within="[1, inf)")
    disc_layers: int = setting(3, "layers of that discriminator", within="[1, inf)")
    train_discriminator: bool = setting(True, "train the discriminator during fine-tuning")
    pool_size: int = setting(50, "fakes in the discriminator's pool", within="[0, inf)")
    teacher_pool: int = setting(
        0, "compute the original's outputs once for N crops and train on them only (default "
        "0: the original runs at every step)", within="[0, inf)", metavar="N")
    checkpoint_every: int = setting(100, "steps between checkpoints", within="[1, inf)")
    log_every: int = setting(10, "steps per history entry", within="[1, inf)")
    workers: int = setting(0, "processes reading images (default 0: in this process)",
                           within="[0, inf)")
    seed: int = setting(0, "random seed")
    loss: DistillLoss = setting(DistillLoss, "the distillation terms")  # noqa: RUF009
    augment: Augment = setting(Augment, "further augmentation")  # noqa: RUF009
    warmup_steps: int = setting(200, "the learning rate rises linearly over the first N steps",
                                within="[0, inf)", metavar="N")
    ema: float = setting(0.999, "validate, keep and write a moving average of the weights "
                         "with this decay (0: off)", within="[0, 1)", metavar="DECAY")

    def __post_init__(self) -> None:
        if isinstance(self.loss, dict):
            self.loss = DistillLoss(**self.loss)
        if isinstance(self.augment, dict):
            self.augment = Augment(**self.augment)
        validate(self)
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        if self.load_size is not None and self.load_size < self.image_size:
            raise ValueError(f"DistillConfig: load_size must be at least image_size, got "
                             f"{self.load_size}")
        if any(v < self.image_size for v in self.augment.load_sizes):
            raise ValueError(f"DistillConfig: augment must be an Augment with load sizes of "
                             f"at least image_size, got {list(self.augment.load_sizes)}")

    def lr_at(self, step: int) -> float:
        """Learning rate of the update with 0-based index ``step``."""
        lr = self.lr * lr_factor(step, self.steps, round(self.decay_start * self.steps))
        if step < self.warmup_steps:
            lr *= (step + 1) / self.warmup_steps
        return lr

    @staticmethod
    def _upstream_terms() -> dict[str, Any]:
        """The fields upstream's recipe leaves out, at the values that leave them out."""
        return {"loss": DistillLoss.l1_only(), "augment": Augment.off(), "warmup_steps": 0,
                "ema": 0.0}

    @classmethod
    def upstream(cls, **changes: Any) -> DistillConfig:
        """Upstream CycleGAN's recipe: L1 to the output pixels alone, lr 2e-4, no
        augmentation beyond crop and flip, no warm-up, no EMA (``changes``: other fields)."""
        return cls(**{**cls._upstream_terms(), "lr": 2e-4, **changes})

    def settings(self) -> dict:
        """What a checkpoint must have been written with to be resumed (all but how often it
        is written, the logging and the number of reading processes; the terms, augmentation,
        warm-up and EMA only where they differ from :meth:`upstream`'s, so an upstream run has
        the settings it always had)."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        for key in ("checkpoint_every", "log_every", "workers"):
            d.pop(key)
        for key, value in self._upstream_terms().items():
            if getattr(self, key) == value:
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

"""Settings and result of :func:`deap_gan_prune.training.distill.distill_generator`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .config import lr_factor


@dataclass
class DistillConfig:
    """How a slim generator is fine-tuned toward its original.

    Data: ``val_images`` files of the training folder, chosen with ``seed``, are held out for
    validation (never trained on; 0: no validation); the rest are streamed with upstream
    augmentation (resize to ``load_size``, default 286/256 of ``image_size``, random crop of
    ``image_size`` pixels, random flip), ``batch_size`` crops a step, read by ``workers``
    processes (the batches do not depend on it).

    Loss: ``|G(x) − T(x)|₁`` (pixel mean) to the original T's output on the same crop, plus
    ``adversarial`` × LSGAN(D(G(x)), real) when ``adversarial`` > 0. The discriminator D
    (a PatchGAN) judges target-domain images as real; when none is given it is fitted first
    for ``disc_fit_steps`` against the frozen original (ndf ``disc_ndf``, ``disc_layers``
    layers), and it keeps training during fine-tuning on real target images against the
    student's outputs through a pool of ``pool_size`` fakes unless ``train_discriminator``
    is False. ``teacher_pool`` > 0: the first ``teacher_pool`` crops of the stream and T's
    outputs on them are computed once and every batch is drawn from them (no teacher forward
    during training, at the cost of holding 2 × ``teacher_pool`` images in memory).

    Schedule: Adam (``lr``, ``betas``); the learning rate stays at ``lr`` for the first
    ``decay_start`` share of ``steps`` and then falls linearly to 0 at ``steps`` (upstream
    CycleGAN's schedule; ``decay_start`` 1: constant), for the discriminator too.

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

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
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
        ]
        for name, ok, need in checks:
            if not ok:
                raise ValueError(f"DistillConfig: {name} must be {need}, got "
                                 f"{getattr(self, name)}")

    def lr_at(self, step: int) -> float:
        """Learning rate of the update with 0-based index ``step``."""
        return self.lr * lr_factor(step, self.steps, int(round(self.decay_start * self.steps)))

    def settings(self) -> dict:
        """What a checkpoint must have been written with to be resumed (all but how often it
        is written, the logging and the number of reading processes)."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        for key in ("checkpoint_every", "log_every", "workers"):
            d.pop(key)
        return d


@dataclass
class DistillResult:
    """What :func:`distill_generator` did. ``history``: ``step``, ``lr`` and the losses
    (``l1``, and ``adversarial``, ``D`` when used), averaged over each ``log_every`` steps;
    ``validation``: one ``{"step", "l1", "psnr_db"}`` per validation; ``best``: the entry
    of the lowest L1 (None without validation); ``train_files`` / ``val_files``: the split."""

    steps: int
    history: dict[str, list[float]] = field(default_factory=dict)
    validation: list[dict] = field(default_factory=list)
    best: dict | None = None
    train_files: list[str] = field(default_factory=list)
    val_files: list[str] = field(default_factory=list)
    resumed_from: int = 0

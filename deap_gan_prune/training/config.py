"""Training settings of a CycleGAN (upstream defaults)."""
from __future__ import annotations

from dataclasses import dataclass

from ..configs import setting, to_dict, validate
from .distill_config import DistillLoss
from .schedule import lr_factor

#: fields that say how often a run checkpoints and validates, and the distillation terms:
#: not part of the settings list a fine-tuning checkpoint records under these names
LOOP_FIELDS = ("checkpoint_every", "val_every", "keep_best", "distill")


@dataclass
class CycleGANConfig:
    """Settings of :func:`train_cyclegan`, :func:`finetune` and :func:`fit_discriminator`.

    Defaults follow upstream CycleGAN: LSGAN loss, cycle weight 10, identity weight 0.5 (times
    the cycle weight), a pool of 50 fakes, Adam lr 2e-4 with beta1 0.5, a constant learning rate
    for the first ``decay_start`` share of ``steps`` and then a linear decay to 0.

    ``steps``: optimiser updates (one per batch; the loader is cycled until done).
    ``batch_size``: informative for recipes that build a loader; the loop takes the batches
    as the loader yields them. ``log_every``: steps per history entry (losses are averaged
    over those steps). Where the networks run is the run's options
    (:class:`~deap_gan_prune.runoptions.RunOptions`), not a setting.

    Fine-tuning only (:func:`finetune`): ``distill_weight`` w > 0 adds w times the distance to
    the teacher's outputs, measured by ``distill`` (a :class:`~.distill_config.DistillLoss`:
    by default L1, SSIM and feature distillation on the kept channels, which needs the masks
    the slim generators were cut with; ``DistillLoss.l1_only()`` or None: the L1 distance
    alone); ``freeze_discriminators`` keeps the discriminators as they are.
    ``val_every``: steps between validations (0: at step 0 and the end only, when a validation
    is given); with ``keep_best`` the generators end with the best validated weights.
    ``checkpoint_every``: steps between checkpoints (the state file, the network files), one
    at the end too (0: at the end only).
    """

    steps: int = setting(1000, "optimiser updates", within="[1, inf)")
    lr: float = setting(2e-4, "Adam's learning rate", within="(0, inf)")
    betas: tuple[float, float] = setting((0.5, 0.999), "Adam's betas", within="[0, 1)")
    lambda_cycle: float = setting(10.0, "cycle-consistency weight", within="[0, inf)")
    lambda_identity: float = setting(0.5, "identity weight, times lambda_cycle", within="[0, inf)")
    pool_size: int = setting(50, "fakes in each discriminator's pool", within="[0, inf)")
    decay_start: float = setting(0.5, "share of steps at the base learning rate", within="[0, 1]")
    batch_size: int = setting(1, "images a step", within="[1, inf)")
    distill_weight: float = setting(0.0, "weight of the distance to the teacher's outputs",
                                    within="[0, inf)")
    freeze_discriminators: bool = setting(False, "keep the discriminators as they are")
    log_every: int = setting(10, "steps per history entry", within="[1, inf)")
    seed: int = setting(0, "random seed")
    checkpoint_every: int = setting(0, "steps between checkpoints (0: at the end only)",
                                    within="[0, inf)")
    val_every: int = setting(0, "steps between validations", within="[0, inf)")
    keep_best: bool = setting(True, "end with the best validated weights")
    distill: DistillLoss | None = setting(  # noqa: RUF009
        DistillLoss, "the distillation terms (None: L1)")

    def __post_init__(self) -> None:
        if isinstance(self.distill, dict):
            self.distill = DistillLoss(**self.distill)
        validate(self)
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]

    @property
    def decay_start_step(self) -> int:
        """First step (0-based) whose learning rate is below the base rate's plateau."""
        return round(self.decay_start * self.steps)

    def lr_at(self, step: int) -> float:
        """Learning rate used for the update with 0-based index ``step`` (0 at ``steps``)."""
        return self.lr * lr_factor(step, self.steps, self.decay_start_step)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the settings (tuples as lists)."""
        return to_dict(self)

    def settings(self) -> dict:
        """The settings a fine-tuning checkpoint records first (all but :data:`LOOP_FIELDS`,
        in field order)."""
        return {k: v for k, v in self.to_dict().items() if k not in LOOP_FIELDS}

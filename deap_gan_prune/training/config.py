"""Training settings of a CycleGAN (upstream defaults) and the learning-rate schedule."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class CycleGANConfig:
    """Settings of :func:`train_cyclegan`, :func:`finetune` and :func:`fit_discriminator`.

    Defaults follow upstream CycleGAN: LSGAN loss, cycle weight 10, identity weight 0.5 (times
    the cycle weight), a pool of 50 fakes, Adam lr 2e-4 with beta1 0.5, a constant learning rate
    for the first ``decay_start`` share of ``steps`` and then a linear decay to 0.

    ``steps``: optimiser updates (one per batch; the loader is cycled until done).
    ``batch_size``: informative for recipes that build a loader; the loop takes the batches
    as the loader yields them. ``log_every``: steps per history entry (losses are averaged
    over those steps). ``device``: where models and batches live ("cpu", "cuda", ...).
    """

    steps: int = 1000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    decay_start: float = 0.5
    batch_size: int = 1
    distill_weight: float = 0.0
    freeze_discriminators: bool = False
    log_every: int = 10
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
             f"betas must be two numbers in [0, 1), got {self.betas}"),
            (self.lambda_cycle >= 0, f"lambda_cycle must be >= 0, got {self.lambda_cycle}"),
            (self.lambda_identity >= 0,
             f"lambda_identity must be >= 0, got {self.lambda_identity}"),
            (self.pool_size >= 0, f"pool_size must be >= 0, got {self.pool_size}"),
            (0.0 <= self.decay_start <= 1.0,
             f"decay_start must be a fraction in [0, 1], got {self.decay_start}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.distill_weight >= 0, f"distill_weight must be >= 0, got {self.distill_weight}"),
            (self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"CycleGANConfig: {message}")

    @property
    def decay_start_step(self) -> int:
        """First step (0-based) whose learning rate is below the base rate's plateau."""
        return round(self.decay_start * self.steps)

    def lr_at(self, step: int) -> float:
        """Learning rate used for the update with 0-based index ``step`` (0 at ``steps``)."""
        return self.lr * lr_factor(step, self.steps, self.decay_start_step)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the settings."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


def lr_factor(step: int, steps: int, decay_start_step: int) -> float:
    """Multiplier of the base learning rate at 0-based update ``step``.

    1 for ``step <= decay_start_step``, then linear down to exactly 0 at ``step == steps``
    (so the last update, ``steps - 1``, uses ``1 / (steps - decay_start_step)``).
    """
    if steps <= decay_start_step:
        return 1.0 if step < steps else 0.0
    return max(0.0, min(1.0, (steps - step) / (steps - decay_start_step)))

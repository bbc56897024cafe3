"""The learning-rate schedule of upstream CycleGAN: constant, then linear down to 0."""
from __future__ import annotations


def lr_factor(step: int, steps: int, decay_start_step: int) -> float:
    """Multiplier of the base learning rate at 0-based update ``step``.

    1 for ``step <= decay_start_step``, then linear down to exactly 0 at ``step == steps``
    (so the last update, ``steps - 1``, uses ``1 / (steps - decay_start_step)``).
    """
    if steps <= decay_start_step:
        return 1.0 if step < steps else 0.0
    return max(0.0, min(1.0, (steps - step) / (steps - decay_start_step)))

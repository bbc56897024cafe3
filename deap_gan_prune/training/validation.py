"""Validation of a fine-tuned generator against its original on held-out images."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..imagerange import DEFAULT_RANGE, InputRange

#: PSNR of identical images is infinite; it is reported as this many dB (as the metrics do).
PSNR_CAP_DB = 100.0


def _eval_outputs(generator: nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``generator``'s outputs on ``images`` in eval mode (its mode is restored after)."""
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            return torch.cat([generator(images[i:i + batch_size])
                              for i in range(0, images.shape[0], batch_size)])
    finally:
        generator.train(was_training)


class ValidationSet:
    """Held-out ``images`` ``[N, C, H, W]`` in ``input_range`` (default [-1, 1]) and the
    original's outputs on them.

    Calling it with a generator returns ``{"l1": float, "psnr_db": float}``: the mean absolute
    difference (pixels in [-1, 1], whatever the range) and the mean over images of the PSNR
    (images mapped to [0, 1], capped at :data:`PSNR_CAP_DB`) of the generator's outputs to the
    original's.
    Generators run in eval mode, ``batch_size`` images at a time, on the device of their
    first parameter."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, batch_size: int = 8,
                 input_range: InputRange = DEFAULT_RANGE) -> None:
        if images.dim() != 4 or images.shape[0] == 0 or targets.shape[0] != images.shape[0]:
            raise ValueError(f"ValidationSet: need non-empty [N, C, H, W] images and as many "
                             f"targets, got {tuple(images.shape)} and {tuple(targets.shape)}")
        self.images, self.targets, self.batch_size = images, targets, int(batch_size)
        self.input_range = input_range

    @classmethod
    def from_original(cls, original: nn.Module, images: torch.Tensor,
                      batch_size: int = 8,
                      input_range: InputRange = DEFAULT_RANGE) -> ValidationSet:
        """Targets computed once by ``original`` (eval mode, on ``images``' device)."""
        return cls(images, _eval_outputs(original, images, batch_size), batch_size,
                   input_range)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __call__(self, generator: nn.Module) -> dict[str, float]:
        device = next(generator.parameters()).device
        out = _eval_outputs(generator, self.images.to(device), self.batch_size)
        signed = self.input_range.to_signed
        diff = (signed(out) - signed(self.targets.to(device))).double()
        mse01 = diff.pow(2).flatten(1).mean(1) / 4.0  # [-1, 1] -> [0, 1] halves differences
        psnr = [PSNR_CAP_DB if m <= 10 ** (-PSNR_CAP_DB / 10)
                else min(PSNR_CAP_DB, -10.0 * math.log10(m)) for m in mse01.tolist()]
        return {"l1": float(diff.abs().mean()), "psnr_db": sum(psnr) / len(psnr)}


class PairValidation:
    """Validation of a pair (G_A: A→B, G_B: B→A) against the original pair on held-out
    images of A and of B: ``{"l1", "psnr_db"}`` are the means of the two directions'
    (:class:`ValidationSet`), ``l1_A``/``psnr_db_A``/``l1_B``/``psnr_db_B`` each one's."""

    def __init__(self, original_a: nn.Module, original_b: nn.Module, images_a: torch.Tensor,
                 images_b: torch.Tensor, batch_size: int = 8,
                 input_range: InputRange = DEFAULT_RANGE) -> None:
        self.sets = {"A": ValidationSet.from_original(original_a, images_a, batch_size,
                                                      input_range),
                     "B": ValidationSet.from_original(original_b, images_b, batch_size,
                                                      input_range)}

    def __call__(self, g_a: nn.Module, g_b: nn.Module) -> dict[str, float]:
        scores = {"A": self.sets["A"](g_a), "B": self.sets["B"](g_b)}
        out = {k: (scores["A"][k] + scores["B"][k]) / 2 for k in ("l1", "psnr_db")}
        for side, s in scores.items():
            out.update({f"{k}_{side}": v for k, v in s.items()})
        return out

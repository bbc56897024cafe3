"""The supernet fitness: a mask scored on once-for-all weights, with no adaptation.

After :func:`deap_gan_prune.training.supernet.train_supernet`, every sub-network of the
supernet S already works, so a mask p is scored on ``Ĝ_p = slim(S, p, space)`` as it is
(about as cheap as the paper's F), against the ORIGINAL generator G on held-out images::

    S_p = 1/m Σ |G(x_i) − Ĝ_p(x_i)|₁          (score="l1", pixel mean)
        | 1 − 1/m Σ SSIM(Ĝ_p(x_i), G(x_i))    (score="ssim")
    F   = 1 / (S_p + γ·size(Ĝ_p)/size(G))

The winner of a search on it is slimmed from the supernet's weights, ``slim(S, mask,
space)``, then fine-tuned as usual. The baselines of the same starting point are slimmed from
the supernet too::

    from deap_gan_prune.core.baselines import uniform_mask
    from deap_gan_prune.nets.baselines import l1_norm_mask
    uniform = slim(supernet, uniform_mask(space, 0.125), space)
    l1 = slim(supernet, l1_norm_mask(supernet, space, 0.125), space)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from ..core.maskspace import MaskSpace
from ..metrics.fidelity import fidelity_scores
from ..nets.frozen import frozen_copy
from ..nets.slimming import slim
from .base import WORST_FITNESS, MaskFitness, Scoring

SupernetScore = Literal["l1", "ssim"]


class SupernetFitness(MaskFitness):
    """``fitness(individual, partner=None) -> (F,)`` of masks scored on a supernet's weights
    (see the module docstring); higher is better. ``terms`` gives ``fitness``, ``loss``,
    ``score`` and ``size``.

    Args:
        supernet: the once-for-all generator S (copied and frozen); same widths as
            ``original``.
        space: the mask space of both.
        images: held-out images of G's source domain ``[m, C, H, W]`` in
            ``scoring.input_range``.
        scoring: γ, the size measure, images per forward pass, device (:class:`Scoring`).
        original: the original generator G whose outputs are the reference (copied, frozen).
        score: ``"l1"`` or ``"ssim"``.
    """

    _caches = ("_reference",)

    def __init__(self, supernet: nn.Module, space: MaskSpace, images: torch.Tensor,
                 scoring: Scoring | None = None, *, original: nn.Module,
                 score: SupernetScore = "l1") -> None:
        if score not in ("l1", "ssim"):
            raise ValueError(f"unknown supernet score {score!r}: use 'l1' or 'ssim'")
        if not space.matches(original):
            raise ValueError("the mask space was built for other convs or widths than the "
                             "original's")
        if getattr(supernet, "widths", None) != getattr(original, "widths", None) or \
                type(supernet) is not type(original):
            raise ValueError("the supernet is not of the original generator's class and "
                             "widths")
        super().__init__(supernet, space, images, scoring or Scoring())
        self.original = frozen_copy(original, self.device)
        self.score = score

    @torch.no_grad()
    def _run(self, network: nn.Module, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([network(x) for x in images.split(self.batch_size)])

    def reference(self) -> torch.Tensor:
        """The original's outputs on the held-out images (cached), ``[m, C, H, W]``."""
        if self._reference is None:
            self._reference = self._run(self.original, self.images)
        return self._reference

    def network(self, bits: Sequence[int]) -> nn.Module:
        """The slim network of ``bits`` with the supernet's kept weights (eval mode)."""
        return slim(self.generator, tuple(bits), self.space).eval()

    def _nan_terms(self) -> dict[str, float]:
        return {"score": float("nan")}

    def _compute(self, bits: tuple[int, ...],
                 partner: tuple[int, ...] | None) -> dict:  # noqa: ARG002 (MaskFitness's)
        fake, ref = self._run(self.network(bits), self.images), self.reference()
        if self.score == "l1":
            score = float((fake - ref).abs().mean().item())
        else:
            score = 1.0 - fidelity_scores(fake, ref, self.input_range)["ssim"]
        size = self._size(bits)
        loss = score + self.gamma * size
        fitness = 1.0 / loss if loss > 0 and math.isfinite(loss) else WORST_FITNESS
        return {"fitness": float(fitness), "loss": float(loss), "score": float(score),
                "size_ratio": size}

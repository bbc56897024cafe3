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

    from deap_gan_prune.nets.baselines import l1_norm_mask, uniform_mask
    uniform = slim(supernet, space.slot_masks(uniform_mask(space, 0.125)))
    l1 = slim(supernet, space.slot_masks(l1_norm_mask(supernet, space, 0.125)))
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from ..imagerange import DEFAULT_RANGE, InputRange
from ..metrics.fidelity import fidelity_scores
from ..nets.frozen import frozen_copy
from ..nets.maskspace import MaskSpace, SizeMeasure, space_of
from ..nets.slimming import slim
from .base import WORST_FITNESS, MaskFitness, check_images

SupernetScore = Literal["l1", "ssim"]


class SupernetFitness(MaskFitness):
    """``fitness(individual, partner=None) -> (F,)`` of masks scored on a supernet's weights
    (see the module docstring); higher is better. ``terms`` gives ``fitness``, ``loss``,
    ``score`` and ``size``.

    Args:
        supernet: the once-for-all generator S (copied and frozen); same widths as
            ``original``.
        original: the original generator G whose outputs are the reference (copied, frozen).
        images: held-out images of G's source domain ``[m, C, H, W]`` in [-1, 1].
        space: the mask space of both.
        score: ``"l1"`` or ``"ssim"``. gamma: γ; size_measure: ``"parameters"`` or ``"macs"``.
        batch_size: images per forward pass. device: where it runs.
    """

    _caches = ("_reference",)

    def __init__(self, supernet: nn.Module, original: nn.Module, images: torch.Tensor,
                 space: MaskSpace, *, score: SupernetScore = "l1", gamma: float = 0.0,
                 size_measure: SizeMeasure = "parameters", batch_size: int = 16,
                 device: str | torch.device = "cpu", memo_size: int = 4096,
                 input_range: InputRange = DEFAULT_RANGE) -> None:
        if score not in ("l1", "ssim"):
            raise ValueError(f"unknown supernet score {score!r}: use 'l1' or 'ssim'")
        check_images(images, "images")
        if not space.matches(original):
            raise ValueError("the mask space was built for other convs or widths than the "
                             "original's")
        super().__init__(supernet, space, gamma=gamma, size_measure=size_measure,
                         device=device, memo_size=memo_size)
        self.original = frozen_copy(original, self.device)
        self.images = images.detach().to(self.device)
        self.score, self.batch_size, self.input_range = score, batch_size, input_range

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


def supernet_fitnesses(supernets: tuple[nn.Module, nn.Module], originals: tuple[nn.Module,
                       nn.Module], images_a: torch.Tensor, images_b: torch.Tensor, *,
                       space_a: MaskSpace | None = None, space_b: MaskSpace | None = None,
                       **options: Any) -> tuple[SupernetFitness, SupernetFitness]:
    """The two supernet fitnesses of a CycleGAN: S_A against G_A on held-out domain-A images,
    S_B against G_B on domain-B images; ``options`` go to both (score, γ, device, …)."""
    for s, g, name in zip(supernets, originals, "AB"):
        if getattr(s, "widths", None) != getattr(g, "widths", None) or type(s) is not type(g):
            raise ValueError(f"supernet {name} is not of the original G_{name}'s class and "
                             "widths")
    space_a = space_a or space_of(originals[0], images_a)
    space_b = space_b or space_of(originals[1], images_b)
    return (SupernetFitness(supernets[0], originals[0], images_a, space_a, **options),
            SupernetFitness(supernets[1], originals[1], images_b, space_b, **options))

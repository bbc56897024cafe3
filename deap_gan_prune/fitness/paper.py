"""The torch fitness adapter: scores a channel mask of one generator (Shu et al., ICCV 2019).

For a mask p of generator G (source-domain validation images x_i, i = 1..m), with the frozen
original discriminator D of G's target domain and the partner generator's mask q::

    L_dis = 1/m Σ ||D(G(x_i)) − D(Ĝ_p(x_i))||²       (perceptual="discriminator", the paper's)
    L_gen = 1/m Σ ||G(x_i) − Ĝ_p(x_i)||²             (perceptual="pixel", the alternative)
    L_cyc = 1/m Σ ||Ĝ'_q(Ĝ_p(x_i)) − x_i||₁          (only when a partner mask is given)
    N     = size(Ĝ_p) / size(G)                      (parameters, or MACs)
    F     = 1 / (L_perc + λ·L_cyc + γ·N)

Squared and absolute norms are averaged over elements (not summed), so the terms do not grow
with the image size. ``perceptual="features"`` compares D's intermediate activations as well:
the mean over D's layers of ``MSE(feature) / mean(original feature²)``.

What does not depend on the individual (G's outputs, D's responses to them) is computed once.
The fitness does not know how it is distributed: it is a picklable callable that returns a
tuple of Python floats, for any ``toolbox.map``.
"""
from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import torch
from torch import nn

from ..core.maskspace import MaskSpace
from ..nets.frozen import frozen_copy
from ..nets.models import NLayerDiscriminator
from ..nets.slimming import masked, slim
from .base import WORST_FITNESS, MaskFitness, Partner, Scoring

Perceptual = Literal["discriminator", "features", "pixel"]


class GeneratorFitness(MaskFitness):
    """The paper's fitness of masks of one generator, ``fitness(individual, partner=None)
    -> (F,)``, scored on the pruned network as it is (no training).

    Args:
        generator: the original generator G (copied and frozen; the caller's is untouched).
        space: the mask space of ``generator``.
        images: validation images of G's *source* domain, ``[m, C, H, W]`` in [-1, 1].
        scoring: γ (default 1), the size measure of N, images per forward pass, device and
            memo size (:class:`Scoring`).
        discriminator: the original discriminator of G's *target* domain (may be ``None`` with
            ``perceptual="pixel"``).
        perceptual: ``"discriminator"`` (the paper's), ``"features"`` or ``"pixel"``.
        partner: the other generator (target → source), its mask space and λ, the cycle
            weight (10 in the paper; :class:`Partner`); without it no cycle term.
        prepare: optional ``prepare(slim_generator) -> generator`` applied before scoring, e.g.
            the paper's short per-candidate training (off by default: expensive).
    """

    _caches = ("_reference", "_partners")

    def __init__(self, generator: nn.Module, space: MaskSpace, images: torch.Tensor,
                 scoring: Scoring | None = None, *, discriminator: nn.Module | None = None,
                 perceptual: Perceptual = "discriminator", partner: Partner | None = None,
                 prepare: Callable[[nn.Module], nn.Module] | None = None) -> None:
        if perceptual not in ("discriminator", "features", "pixel"):
            raise ValueError(f"unknown perceptual loss {perceptual!r}: use 'discriminator', "
                             "'features' or 'pixel'")
        if discriminator is None and perceptual != "pixel":
            raise ValueError(f"perceptual={perceptual!r} needs a discriminator")
        super().__init__(generator, space, images, scoring or Scoring(gamma=1.0), partner)
        self.discriminator = frozen_copy(discriminator, self.device)
        self.perceptual, self.prepare = perceptual, prepare

    # -- what does not depend on the individual ------------------------------------------
    def _batches(self):
        for start in range(0, self.images.shape[0], self.batch_size):
            yield self.images[start:start + self.batch_size]

    def _judge(self, images: torch.Tensor) -> torch.Tensor | list[torch.Tensor] | None:
        if self.discriminator is None:
            return None
        if self.perceptual == "features":
            return cast(NLayerDiscriminator, self.discriminator).features(images)
        return self.discriminator(images)

    @torch.inference_mode()
    def reference(self) -> list[dict]:
        """Per batch: the original generator's output and D's response to it (cached)."""
        if self._reference is None:
            self._reference = []
            for x in self._batches():
                fake = self.generator(x)
                self._reference.append({"fake": fake, "judged": self._judge(fake)})
        return self._reference

    # -- per individual ------------------------------------------------------------------
    def _partner(self, partner: Sequence[int]) -> nn.Module:
        if self._partners is None:
            self._partners = OrderedDict()
        key = tuple(int(b) for b in partner)
        if key not in self._partners:
            if self.partner_generator is None:
                raise ValueError("a partner mask was given but no partner_generator")
            self._partners[key] = slim(self.partner_generator, key,
                                       self.partner_space).eval()
            while len(self._partners) > 4:
                self._partners.popitem(last=False)
        return self._partners[key]

    def _perceptual(self, judged: Any, ref_judged: Any) -> torch.Tensor:
        if self.perceptual == "features":
            return torch.stack([(f - r).pow(2).mean() / r.pow(2).mean().clamp_min(1e-12)
                                for f, r in zip(judged, ref_judged)]).mean()
        return (judged - ref_judged).pow(2).mean()

    def _nan_terms(self) -> dict[str, float]:
        nan = float("nan")
        return {"perceptual": nan, "l_dis": nan, "l_gen": nan, "l_cyc": nan}

    def _network_for(self, bits: Sequence[int]) -> contextlib.AbstractContextManager[nn.Module]:
        """The pruned generator as a callable: the physically slim network (a masked forward
        when almost nothing is pruned, which avoids copying weights); with ``prepare``, the
        slim network trained by it first."""
        if self.prepare is None and sum(bits) > 0.95 * len(bits):
            return masked(self.generator, bits, self.space)
        if self.prepare is None:
            return contextlib.nullcontext(slim(self.generator, bits, self.space).eval())
        small = self.prepare(slim(self.generator, bits, self.space))
        for p in small.parameters():
            p.requires_grad_(False)
        return contextlib.nullcontext(small.eval())

    def terms(self, individual: Sequence[int], partner: Sequence[int] | None = None
              ) -> dict[str, float]:
        """Every term of the fitness as Python floats: ``fitness``, ``loss`` (the denominator),
        ``perceptual`` (the term used), ``l_dis``, ``l_gen``, ``l_cyc`` (0 without partner or
        with λ = 0), ``size_ratio`` (N/N₀)."""
        return super().terms(individual, partner)

    def _compute(self, bits: tuple[int, ...], partner: tuple[int, ...] | None) -> dict:
        reference = self.reference()
        partner_net = self._partner(partner) if partner is not None else None
        l_dis = l_gen = l_cyc = 0.0
        m = self.images.shape[0]
        with self._network_for(bits) as net, torch.inference_mode():
            for x, ref in zip(self._batches(), reference):
                n = x.shape[0] / m
                fake = net(x)
                l_gen += n * (fake - ref["fake"]).pow(2).mean().item()
                if self.discriminator is not None:
                    l_dis += n * self._perceptual(self._judge(fake), ref["judged"]).item()
                if partner_net is not None:
                    l_cyc += n * (partner_net(fake) - x).abs().mean().item()
        size = self._size(bits)
        perceptual = l_gen if self.perceptual == "pixel" else l_dis
        loss = perceptual + self.lambda_cycle * l_cyc + self.gamma * size
        fitness = 1.0 / loss if loss > 0 and math.isfinite(loss) else WORST_FITNESS
        return {"fitness": float(fitness), "loss": float(loss), "perceptual": float(perceptual),
                "l_dis": float(l_dis) if self.discriminator is not None else float("nan"),
                "l_gen": float(l_gen), "l_cyc": float(l_cyc), "size_ratio": size}

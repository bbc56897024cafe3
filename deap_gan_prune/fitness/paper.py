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

from ..nets.frozen import frozen_copy
from ..nets.maskspace import MaskSpace, SizeMeasure, space_of
from ..nets.models import NLayerDiscriminator
from ..nets.slimming import masked, slim
from .base import (  # noqa: F401 (re-exported)
    WORST_FITNESS,
    InvalidMaskWarning,
    MaskFitness,
    check_images,
)

Perceptual = Literal["discriminator", "features", "pixel"]


class GeneratorFitness(MaskFitness):
    """The paper's fitness of masks of one generator, ``fitness(individual, partner=None)
    -> (F,)``, scored on the pruned network as it is (no training).

    Args:
        generator: the original generator G (copied and frozen; the caller's is untouched).
        discriminator: the original discriminator of G's *target* domain (may be ``None`` with
            ``perceptual="pixel"``).
        images: validation images of G's *source* domain, ``[m, C, H, W]`` in [-1, 1].
        space: the mask space of ``generator``.
        partner_generator / partner_space: the other generator (target → source) and its mask
            space, for the cycle term; without them no cycle term is possible.
        lambda_cycle: λ, the cycle weight (10 in the paper; 0 ignores the partner).
        gamma: γ, the size weight.
        size_measure: ``"parameters"`` or ``"macs"`` for N.
        batch_size: images per forward pass. device: where the networks run.
        prepare: optional ``prepare(slim_generator) -> generator`` applied before scoring, e.g.
            the paper's short per-candidate training (off by default: expensive).
        memo_size: how many (mask, partner) results to remember (duplicates and carried-over
            elites are not evaluated twice).
    """

    _caches = ("_reference", "_partners")

    def __init__(self, generator: nn.Module, discriminator: nn.Module | None,
                 images: torch.Tensor, space: MaskSpace, *,
                 partner_generator: nn.Module | None = None,
                 partner_space: MaskSpace | None = None,
                 perceptual: Perceptual = "discriminator", lambda_cycle: float = 10.0,
                 gamma: float = 1.0, size_measure: SizeMeasure = "parameters",
                 batch_size: int = 16, device: str | torch.device = "cpu",
                 prepare: Callable[[nn.Module], nn.Module] | None = None,
                 memo_size: int = 4096) -> None:
        if perceptual not in ("discriminator", "features", "pixel"):
            raise ValueError(f"unknown perceptual loss {perceptual!r}: use 'discriminator', "
                             "'features' or 'pixel'")
        if discriminator is None and perceptual != "pixel":
            raise ValueError(f"perceptual={perceptual!r} needs a discriminator")
        check_images(images, "images")
        super().__init__(generator, space, gamma=gamma, size_measure=size_measure,
                         device=device, memo_size=memo_size)
        self.discriminator = frozen_copy(discriminator, self.device)
        self.partner_generator = frozen_copy(partner_generator, self.device)
        self.partner_space = partner_space or (space_of(partner_generator, images)
                                               if partner_generator is not None else None)
        self.images = images.detach().to(self.device)
        self.perceptual, self.lambda_cycle = perceptual, lambda_cycle
        self.batch_size, self.prepare = batch_size, prepare

    @property
    def uses_partner(self) -> bool:
        return self.lambda_cycle != 0

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


def cyclegan_fitnesses(g_a: nn.Module, g_b: nn.Module,
                       d_a: nn.Module | None, d_b: nn.Module | None,
                       images_a: torch.Tensor, images_b: torch.Tensor, *,
                       space_a: MaskSpace | None = None, space_b: MaskSpace | None = None,
                       prepare: tuple[Callable | None, Callable | None] = (None, None),
                       **options: Any) -> tuple[GeneratorFitness, GeneratorFitness]:
    """The two fitnesses of a CycleGAN: G_A (A→B, judged by D_A) on domain-A images with G_B as
    cycle partner, and G_B (B→A, judged by D_B) on domain-B images with G_A as partner.
    ``prepare``: each generator's optional ``prepare`` (e.g. brief training of candidates);
    ``options`` go to both :class:`GeneratorFitness` (λ, γ, perceptual, device, …)."""
    space_a = space_a or space_of(g_a, images_a)
    space_b = space_b or space_of(g_b, images_b)
    fit_a = GeneratorFitness(g_a, d_a, images_a, space_a, partner_generator=g_b,
                             partner_space=space_b, prepare=prepare[0], **options)
    fit_b = GeneratorFitness(g_b, d_b, images_b, space_b, partner_generator=g_a,
                             partner_space=space_a, prepare=prepare[1], **options)
    return fit_a, fit_b

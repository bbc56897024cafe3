"""The adapted fitness: a mask scored after brief distillation toward the original generator.

The paper's F scores the pruned network as it is. At 4x every candidate's output is noise
there, and on the shipped teacher F ranks masks backwards against their quality after
fine-tuning. Here each candidate is slimmed (kept weight slices of the original), given
``steps`` Adam steps of L1 distillation toward the frozen original's outputs on adaptation
images — the same batches, in the same order, for every candidate — and then scored on
held-out images that adaptation never saw. For a mask p of generator G::

    S     = 1/m Σ |G(x_i) − Ĝ_p(x_i)|₁                (score="l1", the default)
          | 1 − 1/m Σ SSIM(Ĝ_p(x_i), G(x_i))          (score="ssim")
          | 1/m Σ ||D(G(x_i)) − D(Ĝ_p(x_i))||²        (score="discriminator")
    L_cyc = 1/m Σ |Ĝ'_q(Ĝ_p(x_i)) − x_i|₁            (only with λ > 0 and a partner mask q;
                                                     the partner is adapted the same way)
    N     = size(Ĝ_p) / size(G)                       (parameters or MACs)
    F     = 1 / (S + λ·L_cyc + γ·N)

Everything is deterministic under ``seed`` (the batch order) and does not depend on other
candidates. ``benchmarks/fitness_correlation.py`` measured which score and how many steps rank
masks like their quality after fine-tuning (README, "Results").
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import torch
from torch import nn

from ..imagerange import DEFAULT_RANGE, InputRange
from ..metrics.fidelity import fidelity_scores
from ..nets.frozen import frozen_copy
from ..nets.maskspace import MaskSpace, SizeMeasure, space_of
from ..nets.slimming import slim
from ..training.brief import Distillation as Distillation  # re-exported: part of this API
from .base import WORST_FITNESS, MaskFitness, check_images

AdaptedScore = Literal["l1", "ssim", "discriminator"]
SCORES = ("l1", "ssim", "discriminator")


class AdaptedFitness(MaskFitness):
    """Fitness of masks of one generator after brief adaptation (see the module docstring):
    ``fitness(individual, partner=None) -> (F,)``, higher is better.

    Args:
        generator: the original generator G (copied and frozen).
        images: held-out images of G's source domain ``[m, C, H, W]`` in [-1, 1], on which
            candidates are scored.
        adapt_images: other images of the same domain ``[n, C, H, W]``, on which candidates
            are distilled (never scored on).
        space: the mask space of ``generator``.
        steps: distillation steps per candidate (0 scores the pruned network as it is).
        score: ``"l1"``, ``"ssim"`` or ``"discriminator"`` (needs ``discriminator``).
        discriminator: the original discriminator of G's target domain (only for
            ``score="discriminator"``).
        partner_generator / partner_space / lambda_cycle: the cycle term, off unless
            ``lambda_cycle > 0`` (the partner's mask is adapted on G's original outputs).
        gamma: γ, the size weight; size_measure: ``"parameters"`` or ``"macs"``.
        lr, batch_size, seed: the adaptation's Adam learning rate, batch and batch order.
        eval_batch_size: images per forward pass when scoring. device: where it runs.
    """

    _caches = ("_reference", "_partners")

    def __init__(self, generator: nn.Module, images: torch.Tensor,
                 adapt_images: torch.Tensor, space: MaskSpace, *, steps: int = 30,
                 score: AdaptedScore = "l1", discriminator: nn.Module | None = None,
                 partner_generator: nn.Module | None = None,
                 partner_space: MaskSpace | None = None, lambda_cycle: float = 0.0,
                 gamma: float = 0.0, size_measure: SizeMeasure = "parameters",
                 lr: float = 2e-4, batch_size: int = 4, seed: int = 0,
                 eval_batch_size: int = 16, device: str | torch.device = "cpu",
                 memo_size: int = 4096, input_range: InputRange = DEFAULT_RANGE) -> None:
        if score not in SCORES:
            raise ValueError(f"unknown adapted score {score!r}: use one of {SCORES}")
        if score == "discriminator" and discriminator is None:
            raise ValueError("score='discriminator' needs a discriminator")
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if lambda_cycle and partner_generator is None:
            raise ValueError("lambda_cycle > 0 needs a partner_generator")
        check_images(images, "images")
        if steps > 0:
            check_images(adapt_images, "adapt_images")
        super().__init__(generator, space, gamma=gamma, size_measure=size_measure,
                         device=device, memo_size=memo_size)
        self.images = images.detach().to(self.device)
        self.adapt_images = adapt_images.detach().to(self.device)
        self.discriminator = frozen_copy(discriminator, self.device)
        self.partner_generator = frozen_copy(partner_generator, self.device)
        self.partner_space = partner_space or (space_of(partner_generator, images)
                                               if partner_generator is not None else None)
        self.steps, self.score, self.lambda_cycle = steps, score, lambda_cycle
        self.eval_batch_size, self.input_range = eval_batch_size, input_range
        self.distil = Distillation(adapt_images.shape[0], steps, batch_size, lr, seed)

    @property
    def uses_partner(self) -> bool:
        return self.lambda_cycle != 0

    # -- what does not depend on the individual ------------------------------------------
    @torch.no_grad()
    def _run(self, network: Callable[[torch.Tensor], torch.Tensor],
             images: torch.Tensor) -> torch.Tensor:
        return torch.cat([network(x) for x in images.split(self.eval_batch_size)])

    def reference(self) -> dict[str, torch.Tensor]:
        """The original's outputs on the held-out and adaptation images, and D's responses
        (cached)."""
        if self._reference is None:
            ref = {"fake": self._run(self.generator, self.images),
                   "adapt_fake": self._run(self.generator, self.adapt_images)}
            if self.discriminator is not None:
                ref["judged"] = self._run(self.discriminator, ref["fake"])
            self._reference = ref
        return self._reference

    # -- per individual ------------------------------------------------------------------
    def adapted(self, bits: Sequence[int], steps: int | None = None) -> nn.Module:
        """The slim network of ``bits`` after ``steps`` (default: all) adaptation steps."""
        net = slim(self.generator, tuple(bits), self.space)
        ref = self.reference()
        return self.distil(net, self.adapt_images, ref["adapt_fake"], self.distil.optimizer(net),
                           stop=self.steps if steps is None else steps)

    def _partner(self, partner: tuple[int, ...]) -> nn.Module:
        """The partner's slim network adapted toward the original partner on G's original
        outputs (what it receives in the cycle); a few are cached."""
        if self._partners is None:
            self._partners = OrderedDict()
        if partner not in self._partners:
            if self.partner_generator is None:
                raise ValueError("a partner mask was given but no partner_generator")
            inputs = self.reference()["adapt_fake"]
            targets = self._run(self.partner_generator, inputs)
            net = slim(self.partner_generator, partner, self.partner_space)
            self._partners[partner] = self.distil(net, inputs, targets,
                                                  self.distil.optimizer(net))
            while len(self._partners) > 4:
                self._partners.popitem(last=False)
        return self._partners[partner]

    def _nan_terms(self) -> dict[str, float]:
        return {"score": float("nan"), "l_cyc": float("nan")}

    def _score_of(self, kind: str, fake: torch.Tensor) -> float:
        """Score ``kind`` of the candidate's outputs ``fake`` on the held-out images."""
        ref = self.reference()
        if kind == "l1":
            return float((fake - ref["fake"]).abs().mean().item())
        if kind == "ssim":
            return 1.0 - fidelity_scores(fake, ref["fake"], self.input_range)["ssim"]
        return float((self._run(cast(nn.Module, self.discriminator), fake)
                      - ref["judged"]).pow(2).mean().item())

    def _score(self, network: nn.Module, partner_net: nn.Module | None) -> dict:
        fake = self._run(network, self.images)
        l_cyc = 0.0 if partner_net is None else \
            (self._run(partner_net, fake) - self.images).abs().mean().item()
        return {"score": self._score_of(self.score, fake), "l_cyc": float(l_cyc)}

    def _assemble(self, bits: tuple[int, ...], parts: dict) -> dict:
        size = self._size(bits)
        loss = parts["score"] + self.lambda_cycle * parts["l_cyc"] + self.gamma * size
        fitness = 1.0 / loss if loss > 0 and math.isfinite(loss) else WORST_FITNESS
        return {"fitness": float(fitness), "loss": float(loss), **parts, "size_ratio": size}

    def _compute(self, bits: tuple[int, ...], partner: tuple[int, ...] | None) -> dict:
        partner_net = self._partner(partner) if partner is not None else None
        return self._assemble(bits, self._score(self.adapted(bits), partner_net))

    def scores_along(self, individual: Sequence[int], at_steps: Sequence[int]
                     ) -> list[dict[str, float]]:
        """Every score (``l1``, ``ssim``, and ``discriminator`` when there is a
        discriminator; lower is better) after each of ``at_steps`` adaptation steps
        (ascending, at most ``steps``), from one adaptation run: what the correlation
        benchmark compares."""
        bits = tuple(int(b) for b in individual)
        if list(at_steps) != sorted(at_steps) or (at_steps and at_steps[-1] > self.steps):
            raise ValueError(f"at_steps must ascend and stay <= steps={self.steps}")
        net = slim(self.generator, bits, self.space)
        optimizer, done, out = self.distil.optimizer(net), 0, []
        targets = self.reference()["adapt_fake"]
        kinds = [k for k in SCORES if k != "discriminator" or self.discriminator is not None]
        for k in at_steps:
            self.distil(net, self.adapt_images, targets, optimizer, start=done, stop=k)
            done = k
            fake = self._run(net, self.images)
            out.append({kind: self._score_of(kind, fake) for kind in kinds})
        return out


def adapted_fitnesses(g_a: nn.Module, g_b: nn.Module, images_a: torch.Tensor,
                      images_b: torch.Tensor, adapt_a: torch.Tensor, adapt_b: torch.Tensor, *,
                      d_a: nn.Module | None = None,
                      d_b: nn.Module | None = None,
                      space_a: MaskSpace | None = None, space_b: MaskSpace | None = None,
                      **options: Any) -> tuple[AdaptedFitness, AdaptedFitness]:
    """The two adapted fitnesses of a CycleGAN: G_A scored on held-out domain-A images
    ``images_a`` after adaptation on ``adapt_a`` (D_A for ``score="discriminator"``, G_B as
    cycle partner), and G_B likewise on domain B. ``options`` go to both
    :class:`AdaptedFitness` (steps, score, λ, γ, seed, device, …)."""
    space_a = space_a or space_of(g_a, images_a)
    space_b = space_b or space_of(g_b, images_b)
    fit_a = AdaptedFitness(g_a, images_a, adapt_a, space_a, discriminator=d_a,
                           partner_generator=g_b, partner_space=space_b, **options)
    fit_b = AdaptedFitness(g_b, images_b, adapt_b, space_b, discriminator=d_b,
                           partner_generator=g_a, partner_space=space_a, **options)
    return fit_a, fit_b

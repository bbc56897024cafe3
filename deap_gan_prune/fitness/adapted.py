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
from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn

from ..core.maskspace import MaskSpace
from ..metrics.fidelity import fidelity_scores
from ..nets.frozen import frozen_copy
from ..nets.slimming import slim
from .base import WORST_FITNESS, MaskFitness, Partner, Scoring, check_images
from .distillation import Distillation

AdaptedScore = Literal["l1", "ssim", "discriminator"]
SCORES = ("l1", "ssim", "discriminator")


@dataclass(frozen=True)
class Adaptation:
    """The brief distillation every candidate gets before it is scored: ``steps`` Adam steps
    (learning rate ``lr``) of L1 toward the original's outputs on ``images`` (other images of
    the source domain ``[n, C, H, W]``, never scored on), ``batch_size`` at a time, in an
    order drawn from ``seed``. 0 steps score the pruned network as it is."""

    images: torch.Tensor
    steps: int = 30
    lr: float = 2e-4
    batch_size: int = 4
    seed: int = 0


class AdaptedFitness(MaskFitness):
    """Fitness of masks of one generator after brief adaptation (see the module docstring):
    ``fitness(individual, partner=None) -> (F,)``, higher is better.

    Args:
        generator: the original generator G (copied and frozen).
        space: the mask space of ``generator``.
        images: held-out images of G's source domain ``[m, C, H, W]`` in
            ``scoring.input_range``, on which candidates are scored.
        scoring: γ, the size measure, images per forward pass, device (:class:`Scoring`).
        adaptation: the candidates' distillation (:class:`Adaptation`; None: no adaptation).
        score: ``"l1"``, ``"ssim"`` or ``"discriminator"`` (needs ``discriminator``).
        discriminator: the original discriminator of G's target domain (only for
            ``score="discriminator"``).
        partner: the cycle term (:class:`Partner`; off unless its weight is > 0; the
            partner's mask is adapted on G's original outputs).
    """

    _caches = ("_reference", "_partners")

    def __init__(self, generator: nn.Module, space: MaskSpace, images: torch.Tensor,
                 scoring: Scoring | None = None, *, adaptation: Adaptation | None = None,
                 score: AdaptedScore = "l1", discriminator: nn.Module | None = None,
                 partner: Partner | None = None) -> None:
        if score not in SCORES:
            raise ValueError(f"unknown adapted score {score!r}: use one of {SCORES}")
        if score == "discriminator" and discriminator is None:
            raise ValueError("score='discriminator' needs a discriminator")
        adaptation = adaptation or Adaptation(images[:0], steps=0)
        if adaptation.steps < 0:
            raise ValueError(f"steps must be >= 0, got {adaptation.steps}")
        if adaptation.steps > 0:
            check_images(adaptation.images, "adaptation images")
        super().__init__(generator, space, images, scoring or Scoring(), partner)
        self.adapt_images = adaptation.images.detach().to(self.device)
        self.discriminator = frozen_copy(discriminator, self.device)
        self.steps, self.score = adaptation.steps, score
        self.distil = Distillation(adaptation.images.shape[0], adaptation.steps,
                                   adaptation.batch_size, adaptation.lr, adaptation.seed)

    # -- what does not depend on the individual ------------------------------------------
    @torch.no_grad()
    def _run(self, network: Callable[[torch.Tensor], torch.Tensor],
             images: torch.Tensor) -> torch.Tensor:
        return torch.cat([network(x) for x in images.split(self.batch_size)])

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

"""CycleGAN losses: least-squares adversarial terms, cycle, identity and distillation."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.checkpoints import CycleGAN
from .config import CycleGANConfig
from .distill_terms import recording, weighted_terms

if TYPE_CHECKING:
    from .distill_terms import FeatureDistillation


@dataclass(frozen=True)
class PairTeacher:
    """The frozen original pair fine-tuned generators are distilled toward.

    ``g_a``: A→B, ``g_b``: B→A. ``masks``: ``((space, bits), (space, bits))`` each student
    was slimmed with (feature distillation on the kept channels needs them where the channels
    differ). ``example``: an image ``[1, C, H, W]`` the feature layers' channels are found on
    (needed by a feature term). ``input_range``: the range both pairs take their images in
    (for the SSIM and gradient terms; default [-1, 1])."""

    g_a: nn.Module
    g_b: nn.Module
    masks: Sequence[tuple[Any, Sequence[int]] | None] | None = None
    example: torch.Tensor | None = None
    input_range: InputRange = DEFAULT_RANGE


def lsgan_loss(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """Mean squared distance of a patch score map to 1 (real) or 0 (fake)."""
    target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
    return F.mse_loss(prediction, target)


def discriminator_loss(discriminator: nn.Module, real: torch.Tensor,
                       fake: torch.Tensor) -> torch.Tensor:
    """Upstream D objective: ``0.5 * (LSGAN(D(real), 1) + LSGAN(D(fake), 0))``, fake detached."""
    return 0.5 * (lsgan_loss(discriminator(real), True)
                  + lsgan_loss(discriminator(fake.detach()), False))


def generator_losses(networks: CycleGAN, real_a: torch.Tensor, real_b: torch.Tensor,
                     config: CycleGANConfig, teacher: PairTeacher | None = None,
                     features: Sequence[FeatureDistillation | None] = (None, None),
                     ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """All weighted generator terms of one step, and the fakes ``(fake_a, fake_b)``
    (``real_a``, ``real_b``: ``[N, C, H, W]``; ``networks``: the four networks, both
    discriminators given).

    Terms: ``G_A`` = LSGAN(D_A(G_A(a)), 1), ``G_B`` likewise; ``cycle_A`` = λ·|G_B(G_A(a)) − a|₁,
    ``cycle_B`` likewise; ``idt_A`` = λ·λ_idt·|G_A(b) − b|₁, ``idt_B`` likewise (skipped, no
    forward pass, when λ_idt = 0); ``distill_A`` = w·|G_A(a) − T_A(a)|₁ with the frozen teacher
    ``T_A``, ``distill_B`` likewise (only with a teacher and w = ``config.distill_weight`` > 0).
    λ = ``lambda_cycle``. With ``config.distill`` (a :class:`~.distill_config.DistillLoss`),
    ``distill_A`` is w times its weighted terms (``features``: the
    :class:`~.distill_terms.FeatureDistillation` of each direction when it has a feature term;
    images in ``teacher.input_range``).
    """
    g_a, g_b, d_a, d_b = networks.g_a, networks.g_b, networks.d_a, networks.d_b
    if d_a is None or d_b is None:
        raise ValueError("generator_losses: needs both discriminators (networks.d_a, d_b)")
    distill_weight, distill = config.distill_weight, config.distill
    feature_a, feature_b = features
    with recording(feature_a):
        fake_b = g_a(real_a)
    with recording(feature_b):
        fake_a = g_b(real_b)
    losses = {"G_A": lsgan_loss(d_a(fake_b), True), "G_B": lsgan_loss(d_b(fake_a), True)}
    lc = config.lambda_cycle
    if lc > 0:
        losses["cycle_A"] = F.l1_loss(g_b(fake_b), real_a) * lc
        losses["cycle_B"] = F.l1_loss(g_a(fake_a), real_b) * lc
    li = config.lambda_identity * lc
    if li > 0:
        losses["idt_A"] = F.l1_loss(g_a(real_b), real_b) * li
        losses["idt_B"] = F.l1_loss(g_b(real_a), real_a) * li
    if teacher is not None and distill_weight > 0:
        t_a, t_b, input_range = teacher.g_a, teacher.g_b, teacher.input_range
        with torch.no_grad():
            with recording(feature_a):
                target_b = t_a(real_a)
            with recording(feature_b):
                target_a = t_b(real_b)
        if distill is None:
            losses["distill_A"] = F.l1_loss(fake_b, target_b) * distill_weight
            losses["distill_B"] = F.l1_loss(fake_a, target_a) * distill_weight
        else:
            losses["distill_A"] = weighted_terms(fake_b, target_b, distill, input_range,
                                                 feature_a)[0] * distill_weight
            losses["distill_B"] = weighted_terms(fake_a, target_a, distill, input_range,
                                                 feature_b)[0] * distill_weight
    return losses, fake_a, fake_b

"""Once-for-all training: one generator whose every sub-network of a mask space works.

:func:`train_supernet` fine-tunes a copy of the original generator G so that a *masked*
forward (:func:`deap_gan_prune.nets.slimming.masked`) of any mask of its space reproduces the frozen
original. Each step draws one batch ``x`` and, by the sandwich rule, a set of masks: the full
network, one random mask at the smallest size the search will use (``min(budgets)``) and
``n_random`` random masks at sizes in between; the loss is

    L = 1/k Σ_p [ |Ĝ_p(x) − G(x)|₁ + λ_gan (D(Ĝ_p(x)) − 1)² + λ_cyc |F(Ĝ_p(x)) − x|₁ ]

(pixel / patch means; k masks, gradients summed). The last two terms are optional and off by
default (``gan_weight`` λ_gan = ``cycle_weight`` λ_cyc = 0, pure distillation): the
least-squares GAN generator loss of upstream CycleGAN against the *original* discriminator D
that judges G's outputs (D_A for G_A: A→B), and the cycle-consistency loss through the
original partner generator F (G_B for G_A). D and F stay frozen (eval mode, no gradients to
their weights); nothing but the student is trained.

A random mask keeps, in every channel group, a random subset of a random share of its
channels, and is then trimmed by the budget repair (:func:`repairBudget`, random order) to a
budget drawn log-uniformly between ``min(budgets)`` and 1 (the smallest mask: exactly
``min(budgets)``). The search then scores masks on the trained weights with no per-candidate
adaptation (:class:`deap_gan_prune.fitness.supernet.SupernetFitness`), and the winner is
``slim(supernet, mask, space)``, fine-tuned as usual.
"""
from __future__ import annotations

import copy
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from ..configs import setting, to_dict, validate
from ..core.maskspace import MaskSpace
from ..files import atomic_write, images_hash, models_hash
from ..nets.frozen import frozen_copy
from ..nets.slimming import masked
from ..operators.repair import repairBudget
from ..runoptions import DEFAULT_OPTIONS, RunOptions

#: The budgets (size ratios) the sandwich rule covers by default: 16x, 8x and 4x smaller.
DEFAULT_BUDGETS = (0.0625, 0.125, 0.25)


@dataclass(frozen=True)
class SupernetConfig:
    """Settings of :func:`train_supernet` (see the module docstring for the loss).

    ``steps``: optimiser steps in all (a resumed run continues to it). ``budgets``: the size
    ratios in (0, 1] the search will use; the smallest is the sandwich's lower end.
    ``n_random``: random masks per step besides the full and the smallest. ``lr``: Adam's
    learning rate (β 0.5/0.999, constant). ``batch_size``: images per step, drawn with
    replacement. ``seed``: masks and batch order. ``measures``: the size measures the budgets
    hold in (as the search's budget_measures). ``checkpoint_every``: steps between writes of
    the checkpoint file (one at the end too). ``gan_weight`` λ_gan: weight of the
    least-squares GAN loss ``mean((D(Ĝ_p(x)) − 1)²)`` per mask; ``cycle_weight`` λ_cyc: weight
    of the cycle loss ``|F(Ĝ_p(x)) − x|₁`` per mask (both 0: pure distillation)."""

    steps: int = setting(200, "optimiser steps per generator", within="[0, inf)")
    budgets: tuple[float, ...] = setting(
        DEFAULT_BUDGETS, "size ratios the search will use; the smallest is the lower end of "
        "the masks trained", within="(0, 1]", metavar="RATIO")
    n_random: int = setting(2, "random masks per step besides the full and the smallest",
                            within="[0, inf)")
    lr: float = setting(2e-4, "Adam learning rate", within="(0, inf)")
    batch_size: int = setting(4, "images per step", within="[1, inf)")
    seed: int = setting(0, "random seed: masks and batch order")
    measures: tuple[Literal["parameters", "macs"], ...] = setting(
        ("parameters", "macs"), "the size measures the budgets hold in")
    checkpoint_every: int = setting(50, "steps between checkpoint writes", within="[1, inf)")
    gan_weight: float = setting(
        0.0, "weight of the least-squares GAN loss against the original (frozen) "
        "discriminators, added to the distillation (default 0: off; needs discriminators)",
        within="[0, inf)", metavar="W")
    cycle_weight: float = setting(
        0.0, "weight of the cycle-consistency loss through the original partner generator "
        "(default 0: off; upstream CycleGAN uses 10)", within="[0, inf)", metavar="W")

    def __post_init__(self) -> None:
        for name in ("budgets", "measures"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        validate(self)
        if not self.budgets:
            raise ValueError("SupernetConfig: budgets must name at least one size ratio")

    def to_dict(self) -> dict:
        """Plain JSON values (tuples as lists)."""
        return to_dict(self)


def random_mask(space: MaskSpace, budget: float, rng: random.Random,
                measures: Sequence[str] = ("parameters", "macs")) -> list[int]:
    """A random mask of ``space`` of size ratio at most ``budget`` in every one of
    ``measures``: per group a keep ratio drawn uniformly from (0, 1], that many random
    channels kept (at least the group's minimum), then the budget repair in random order.
    Draws only from ``rng``; the global ``random`` state is left as it was."""
    bits: list[int] = []
    for g in space.groups:
        keep = max(g.min_keep, 1, math.ceil(rng.uniform(0.0, 1.0) * g.size))
        chosen = set(rng.sample(range(g.size), min(keep, g.size)))
        bits += [int(j in chosen) for j in range(g.size)]
    saved = random.getstate()
    try:
        random.setstate(rng.getstate())
        repairBudget(bits, space, budget, tuple(measures))
        rng.setstate(random.getstate())
    finally:
        random.setstate(saved)
    return bits


def sandwich_masks(space: MaskSpace, budgets: Sequence[float], n_random: int,
                   rng: random.Random, measures: Sequence[str] = ("parameters", "macs")
                   ) -> list[list[int]]:
    """The masks of one training step: the full network, a random mask at ``min(budgets)``
    and ``n_random`` random masks at budgets drawn log-uniformly in [min(budgets), 1]."""
    low = min(budgets)
    masks = [space.full(), random_mask(space, low, rng, measures)]
    for _ in range(n_random):
        budget = math.exp(rng.uniform(math.log(low), 0.0))
        masks.append(random_mask(space, budget, rng, measures))
    return masks


def masked_distillation_loss(student: nn.Module, teacher_out: torch.Tensor, x: torch.Tensor,
                             space: MaskSpace, bits: Sequence[int]) -> torch.Tensor:
    """``|Ĝ_p(x) − G(x)|₁`` (pixel mean) of ``student`` under mask ``bits`` (masked forward);
    ``x``, ``teacher_out``: ``[N, C, H, W]``."""
    with masked(student, bits, space) as net:
        return (net(x) - teacher_out).abs().mean()


def masked_supernet_loss(student: nn.Module, teacher_out: torch.Tensor, x: torch.Tensor,
                         space: MaskSpace, bits: Sequence[int],
                         config: SupernetConfig | None = None,
                         discriminator: nn.Module | None = None,
                         partner: nn.Module | None = None) -> torch.Tensor:
    """One mask's training loss (a scalar): ``|Ĝ_p(x) − G(x)|₁ + gan_weight·mean((D(Ĝ_p(x))
    − 1)²) + cycle_weight·|F(Ĝ_p(x)) − x|₁`` with the weights of ``config`` (default: both
    0); a term with weight 0 is not computed (then the loss equals
    :func:`masked_distillation_loss` exactly). ``x``, ``teacher_out``: ``[N, C, H, W]``;
    ``discriminator``/``partner`` should be frozen."""
    gan_weight = config.gan_weight if config is not None else 0.0
    cycle_weight = config.cycle_weight if config is not None else 0.0
    with masked(student, bits, space) as net:
        out = net(x)
    loss = (out - teacher_out).abs().mean()
    if gan_weight:
        assert discriminator is not None, "gan_weight needs a discriminator"
        judged = discriminator(out)
        loss = loss + gan_weight * (judged - 1.0).pow(2).mean()
    if cycle_weight:
        assert partner is not None, "cycle_weight needs a partner"
        loss = loss + cycle_weight * (partner(out) - x).abs().mean()
    return loss


def _check_inputs(generator: nn.Module, images: torch.Tensor, space: MaskSpace,
                  config: SupernetConfig, discriminator: nn.Module | None,
                  partner: nn.Module | None) -> None:
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"train_supernet: images must be a non-empty [N, C, H, W] batch, "
                         f"got {tuple(images.shape)}")
    if not space.matches(generator):
        raise ValueError("train_supernet: the mask space was built for other convs or widths "
                         "than the generator's")
    if config.gan_weight > 0 and discriminator is None:
        raise ValueError("train_supernet: gan_weight > 0 needs the original discriminator "
                         "that judges the generator's outputs (discriminator=...)")
    if config.cycle_weight > 0 and partner is None:
        raise ValueError("train_supernet: cycle_weight > 0 needs the original partner "
                         "generator (partner=...)")


def _save_state(path: str | os.PathLike, student: nn.Module, optimizer: torch.optim.Optimizer,
                step: int,
                rng: random.Random, order: torch.Generator, identity: dict) -> None:
    """The training state (weights, optimizer, steps done, both RNGs, what it was trained
    with), written atomically; every entry loads with ``weights_only=True``."""
    version, internal, gauss = rng.getstate()
    state = {"model": {k: v.detach().cpu().clone() for k, v in student.state_dict().items()},
             "optimizer": optimizer.state_dict(), "step": step,
             "mask_rng": [version, list(internal), gauss], "batch_rng": order.get_state(),
             "identity": identity}
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


#: Identity entries added after the first checkpoints were written, with the value an older
#: checkpoint (which lacks them) was trained with.
_IDENTITY_DEFAULTS = {"gan_weight": 0.0, "discriminator": None, "cycle_weight": 0.0,
                      "partner": None}


def _load_state(path: str | os.PathLike, identity: dict) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "identity" not in state:
        raise ValueError(f"{path}: not a supernet training checkpoint")
    for key, value in identity.items():
        if state["identity"].get(key, _IDENTITY_DEFAULTS.get(key)) != value:
            raise ValueError(f"{path}: written with another {key} than this run's; "
                             "start afresh without resume")
    return state


def train_supernet(generator: nn.Module, images: torch.Tensor, space: MaskSpace,
                   config: SupernetConfig | None = None, options: RunOptions | None = None, *,
                   discriminator: nn.Module | None = None,
                   partner: nn.Module | None = None) -> nn.Module:
    """Fine-tune a copy of ``generator`` so that every mask of ``space`` works (see the module
    docstring); ``generator`` itself is untouched.

    Args:
        generator: the original G (the frozen distillation target and the starting weights).
        images: training images of G's source domain ``[N, C, H, W]`` in [-1, 1]; each step
            takes ``config.batch_size`` of them drawn with replacement.
        space: G's mask space.
        config: the settings (:class:`SupernetConfig`; default: its defaults).
        options: the device, the progress bar (with the step's loss), and the checkpoint file,
            rewritten every ``config.checkpoint_every`` steps and at the end; with
            ``options.resume`` an existing one is continued (refused if written for other
            networks, images or settings; ``steps`` may differ, so a run can be extended).
        discriminator: the original discriminator that judges G's outputs (D_A for G_A);
            needed when ``config.gan_weight > 0``. Copied and frozen.
        partner: the original partner generator (G_B for G_A); needed when
            ``config.cycle_weight > 0``. With both weights 0 (the default) the two networks
            are not used and the training is the same, bit for bit, as pure distillation.

    Returns the trained copy: same class and widths as ``generator``, on ``options.device``,
    in ``generator``'s train/eval mode. Deterministic under ``config.seed`` (on the CPU), and
    a run resumed from its checkpoint ends with the same weights as one never interrupted.
    """
    c = SupernetConfig() if config is None else config
    options = options or DEFAULT_OPTIONS
    checkpoint = options.checkpoint
    _check_inputs(generator, images, space, c, discriminator, partner)
    device = torch.device(options.device)
    teacher = frozen_copy(generator, device)
    student = copy.deepcopy(generator).to(device).train()
    for p in student.parameters():
        p.requires_grad_(True)
    judge = frozen_copy(discriminator, device) if c.gan_weight > 0 else None
    back = frozen_copy(partner, device) if c.cycle_weight > 0 else None
    optimizer = torch.optim.Adam(student.parameters(), lr=c.lr, betas=(0.5, 0.999))
    rng, order = random.Random(c.seed), torch.Generator().manual_seed(c.seed)
    identity = {"model": models_hash(generator), "images": images_hash(images),
                "budgets": list(c.budgets), "n_random": c.n_random, "lr": c.lr,
                "batch_size": c.batch_size, "seed": c.seed, "measures": list(c.measures),
                "gan_weight": c.gan_weight,
                "discriminator": models_hash(judge) if judge is not None else None,
                "cycle_weight": c.cycle_weight,
                "partner": models_hash(back) if back is not None else None}
    done = 0
    if options.resume and checkpoint is not None and os.path.exists(checkpoint):
        state = _load_state(checkpoint, identity)
        student.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        version, internal, gauss = state["mask_rng"]
        rng.setstate((version, tuple(internal), gauss))
        order.set_state(state["batch_rng"])
        done = int(state["step"])
    images = images.detach().to(device)
    bar = tqdm(total=c.steps, initial=min(done, c.steps), desc="supernet", unit="step",
               disable=not options.progress)
    try:
        for step in range(done, c.steps):
            index = torch.randint(0, images.shape[0], (c.batch_size,), generator=order)
            x = images[index.to(device)]
            with torch.no_grad():
                target = teacher(x)
            masks = sandwich_masks(space, c.budgets, c.n_random, rng, c.measures)
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for bits in masks:
                loss = masked_supernet_loss(student, target, x, space, bits, c, judge,
                                            back) / len(masks)
                loss.backward()
                total += loss.item()
            optimizer.step()
            bar.set_postfix(loss=f"{total:.4f}")
            bar.update()
            last = step + 1 == c.steps
            if checkpoint is not None and (last or (step + 1) % c.checkpoint_every == 0):
                _save_state(checkpoint, student, optimizer, step + 1, rng, order, identity)
    finally:
        bar.close()
    return student.train(generator.training)


@torch.no_grad()
def mean_masked_loss(generator: nn.Module, reference: nn.Module, images: torch.Tensor,
                     space: MaskSpace, masks: Sequence[Sequence[int]]) -> float:
    """``1/|masks| Σ_p |G_p(x) − R(x)|₁`` over all ``images`` (pixel mean): how well the
    masked ``generator`` reproduces ``reference`` on these masks."""
    target = reference(images)
    return float(sum(masked_distillation_loss(generator, target, images, space, bits).item()
                     for bits in masks) / len(masks))

"""Weight-blind pruning masks at a size budget (pure Python), for the ablation against the
evolved masks (METHOD §5) and the search's uniform seed: the hand-made uniform slimming and
random masks with a given mask's per-group channel counts (the sanity floor). L1-norm filter
pruning, which reads the weights, is :mod:`deap_gan_prune.nets.baselines`.

A *budget* is a size ratio, as in :func:`deap_gan_prune.operators.repairBudget`: 0.25 means at
most a quarter of the unpruned generator's parameters (``measure="parameters"``) or MACs at
``image_size`` pixels (``measure="macs"``, MAC ``convention`` as in
:meth:`MaskSpace.size_of_counts`). Every
mask returned here is valid (each group keeps at least ``max(min_keep, 1)`` channels), has a
size ratio at most the budget, and as close below it as the uniform keep ratio allows.

Every function takes any :class:`MaskSpace`: with a tied space (:meth:`MaskSpace.tied`) the
baselines follow the released code's 640-bit ResNet layout (one mask for the stream and every
block's inner width); :func:`convert_mask` turns such a mask into the independent layout.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

from .maskspace import MaskSpace, Measure, allowed_counts, measure_name, round_count
from .widths import MacConvention


class Sizer:
    """Size ratio of the generator whose groups keep ``counts`` channels (closed form)."""

    def __init__(self, space: MaskSpace, measure: Measure, image_size: int,
                 convention: MacConvention) -> None:
        self.size_of = space.size_function(measure, image_size, convention)
        self.full = self.size_of([g.size for g in space.groups])

    def ratio(self, counts: Sequence[int]) -> float:
        return self.size_of(counts) / self.full


def _check_budget(budget: float) -> float:
    if not isinstance(budget, (int, float)) or not budget > 0:
        raise ValueError(f"budget must be a size ratio > 0 (e.g. 0.25 for 4x smaller), got "
                         f"{budget!r}")
    return float(budget)


def uniform_counts(space: MaskSpace, budget: float, measure: Measure = "parameters",
                   image_size: int = 256, convention: MacConvention = "output",
                   round_to: int = 1) -> list[int]:
    """Channels kept per group when every group keeps the same share ``r`` of its channels.

    ``r`` is the largest keep ratio whose counts ``max(min_keep, floor(r * size))`` meet the
    budget, found by bisection over the ratios where some count changes; then, groups in order
    of their rounding deficit ``r * size - count`` (largest first) each take back one channel
    if the budget still allows, which brings the size closer to the budget. So every group
    keeps ``floor(r * size)`` or one more. A budget >= 1 keeps everything; a budget below what
    the group minimums allow is a ValueError. ``round_to`` > 1: counts are allowed ones
    (:func:`~.maskspace.allowed_counts`: channels in multiples of ``round_to``): each group
    keeps the largest at most ``r * size``, and takes back one step instead of one channel.
    """
    budget = _check_budget(budget)
    sizer = Sizer(space, measure, image_size, convention)
    sizes = [g.size for g in space.groups]
    allowed = [allowed_counts(g, round_to) for g in space.groups]

    def counts_at(r: float) -> list[int]:
        return [round_count(a, r * s, "down") for a, s in zip(allowed, sizes)]

    if sizer.ratio(counts_at(1.0)) <= budget:
        return counts_at(1.0)
    floor_ratio = sizer.ratio(counts_at(0.0))
    if floor_ratio > budget:
        raise ValueError(f"budget {budget:g} cannot be met: keeping every group's minimum "
                         f"already gives a {measure_name(measure)} ratio of "
                         f"{floor_ratio:.4f}")
    breaks = sorted({k / s for s in set(sizes) for k in range(1, s + 1)})
    lo, hi = -1, len(breaks) - 1  # breaks[hi] (r = 1) is over budget; find the last within
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if sizer.ratio(counts_at(breaks[mid])) <= budget:
            lo = mid
        else:
            hi = mid
    r = breaks[lo] if lo >= 0 else 0.0
    counts = counts_at(r)
    deficit = sorted(range(len(sizes)), key=lambda i: -(r * sizes[i] - counts[i]))
    for i in deficit:
        if counts[i] < sizes[i]:
            was = counts[i]
            counts[i] = next(a for a in allowed[i] if a > was)
            if sizer.ratio(counts) > budget:
                counts[i] = was
    return counts


def bits_from_ranks(space: MaskSpace, counts: Sequence[int],
                     ranking: Sequence[Sequence[int]]) -> list[int]:
    """Flat mask keeping, in each group, the first ``count`` channels of its ``ranking``
    (channel indices within the group, most wanted first)."""
    bits = [0] * space.n_bits
    for g, count, order in zip(space.groups, counts, ranking):
        for j in order[:count]:
            bits[g.offset + j] = 1
    return bits


def uniform_mask(space: MaskSpace, budget: float, measure: Measure = "parameters",
                 image_size: int = 256, convention: MacConvention = "output",
                 round_to: int = 1) -> list[int]:
    """The hand-made baseline: the same keep ratio in every group (:func:`uniform_counts`,
    with ``round_to``), keeping each group's FIRST channels — weight-blind, as if a thinner
    network had been designed. For a trained generator it is a slimmed network before
    fine-tuning."""
    counts = uniform_counts(space, budget, measure, image_size, convention, round_to)
    return bits_from_ranks(space, counts, [range(g.size) for g in space.groups])


def random_mask_like(space: MaskSpace, bits: Sequence[int], seed: int = 0) -> list[int]:
    """A random mask with the same number of kept channels in every group as ``bits`` (so the
    same size in every measure); which channels are kept is drawn with ``random.Random(seed)``."""
    counts = list(space.kept(bits).values())
    rng = random.Random(seed)
    return bits_from_ranks(space, counts, [rng.sample(range(g.size), g.size)
                                            for g in space.groups])


def convert_mask(bits: Sequence[int], source: MaskSpace, target: MaskSpace) -> list[int]:
    """The same channels in another layout of the same network (e.g. tied → independent):
    every traced group keeps what its group in ``source`` keeps. Raises ValueError when the
    spaces' convs differ, or when ``target`` merges groups that ``bits`` prunes differently."""
    if _convs(source) != _convs(target):
        raise ValueError("convert_mask: the spaces describe different networks (their convs "
                         "or channels differ)")
    parts = source.member_masks(bits)
    groups = {}
    for g in target.groups:
        mine = [parts[m] for m in g.members]
        if any(p != mine[0] for p in mine[1:]):
            raise ValueError(f"convert_mask: group {g.name!r} merges groups "
                             f"{list(g.members)} that this mask prunes differently")
        groups[g.name] = mine[0]
    return target.join(groups)


def _convs(space: MaskSpace) -> list[tuple[str, int, int]]:
    """Every conv's name, output and input channels."""
    return [(c.name, c.out_channels, len(c.in_groups)) for c in space.convs]

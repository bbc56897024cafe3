"""Mutations on masks: in place, return ``(ind,)``, end with :func:`repairMinKeep` (or keep
the minimums, as :func:`mutMoveChannels` does)."""
from __future__ import annotations

import random
from collections.abc import MutableSequence

from ..core.maskspace import MaskSpace, Measure
from .repair import BudgetPlan, check_length, fewest, repairMinKeep


def mutFlipMask(ind: MutableSequence[int], space: MaskSpace, indpb: float) -> tuple:
    """Flip each bit independently with probability ``indpb`` (``1 / space.n_bits`` flips
    one bit on average)."""
    check_length(ind, space, "mutFlipMask")
    if not 0.0 <= indpb <= 1.0:
        raise ValueError(f"mutFlipMask: indpb must be in [0, 1], got {indpb!r}")
    for i in range(len(ind)):
        if random.random() < indpb:
            ind[i] = 1 - ind[i]
    return repairMinKeep(ind, space)


def mutSegmentInvert(ind: MutableSequence[int], space: MaskSpace,
                     max_length: int | None = None) -> tuple:
    """Flip one random contiguous segment of the bit string (the released code's mutation).

    Without ``max_length`` the segment lies between two random cut points (as in a two-point
    crossover: on average a third of the string); with it, its length is uniform in
    ``1..max_length`` at a uniform start.
    """
    check_length(ind, space, "mutSegmentInvert")
    n = space.n_bits
    if max_length is None:
        a, b = sorted(random.sample(range(n + 1), 2))
    else:
        if max_length < 1:
            raise ValueError(f"mutSegmentInvert: max_length must be >= 1, got {max_length!r}")
        length = random.randint(1, min(max_length, n))
        a = random.randint(0, n - length)
        b = a + length
    ind[a:b] = [1 - x for x in ind[a:b]]
    return repairMinKeep(ind, space)


def mutMoveChannels(ind: MutableSequence[int], space: MaskSpace, fraction: float = 0.25,
                    measure: Measure = "parameters", image_size: int = 256,
                    round_to: int = 1) -> tuple:
    """Move capacity from one channel group to another, leaving the size as it was.

    Drops ``k`` random kept channels of a random group (``k`` uniform in
    ``1..max(1, fraction × its channels above the minimum)``), then keeps random dropped
    channels of another random group for as long as the size in ``measure`` ("parameters",
    or "macs" at ``image_size`` px) stays at most what it was before the move. Unlike bit
    flips, which change which channels a group keeps, this changes how many: the widths.
    With ``round_to`` > 1 both groups move between allowed counts
    (:func:`~deap_gan_prune.core.maskspace.allowed_counts`): ``k`` is that many steps down
    the donor's allowed counts, and the receiver rises to the largest allowed count that fits.
    """
    check_length(ind, space, "mutMoveChannels")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"mutMoveChannels: fraction must be in (0, 1], got {fraction!r}")
    repairMinKeep(ind, space)
    plan = BudgetPlan(space, 1.0, measure, image_size, "output", None, round_to)
    counts = plan.counts(ind)
    limit = plan.sizes(counts)[0]
    donors = [gi for gi, c in enumerate(counts) if plan.below(gi, c) is not None]
    if not donors:
        return (ind,)
    d = random.choice(donors)
    receivers = [gi for gi, g in enumerate(space.groups) if gi != d and counts[gi] < g.size]
    if not receivers:
        return (ind,)
    r = random.choice(receivers)
    g_d, g_r = space.groups[d], space.groups[r]
    lower = [a for a in plan.allowed[d] if a < counts[d]]
    k = counts[d] - lower[-random.randint(1, max(1, int(fraction * len(lower))))]
    kept = [i for i in range(g_d.offset, g_d.stop) if ind[i]]
    for i in random.sample(kept, k):
        ind[i] = 0
    counts[d] -= k
    free = [i for i in range(g_r.offset, g_r.stop) if not ind[i]]
    random.shuffle(free)
    higher = plan.above(r, counts[r])

    def over(a: int) -> bool:  # would keeping the (a + 1)-th higher count exceed the old size?
        c = list(counts)
        c[r] = higher[a]
        return plan.sizes(c)[0] > limit
    steps = fewest(len(higher), over)
    for i in free[:higher[steps - 1] - counts[r] if steps else 0]:
        ind[i] = 1
    return (ind,)

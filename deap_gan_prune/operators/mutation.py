"""Mutations on masks: in place, return ``(ind,)``, end with :func:`repairMinKeep`."""
from __future__ import annotations

import random
from collections.abc import MutableSequence

from ..nets.maskspace import MaskSpace
from .repair import check_length, repairMinKeep


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

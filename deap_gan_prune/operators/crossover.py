"""Crossovers on masks: in place, return ``(ind1, ind2)``, end with :func:`repairMinKeep`."""
from __future__ import annotations

import random
from collections.abc import MutableSequence

from ..core.maskspace import MaskSpace
from .repair import check_length, repairMinKeep


def _two_cuts(n: int) -> tuple[int, int]:
    """Two cut points ``1 <= a < b <= n`` as ``tools.cxTwoPoint`` draws them."""
    a, b = random.randint(1, n), random.randint(1, n - 1)
    if b >= a:
        b += 1
    else:
        a, b = b, a
    return a, b


def _swap(ind1: MutableSequence[int], ind2: MutableSequence[int], a: int, b: int) -> None:
    ind1[a:b], ind2[a:b] = ind2[a:b], ind1[a:b]


def _check_pair(ind1: MutableSequence[int], ind2: MutableSequence[int], space: MaskSpace,
                where: str) -> None:
    check_length(ind1, space, where)
    check_length(ind2, space, where)


def _repair_both(ind1: MutableSequence[int], ind2: MutableSequence[int],
                 space: MaskSpace) -> tuple:
    repairMinKeep(ind1, space)
    repairMinKeep(ind2, space)
    return ind1, ind2


def cxTwoPointMask(ind1: MutableSequence[int], ind2: MutableSequence[int],
                   space: MaskSpace) -> tuple:
    """The paper's two-point crossover on the flat bit string (cuts may fall inside a
    group), then min-keep repair of both children."""
    _check_pair(ind1, ind2, space, "cxTwoPointMask")
    if space.n_bits >= 2:
        _swap(ind1, ind2, *_two_cuts(space.n_bits))
    return _repair_both(ind1, ind2, space)


def cxGroupBoundary(ind1: MutableSequence[int], ind2: MutableSequence[int],
                    space: MaskSpace) -> tuple:
    """Two-point crossover whose cuts fall only on group boundaries: a run of whole groups
    is exchanged (each layer's mask is inherited intact from one parent)."""
    _check_pair(ind1, ind2, space, "cxGroupBoundary")
    bounds = space.boundaries
    if len(space.groups) >= 2:
        a, b = _two_cuts(len(space.groups))
        _swap(ind1, ind2, bounds[a], bounds[b])
    return _repair_both(ind1, ind2, space)


def cxUniformGroup(ind1: MutableSequence[int], ind2: MutableSequence[int], space: MaskSpace,
                   indpb: float = 0.5) -> tuple:
    """Each group exchanged whole between the parents with probability ``indpb``."""
    _check_pair(ind1, ind2, space, "cxUniformGroup")
    for g in space.groups:
        if random.random() < indpb:
            _swap(ind1, ind2, g.offset, g.stop)
    return _repair_both(ind1, ind2, space)

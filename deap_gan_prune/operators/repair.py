"""Repairs: put a mask back inside the feasible set, in place.

``repairMinKeep`` restores every group's minimum number of kept channels; ``repairBudget``
drops kept channels (in random order, or least important first) until the mask's size ratio
(parameters and/or MACs of the slimmed generator over the unpruned one, or any size function
of the kept counts, such as a latency model) is at most a budget.
``MinKeepRepair`` and ``BudgetRepair`` are the DEAP decorator forms (classes, as DEAP's own
``tools.DeltaPenalty``), for ``toolbox.decorate("mate", ...)``: a ``repair…`` function is an
operator, a ``…Repair`` class a decorator. ``ParentSizeRepair`` caps every child at its own
parent's size instead of at one budget; ``repairMinSize`` / ``MinSizeRepair`` turn channels
back on up to a floor.

Pure Python; randomness comes from the stdlib ``random`` module.
"""
from __future__ import annotations

import bisect
import functools
import math
import random
from collections.abc import Callable, MutableSequence, Sequence

from ..core.maskspace import MaskSpace, Measure, allowed_counts, measure_name, round_count

Scores = Sequence[float]


def check_length(ind: Sequence[int], space: MaskSpace, where: str) -> None:
    """Raise a one-line ValueError when ``ind`` does not have ``space.n_bits`` bits."""
    if len(ind) != space.n_bits:
        raise ValueError(f"{where}: the individual has {len(ind)} bits but the mask space has "
                         f"{space.n_bits}")


def check_scores(scores: Scores | None, space: MaskSpace, where: str) -> list[float] | None:
    """``scores`` as a list of finite Python floats aligned with the space's bits (or None)."""
    if scores is None:
        return None
    values = [float(s) for s in scores]
    if len(values) != space.n_bits:
        raise ValueError(f"{where}: got {len(values)} importance scores for a mask space of "
                         f"{space.n_bits} bits")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where}: importance scores must be finite numbers")
    return values


def normalise_per_group(scores: Sequence[float], space: MaskSpace) -> list[float]:
    """Scores divided by their group's mean absolute score, so groups are comparable (a group
    whose scores are all zero gets 1.0 everywhere)."""
    out = list(scores)
    for g in space.groups:
        part = out[g.offset:g.stop]
        mean = sum(abs(s) for s in part) / len(part)
        out[g.offset:g.stop] = [s / mean for s in part] if mean > 0 else [1.0] * len(part)
    return out


def repairMinKeep(ind: MutableSequence[int], space: MaskSpace,
                  scores: Scores | None = None) -> tuple:
    """Turn channels back on in every group that keeps fewer than ``max(min_keep, 1)``.

    With ``scores`` (one per bit, higher = more important) the most important dropped channels
    come back first; without, random ones (stdlib ``random``). Bits are also coerced to 0/1
    ints. In place; returns ``(ind,)``.
    """
    check_length(ind, space, "repairMinKeep")
    scores = check_scores(scores, space, "repairMinKeep")
    for i, b in enumerate(ind):
        if b not in (0, 1) or type(b) is not int:
            ind[i] = 1 if b else 0
    for g in space.groups:
        need = max(g.min_keep, 1)
        kept = sum(ind[g.offset:g.stop])
        if kept >= need:
            continue
        off = [i for i in range(g.offset, g.stop) if not ind[i]]
        if scores is None:
            chosen = random.sample(off, need - kept)
        else:
            chosen = sorted(off, key=lambda i: scores[i], reverse=True)[:need - kept]
        for i in chosen:
            ind[i] = 1
    return (ind,)


Measures = Measure | Sequence[Measure]


def _measures(measure: Measures) -> tuple[Measure, ...]:
    measures = (measure,) if isinstance(measure, str) or callable(measure) \
        else tuple(measure)
    if not measures:
        raise ValueError("repairBudget: give at least one size measure")
    return measures


class BudgetPlan:
    """What a budget repair needs that does not depend on the individual (built once).
    Raises ValueError when the budget cannot be met even with every group at its minimum,
    naming the smallest size that can be reached. ``round_to``: kept channels in multiples
    of it (:func:`~deap_gan_prune.core.maskspace.allowed_counts`)."""

    def __init__(self, space: MaskSpace, budget: float, measure: Measures, image_size: int,
                 convention: str, scores: Scores | None, round_to: int = 1) -> None:
        if not isinstance(budget, (int, float)) or not budget > 0:
            raise ValueError(f"repairBudget: budget must be a size ratio > 0 (e.g. 0.25 for "
                             f"4x smaller), got {budget!r}")
        self.space, self.budget = space, float(budget)
        self.measures = _measures(measure)
        self.size_of = [space.size_function(m, image_size, convention)
                        for m in self.measures]
        self.scores = check_scores(scores, space, "repairBudget")
        self.norm = None if self.scores is None else normalise_per_group(self.scores, space)
        self.group_of = [gi for gi, g in enumerate(space.groups) for _ in range(g.size)]
        self.round_to = round_to
        self.allowed = [allowed_counts(g, round_to) for g in space.groups]
        self.need = [a[0] for a in self.allowed]
        self.full = self.sizes([g.size for g in space.groups])
        self.limits = [self.budget * f for f in self.full]
        for m, full, size in zip(self.measures, self.full, self.sizes(self.need)):
            if size > self.budget * full:
                raise ValueError(f"budget {self.budget:g} cannot be met: the smallest "
                                 f"reachable size is {size / full:.4g} of the original's "
                                 f"{measure_name(m)} (every channel group at its minimum)")

    def sizes(self, counts: Sequence[int]) -> list[float]:
        """Size in every measure of the network whose groups keep ``counts`` bits
        (O(convs))."""
        return [size_of(counts) for size_of in self.size_of]

    def counts(self, ind: Sequence[int]) -> list[int]:
        """Kept bits per group."""
        return [sum(ind[g.offset:g.stop]) for g in self.space.groups]

    def below(self, gi: int, count: int) -> int | None:
        """The largest allowed count of group ``gi`` under ``count`` (None: none is)."""
        allowed = self.allowed[gi]
        k = bisect.bisect_left(allowed, count)
        return allowed[k - 1] if k > 0 else None

    def above(self, gi: int, count: int) -> list[int]:
        """The allowed counts of group ``gi`` over ``count``, ascending."""
        allowed = self.allowed[gi]
        return allowed[bisect.bisect_right(allowed, count):]

    def round(self, ind: MutableSequence[int]) -> None:
        """Every group's kept count to its nearest allowed one (ties down), keeping or
        dropping random channels (by ``scores``, most important kept, when given)."""
        for g, allowed in zip(self.space.groups, self.allowed):
            bits = range(g.offset, g.stop)
            count = sum(ind[i] for i in bits)
            target = round_count(allowed, count)
            if target == count:
                continue
            pool = [i for i in bits if ind[i] == (1 if target < count else 0)]
            if self.scores is None:
                chosen = random.sample(pool, abs(target - count))
            else:
                scores = self.scores
                pool.sort(key=lambda i: scores[i], reverse=target > count)
                chosen = pool[:abs(target - count)]
            for i in chosen:
                ind[i] = 1 if target > count else 0

    def within(self, counts: Sequence[int], limits: Sequence[float] | None = None) -> bool:
        limits = self.limits if limits is None else limits
        return all(s <= limit for s, limit in zip(self.sizes(counts), limits))

    def repair(self, ind: MutableSequence[int], limits: Sequence[float] | None = None) -> None:
        """Drop channels until every size is within ``limits`` (absolute sizes, one per
        measure; default: the budget's). Limits below the minimums leave every group at its
        minimum. With ``round_to`` > 1 every group's count is first rounded to the nearest
        allowed one, and channels are then dropped a whole multiple at a time."""
        space = self.space
        repairMinKeep(ind, space, self.scores)
        if self.round_to > 1:
            self.round(ind)
        counts = self.counts(ind)
        if self.within(counts, limits):
            return
        # Drop order: random (the default), or least important first (normalised scores,
        # random tie-break).
        kept = [i for i, b in enumerate(ind) if b]
        if self.norm is None:
            random.shuffle(kept)
        else:
            keys = {i: (self.norm[i], random.random()) for i in kept}
            kept.sort(key=keys.__getitem__)
        # The drops this order allows without breaching a minimum, whatever the budget: one
        # channel at a time, or, with round_to, the channels down to the next allowed count.
        drops: list[list[int]] = []
        pending: dict[int, list[int]] = {}
        left = list(counts)
        for i in kept:
            gi = self.group_of[i]
            lower = self.below(gi, left[gi])
            if lower is None:
                continue
            block = pending.setdefault(gi, [])
            block.append(i)
            if len(block) == left[gi] - lower:
                drops.append(block)
                pending[gi], left[gi] = [], lower
        # Every size falls with every drop: the fewest drops that meet the budget in all
        # measures (reachable: the minimums meet it, checked when planning).
        def dropped(k: int) -> list[int]:
            c = list(counts)
            for block in drops[:k]:
                c[self.group_of[block[0]]] -= len(block)
            return c
        for block in drops[:fewest(len(drops), lambda k: self.within(dropped(k), limits))]:
            for i in block:
                ind[i] = 0

    def raise_to(self, ind: MutableSequence[int], floor: float) -> None:
        """Turn dropped channels back on, in random order, until the first measure's size
        ratio is at least ``floor`` (the fewest of that order; all of them if none do)."""
        target = floor * self.full[0]
        counts = self.counts(ind)
        if self.sizes(counts)[0] >= target:
            return
        adds = [i for i, b in enumerate(ind) if not b]
        random.shuffle(adds)

        def added(k: int) -> list[int]:
            c = list(counts)
            for i in adds[:k]:
                c[self.group_of[i]] += 1
            return c
        for i in adds[:fewest(len(adds), lambda k: self.sizes(added(k))[0] >= target)]:
            ind[i] = 1


def fewest(n: int, enough: Callable[[int], bool]) -> int:
    """The smallest ``k`` in 0..``n`` with ``enough(k)``, for ``enough`` false then true as
    ``k`` grows (binary search); ``n`` when none is."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def repairBudget(ind: MutableSequence[int], space: MaskSpace, budget: float,
                 measure: Measures = "parameters", image_size: int = 256,
                 scores: Scores | None = None, convention: str = "output",
                 round_to: int = 1) -> tuple:
    """Drop kept channels until ``space.size_ratio(ind, m, image_size) <= budget`` for every
    measure ``m`` of ``measure`` (one name or several, e.g. ``("parameters", "macs")``).

    ``budget`` is a size ratio: 0.25 = 4x fewer parameters (``"parameters"``) or MACs at
    ``image_size`` pixels (``"macs"``, ``convention`` as in
    :meth:`~deap_gan_prune.core.maskspace.MaskSpace.size_of_counts`). First restores
    the group minimums (:func:`repairMinKeep`), then drops kept channels in random order
    (stdlib ``random``), or, with ``scores`` (one per bit, higher = more important, divided
    by their group's mean so layers compare), least important first — until every measure
    meets the budget. Each drop lowers the size by that channel's own cost (its
    filter, the next layer's input slice and the MACs of both), so the fewest drops of the
    order that meet the budget are taken. A group never falls below ``max(min_keep, 1)``; a
    budget that the minimums cannot meet is a ValueError naming the smallest reachable size.
    Only drops channels: a mask already within budget is left as it is. ``round_to`` > 1
    (Torch-Pruning's ``round_to``): every group first keeps the allowed count nearest its own
    (:func:`~deap_gan_prune.core.maskspace.allowed_counts`: channels in multiples of
    ``round_to``, or the whole group), and drops then take a group down to its next allowed
    count. In place; returns ``(ind,)``.
    """
    check_length(ind, space, "repairBudget")
    BudgetPlan(space, budget, measure, image_size, convention, scores, round_to).repair(ind)
    return (ind,)


def _repair_results(result: object, fix: Callable) -> object:
    """Apply ``fix`` to every individual an operator returned (a tuple of individuals, or a
    single individual as ``toolbox.individual`` returns)."""
    for ind in (result if isinstance(result, tuple) else (result,)):
        fix(ind)
    return result


class _RepairDecorator:
    """A DEAP decorator (in the manner of ``tools.DeltaPenalty``): ``toolbox.decorate(slot,
    decorator)`` repairs, in place, every individual the decorated operator returns (a tuple
    of individuals, or the one individual ``toolbox.individual`` returns)."""

    def fix(self, ind: MutableSequence[int]) -> None:
        raise NotImplementedError

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return _repair_results(func(*args, **kwargs), self.fix)
        return wrapper


class MinKeepRepair(_RepairDecorator):
    """DEAP decorator: ``toolbox.decorate("mutate", MinKeepRepair(space))`` applies
    :func:`repairMinKeep` to every individual the operator returns."""

    def __init__(self, space: MaskSpace, scores: Scores | None = None) -> None:
        self.space, self.scores = space, check_scores(scores, space, "MinKeepRepair")

    def fix(self, ind: MutableSequence[int]) -> None:
        repairMinKeep(ind, self.space, self.scores)


class BudgetRepair(_RepairDecorator):
    """DEAP decorator: ``toolbox.decorate("mate", BudgetRepair(space, 0.25))`` applies
    :func:`repairBudget` to every individual the operator returns (also works on
    ``toolbox.individual``, which returns one individual). An impossible budget raises here,
    when the decorator is made, not in the middle of a search. ``round_to``: as
    :func:`repairBudget`'s (a budget of 1 with ``round_to`` only rounds)."""

    def __init__(self, space: MaskSpace, budget: float, measure: Measures = "parameters",
                 image_size: int = 256, scores: Scores | None = None,
                 convention: str = "output", round_to: int = 1) -> None:
        self.plan = BudgetPlan(space, budget, measure, image_size, convention, scores,
                               round_to)

    def fix(self, ind: MutableSequence[int]) -> None:
        self.plan.repair(ind)


class ParentSizeRepair:
    """DEAP decorator for ``mate`` and ``mutate``: every returned individual is repaired
    (:func:`repairBudget`) to at most ``growth`` times the size in ``measure`` that the
    individual in the same position had when the operator was called (the first child of a
    crossover to the first parent's size, a mutant to its own). Variation then moves a mask
    within its size (``growth=1``) or lets it grow by at most that factor, as a budget repair
    does at one budget, instead of letting mutation grow the small masks of a size range
    (flips turn mostly-dropped channels on)."""

    def __init__(self, space: MaskSpace, measure: Measure = "parameters", image_size: int = 256,
                 scores: Scores | None = None, convention: str = "output",
                 growth: float = 1.0) -> None:
        if not growth >= 1.0:
            raise ValueError(f"ParentSizeRepair: growth must be >= 1, got {growth!r}")
        self.growth = growth
        self.plan = BudgetPlan(space, 1.0, measure, image_size, convention, scores)

    def __call__(self, func: Callable) -> Callable:
        plan, growth = self.plan, self.growth

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            caps = [[growth * size for size in plan.sizes(plan.counts(a))]
                    for a in args if isinstance(a, list)]
            result = func(*args, **kwargs)
            children = result if isinstance(result, tuple) else (result,)
            for child, cap in zip(children, caps):
                plan.repair(child, cap)
            return result
        return wrapper


def repairMinSize(ind: MutableSequence[int], space: MaskSpace, floor: float,
                  measure: Measure = "parameters", image_size: int = 256,
                  convention: str = "output") -> tuple:
    """Turn dropped channels back on, in random order (stdlib ``random``), until
    ``space.size_ratio(ind, measure, image_size) >= floor``: the fewest of that order that
    reach it (the full mask when ``floor >= 1``). A mask already at or above ``floor`` is
    left as it is. In place; returns ``(ind,)``."""
    check_length(ind, space, "repairMinSize")
    BudgetPlan(space, 1.0, measure, image_size, convention, None).raise_to(ind, floor)
    return (ind,)


class MinSizeRepair(_RepairDecorator):
    """DEAP decorator: applies :func:`repairMinSize` to every individual the operator
    returns, so none falls below ``floor`` (a size ratio of ``measure``)."""

    def __init__(self, space: MaskSpace, floor: float, measure: Measure = "parameters",
                 image_size: int = 256, convention: str = "output") -> None:
        self.floor = floor
        self.plan = BudgetPlan(space, 1.0, measure, image_size, convention, None)

    def fix(self, ind: MutableSequence[int]) -> None:
        self.plan.raise_to(ind, self.floor)


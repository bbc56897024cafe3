"""Roulette selections that are safe for any fitness values.

DEAP's ``tools.selRoulette`` reads raw values, so it selects backwards under minimisation,
returns nothing for all-zero fitness and always picks the best under mixed signs (upstream
issues #87, #211). ``selRouletteWeighted`` (fitness-proportional, the paper's) fixes all of
these; ``selRouletteRank`` draws by rank, which keeps its pressure when the values lie close
together. For tournament selection use DEAP's ``tools.selTournament``.
"""
from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Sequence
from operator import attrgetter


def _weighted_value(ind: object, fit_attr: str, position: int, where: str) -> float:
    fit = getattr(ind, fit_attr)
    if not fit.valid:
        raise ValueError(f"{where}: individual {position} has no fitness values "
                         f"(evaluate the population before selecting)")
    value = float(sum(fit.wvalues))
    if not math.isfinite(value):
        raise ValueError(f"{where}: individual {position} has a non-finite "
                         f"fitness {fit.values!r}")
    return value


def roulette_shares(values: Sequence[float]) -> list[float]:
    """Selection weights (not normalised) for weighted fitness ``values``, higher = better:
    ``v - m + |m| / n`` with ``m = min(0, min(values))`` and ``n = len(values)``.

    One rule for any sign: when no value is negative (``m = 0``) this is plain
    fitness-proportional selection, and a zero fitness gets no share without changing anybody
    else's; negative values (e.g. minimisation, whose weighted values are negative) are
    shifted up so that the worst keeps a share of ``|m| / n`` and the others keep their
    differences. The shares move continuously with the values. All shares zero (every value
    zero): uniform.
    """
    shift = min(0.0, min(values))
    shares = [v - shift * (1 + 1 / len(values)) for v in values]
    return shares if any(shares) else [1.0] * len(values)


def rank_shares(values: Sequence[float], pressure: float = 1.5) -> list[float]:
    """Linear ranking weights: the worst of n gets ``2 - pressure``, the best ``pressure``,
    evenly spaced by rank in between (ties share their mean rank); ``pressure`` in [1, 2]
    (1 = uniform). Only the order of ``values`` matters, not their spread."""
    if not 1.0 <= pressure <= 2.0:
        raise ValueError(f"rank_shares: pressure must be in [1, 2], got {pressure}")
    n = len(values)
    if n == 1:
        return [1.0]
    order = sorted(range(n), key=values.__getitem__)
    rank = [0.0] * n
    i = 0
    while i < n:  # ties get the mean of the ranks they span
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            rank[order[t]] = (i + j) / 2
        i = j + 1
    return [(2 - pressure) + 2 * (pressure - 1) * r / (n - 1) for r in rank]


def _draw(individuals: Sequence, k: int, shares: Sequence[float], chosen: list) -> list:
    cumulative = list(itertools.accumulate(shares))
    total, last = cumulative[-1], len(individuals) - 1
    for _ in range(k):
        i = bisect.bisect_right(cumulative, random.random() * total)
        chosen.append(individuals[min(i, last)])
    return chosen


def _check_k(individuals: Sequence, k: int, elitism: int, where: str) -> None:
    if k < 0:
        raise ValueError(f"{where}: k must be >= 0, got {k}")
    if elitism < 0:
        raise ValueError(f"{where}: elitism must be >= 0, got {elitism}")
    if k and not individuals:
        raise ValueError(f"{where}: cannot select {k} from an empty population")


def _select(individuals: Sequence, k: int, elitism: int, fit_attr: str, where: str,
            shares_of: Callable[[list[float]], Sequence[float]]) -> list:
    """The ``elitism`` best first, then ``k - elitism`` draws with the weights
    ``shares_of(weighted values)``: what both roulettes share."""
    _check_k(individuals, k, elitism, where)
    if k == 0:
        return []
    values = [_weighted_value(ind, fit_attr, i, where) for i, ind in enumerate(individuals)]
    n_elite = min(elitism, k, len(individuals))
    chosen = sorted(individuals, key=attrgetter(fit_attr), reverse=True)[:n_elite]
    return _draw(individuals, k - n_elite, shares_of(values), chosen)


def selRouletteRank(individuals: Sequence, k: int, pressure: float = 1.5, elitism: int = 0,
                    fit_attr: str = "fitness") -> list:
    """Select ``k`` individuals (references, repeats allowed) with probabilities linear in
    their rank (:func:`rank_shares`), so the pressure does not fade when fitness values lie
    close together. ``elitism`` as in :func:`selRouletteWeighted`. O(n log n + k log n)."""
    return _select(individuals, k, elitism, fit_attr, "selRouletteRank",
                   lambda values: rank_shares(values, pressure))


def selRouletteWeighted(individuals: Sequence, k: int, elitism: int = 0,
                        fit_attr: str = "fitness") -> list:
    """Select ``k`` individuals (references, repeats allowed), fitness-proportionally.

    Uses the *weighted* values (``fitness.wvalues``), so it is correct for maximisation and
    minimisation alike; for several objectives the weighted values are summed (meaningful
    only when the objectives share a scale: this selection is meant for one objective).
    Zero, negative and equal fitness are handled as :func:`roulette_shares` describes.
    ``elitism``: the best ``min(elitism, k, len(individuals))`` individuals (by fitness
    comparison, as ``tools.selBest``) come first, then ``k - elitism`` roulette draws from the
    whole population. Always returns exactly ``k`` individuals, even when ``k`` exceeds the
    population size. O(n + k log n).
    """
    return _select(individuals, k, elitism, fit_attr, "selRouletteWeighted", roulette_shares)

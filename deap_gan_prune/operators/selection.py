"""A fitness-proportional (roulette) selection that is safe for any fitness values.

DEAP's ``tools.selRoulette`` reads raw values, so it selects backwards under minimisation,
returns nothing for all-zero fitness and always picks the best under mixed signs (upstream
issues #87, #211). ``selRouletteWeighted`` fixes all of these.
"""
from __future__ import annotations

import bisect
import itertools
import math
import random
from operator import attrgetter
from typing import Sequence


def _weighted_value(ind, fit_attr: str, position: int) -> float:
    fit = getattr(ind, fit_attr)
    if not fit.valid:
        raise ValueError(f"selRouletteWeighted: individual {position} has no fitness values "
                         f"(evaluate the population before selecting)")
    value = float(sum(fit.wvalues))
    if not math.isfinite(value):
        raise ValueError(f"selRouletteWeighted: individual {position} has a non-finite "
                         f"fitness {fit.values!r}")
    return value


def roulette_shares(values: Sequence[float]) -> list[float]:
    """Selection weights (not normalised) for weighted fitness ``values``, higher = better.

    All values > 0: the values themselves (plain fitness-proportional selection). Otherwise
    (zero or negative values, e.g. minimisation, whose weighted values are negative) the
    values are shifted so that the worst gets ``(max - min) / n`` and the others keep their
    differences: ``v - min + (max - min) / n``. All values equal: uniform.
    """
    lo, hi = min(values), max(values)
    if hi == lo:
        return [1.0] * len(values)
    if lo > 0:
        return list(values)
    floor = (hi - lo) / len(values)
    return [v - lo + floor for v in values]


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
    if k < 0:
        raise ValueError(f"selRouletteWeighted: k must be >= 0, got {k}")
    if elitism < 0:
        raise ValueError(f"selRouletteWeighted: elitism must be >= 0, got {elitism}")
    if k == 0:
        return []
    if not individuals:
        raise ValueError(f"selRouletteWeighted: cannot select {k} from an empty population")
    values = [_weighted_value(ind, fit_attr, i) for i, ind in enumerate(individuals)]
    n_elite = min(elitism, k, len(individuals))
    chosen = sorted(individuals, key=attrgetter(fit_attr), reverse=True)[:n_elite]
    cumulative = list(itertools.accumulate(roulette_shares(values)))
    total, last = cumulative[-1], len(individuals) - 1
    for _ in range(k - n_elite):
        i = bisect.bisect_right(cumulative, random.random() * total)
        chosen.append(individuals[min(i, last)])
    return chosen

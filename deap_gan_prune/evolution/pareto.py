"""The front: which masks (pairs of masks, for two generators) no other dominates, and picking
one.

Pure Python over the objective values (all minimised): :func:`nondominated` filters points,
:func:`front_points` combines the generators' archived masks, :func:`knee_index` and
:func:`choose_point` pick a point of the front (the knee, or by index, size or latency).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any


def nondominated(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the points no other point dominates (all objectives minimised; of equal
    points the first is kept), in the given order."""
    keep = []
    for i, p in enumerate(points):
        dominated = False
        for j, q in enumerate(points):
            if j != i and all(a <= b for a, b in zip(q, p)) and (
                    any(a < b for a, b in zip(q, p)) or j < i):
                dominated = True
                break
        if not dominated:
            keep.append(i)
    return keep


def pair_values(*terms: dict) -> dict[str, float]:
    """A point's values: the mean of its generators' (score, sizes, latency)."""
    return {k: sum(t[k] for t in terms) / len(terms) for k in terms[0]
            if all(k in t for t in terms)}


def front_points(archives: Mapping[str, Sequence], toolboxes: Mapping[str, Any],
                 objectives: Sequence[str]) -> list[dict]:
    """The non-dominated combinations of archived (evaluated) masks, one per generator (a
    pair for two), on the mean values of ``("score", *objectives)``, sorted by the first
    size objective: ``[{name: mask, ..., "terms": {name: terms}, "values"}]``. Scores are the
    individuals' fitness; sizes come from ``toolbox.sizes``."""
    names = list(archives)
    terms = {n: [{"score": ind.fitness.values[0], **toolboxes[n].sizes(ind)}
                 for ind in archives[n]] for n in names}
    combos = [(c, pair_values(*(terms[n][i] for n, i in zip(names, c))))
              for c in itertools.product(*(range(len(terms[n])) for n in names))]
    keep = nondominated([[v[k] for k in ("score", *objectives)] for _, v in combos])
    points: list[dict[str, Any]] = [
        {**{n: [int(b) for b in archives[n][i]] for n, i in zip(names, c)},
         "terms": {n: terms[n][i] for n, i in zip(names, c)}, "values": v}
        for c, v in (combos[k] for k in keep)]
    points.sort(key=lambda p: (p["values"][objectives[0]], p["values"]["score"]))
    return points


def knee_index(points: Sequence[dict], size: str) -> int:
    """The point nearest the ideal one (lowest score and lowest ``size``), both normalised
    to [0, 1] over the front."""
    def scaled(key):
        values = [p["values"][key] for p in points]
        lo, hi = min(values), max(values)
        return [(v - lo) / (hi - lo) if hi > lo else 0.0 for v in values]
    score, sz = scaled("score"), scaled(size)
    return min(range(len(points)), key=lambda i: (math.hypot(score[i], sz[i]), i))


def choose_point(points: Sequence[dict], index: int | None = None,
                 at_size: float | None = None, at_latency: float | None = None,
                 size: str = "parameters", default: int = 0) -> int:
    """The index of a point of the front: ``index``; or the best-scoring point whose pair
    ``size`` ratio is at most ``at_size``; or whose predicted latency is at most
    ``at_latency`` ms; else ``default``. One-line ValueError when none qualifies."""
    if sum(v is not None for v in (index, at_size, at_latency)) > 1:
        raise ValueError("choose a point by one of index, size or latency")
    if index is not None:
        if not 0 <= index < len(points):
            raise ValueError(f"point {index} is not on the front (0..{len(points) - 1})")
        return index
    if at_size is None and at_latency is None:
        return default
    key, limit = (size, at_size) if at_size is not None else ("latency", at_latency)
    if any(key not in p["values"] for p in points):
        raise ValueError(f"the front has no {key} values (search it with a latency model)")
    within = [i for i, p in enumerate(points) if p["values"][key] <= limit]
    if not within:
        smallest = min(p["values"][key] for p in points)
        unit = " ms" if key == "latency" else f" of the {key}"
        raise ValueError(f"no point of the front is within {limit:g}{unit} (the smallest is "
                         f"{smallest:.4g}{unit})")
    return min(within, key=lambda i: (points[i]["values"]["score"], i))

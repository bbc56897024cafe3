"""The front of pairs: which (A, B) mask pairs no other pair dominates, and picking one.

Pure Python over the objective values (all minimised): :func:`nondominated` filters points,
:func:`pair_front` pairs the two generators' archived masks, :func:`knee_index` and
:func:`choose_point` pick a point of the front (the knee, or by index, size or latency).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
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


def pair_values(terms_a: dict, terms_b: dict) -> dict[str, float]:
    """A pair's values: the mean of its two generators' (score, sizes, latency)."""
    return {k: (terms_a[k] + terms_b[k]) / 2 for k in terms_a if k in terms_b}


def pair_front(archives: tuple[Sequence, Sequence], toolboxes: Sequence[Any],
               objectives: Sequence[str]
               ) -> list[dict]:
    """The non-dominated pairs of archived (evaluated) masks on the pair values of
    ``("score", *objectives)``, sorted by the first size objective: ``[{"A", "B", "terms",
    "values"}]``. Scores are the individuals' fitness; sizes come from
    ``toolbox.sizes``."""
    terms = [[{"score": ind.fitness.values[0], **toolbox.sizes(ind)}
              for ind in archive] for archive, toolbox in zip(archives, toolboxes)]
    pairs = [(i, j, pair_values(ta, tb)) for i, ta in enumerate(terms[0])
             for j, tb in enumerate(terms[1])]
    names = ("score", *objectives)
    keep = nondominated([[v[n] for n in names] for _, _, v in pairs])
    points: list[dict[str, Any]] = [
        {"A": [int(b) for b in archives[0][i]], "B": [int(b) for b in archives[1][j]],
         "terms": {"A": terms[0][i], "B": terms[1][j]}, "values": v}
        for i, j, v in (pairs[k] for k in keep)]
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

"""Initialisers: build one individual (like ``tools.initRepeat(container, ...)``).

``container`` is the individual class, e.g. ``creator.MaskIndividual`` (a ``list`` subclass);
the result holds 0/1 ints, one per bit of the mask space, 1 = keep the channel.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from ..core.maskspace import MaskSpace, Measure
from .mutation import mutMoveChannels
from .repair import check_scores, repairBudget, repairMinKeep


def initMaskBernoulli(container: Callable, space: MaskSpace, p_keep: float = 0.5) -> Any:
    """Each bit kept with probability ``p_keep`` (the paper's 0.5), then group minimums
    restored with :func:`repairMinKeep`."""
    if not 0.0 <= p_keep <= 1.0:
        raise ValueError(f"initMaskBernoulli: p_keep must be in [0, 1], got {p_keep!r}")
    ind = container(1 if random.random() < p_keep else 0 for _ in range(space.n_bits))
    repairMinKeep(ind, space)
    return ind


def initMaskSize(container: Callable, space: MaskSpace, ratio: float,
                 measure: Measure = "parameters", image_size: int = 256) -> Any:
    """A random mask of about ``ratio`` of the original's ``measure`` ("parameters" or
    "macs"): each bit kept with probability ``min(1, 1.25·√ratio)`` (sizes grow about with
    the square of the keep share), then repaired to at most ``ratio`` (:func:`repairBudget`,
    random order)."""
    if not 0 < ratio <= 1:
        raise ValueError(f"initMaskSize: ratio must be in (0, 1], got {ratio!r}")
    p_keep = min(1.0, 1.25 * math.sqrt(ratio))
    ind = container(1 if random.random() < p_keep else 0 for _ in range(space.n_bits))
    repairBudget(ind, space, ratio, measure, image_size)
    return ind


def size_strata(low: float, high: float, n: int) -> list[float]:
    """``n`` size ratios, one drawn log-uniformly in each of ``n`` strata of equal log width
    that tile [``low``, ``high``] (smallest first): unlike ``n`` independent draws, they
    always reach both ends of the range."""
    if not 0 < low <= high <= 1 or n < 1:
        raise ValueError(f"size_strata: need 0 < low <= high <= 1 and n >= 1, got {low!r}, "
                         f"{high!r}, {n!r}")
    step = (math.log(high) - math.log(low)) / n
    return [math.exp(math.log(low) + (i + random.random()) * step) for i in range(n)]


def initMaskSizeRange(container: Callable, space: MaskSpace, low: float = 0.05,
                      high: float = 0.5, measure: Measure = "parameters",
                      image_size: int = 256) -> Any:
    """A mask of a random size: :func:`initMaskSize` at a ratio drawn log-uniformly in
    [``low``, ``high``] (ratios of the original's ``measure``, "parameters" or "macs").
    A population of these spans the size range, as a multi-objective search needs
    (:func:`size_strata` gives ratios that always reach both ends)."""
    if not 0 < low <= high <= 1:
        raise ValueError(f"initMaskSizeRange: need 0 < low <= high <= 1, got {low!r}, "
                         f"{high!r}")
    r = math.exp(random.uniform(math.log(low), math.log(high)))
    return initMaskSize(container, space, r, measure, image_size)


def initMaskFull(container: Callable, space: MaskSpace) -> Any:
    """The mask that keeps every channel (the unpruned generator)."""
    return container(space.full())


def initMaskImportance(container: Callable, space: MaskSpace, scores: Sequence[float],
                       keep_ratio: float = 0.5, noise: float = 0.1) -> Any:
    """Keep about the top ``keep_ratio`` share of each group by importance, perturbed.

    ``scores``: one per bit, higher = more important (e.g. :func:`l1_importance`). Within each
    group the scores are min-max normalised to [0, 1]; each channel's key is its normalised
    score plus Gaussian noise of standard deviation ``noise`` (so channels within about
    ``noise`` of each other may trade places and individuals differ); the
    ``max(round(keep_ratio * size), min_keep, 1)`` channels with the highest keys are kept.
    ``noise=0`` gives the deterministic top-k mask.
    """
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"initMaskImportance: keep_ratio must be in (0, 1], got {keep_ratio!r}")
    if noise < 0:
        raise ValueError(f"initMaskImportance: noise must be >= 0, got {noise!r}")
    values = check_scores(scores, space, "initMaskImportance")
    assert values is not None  # scores are required here
    bits = [0] * space.n_bits
    for g in space.groups:
        part = values[g.offset:g.stop]
        lo, hi = min(part), max(part)
        spread = hi - lo
        n_keep = min(g.size, max(round(keep_ratio * g.size), g.min_keep, 1))
        keys = []
        for j, s in enumerate(part):
            base = (s - lo) / spread if spread > 0 else 0.5
            keys.append((base + (random.gauss(0.0, noise) if noise > 0 else 0.0),
                         random.random(), j))
        for _, _, j in sorted(keys, reverse=True)[:n_keep]:
            bits[g.offset + j] = 1
    return container(bits)


def initMaskCounts(container: Callable, space: MaskSpace, counts: Sequence[int],
                   moves: int = 0, fraction: float = 0.25, measure: Measure = "parameters",
                   image_size: int = 256, round_to: int = 1) -> Any:
    """Random channels with ``counts`` kept in each group (e.g. the uniform mask's,
    :func:`deap_gan_prune.core.baselines.uniform_counts`), then ``moves`` capacity moves
    (:func:`mutMoveChannels` with ``fraction``, ``measure``, ``image_size``, ``round_to``): a
    population of these explores group widths around one size instead of random bit
    strings."""
    if len(counts) != len(space.groups):
        raise ValueError(f"initMaskCounts: {len(counts)} counts for {len(space.groups)} "
                         "groups")
    if moves < 0:
        raise ValueError(f"initMaskCounts: moves must be >= 0, got {moves!r}")
    bits = [0] * space.n_bits
    for g, c in zip(space.groups, counts):
        if not 0 <= c <= g.size:
            raise ValueError(f"initMaskCounts: group {g.name!r} has {g.size} channels, "
                             f"asked to keep {c}")
        for j in random.sample(range(g.size), c):
            bits[g.offset + j] = 1
    ind = container(bits)
    repairMinKeep(ind, space)
    for _ in range(moves):
        mutMoveChannels(ind, space, fraction, measure, image_size, round_to)
    return ind

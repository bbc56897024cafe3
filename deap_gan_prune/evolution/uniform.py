"""Uniform seeding: the uniform keep-ratio mask (every group keeps the same share of its
channels) as a starting individual of a single-budget search (:func:`uniform_individual`),
and uniform masks spread over a size range as starting points of a front
(:func:`uniform_range_masks`)."""
from __future__ import annotations

import math
from typing import Any, cast

from ..core.baselines import random_mask_like, uniform_mask
from ..core.maskspace import MaskSpace, Measure, SizeFunction, SizeMeasure
from .search_config import SearchConfig


def budget_measures(config: SearchConfig, latency: SizeFunction | None = None
                    ) -> tuple[Measure, ...]:
    """``config.budget_measures`` with "latency" replaced by the size function ``latency``
    (e.g. a :class:`~deap_gan_prune.nets.latency_model.LatencyModel`); ValueError (one line)
    when the config budgets latency and none is given."""
    if "latency" in config.budget_measures and latency is None:
        raise ValueError("budget_measures has 'latency': give each generator's latency model "
                         "(Task.latency)")
    return tuple(latency if m == "latency" and latency is not None else m
                 for m in config.budget_measures)


def uniform_individual(space: MaskSpace, config: SearchConfig, individual_cls: type,
                       latency: SizeFunction | None = None) -> Any:
    """The uniform keep-ratio mask at ``config.budget``, met in every budget measure (the AND
    of the per-measure masks, which keep per-group prefixes of one order; "latency" is the
    size function ``latency``; counts rounded as ``config.round_to`` asks), as an individual;
    with ``config.seed_channels == "random"``
    the same counts of random channels (:func:`random_mask_like` with ``config.seed``)."""
    assert config.budget is not None  # the uniform mask is met at the budget
    masks = [uniform_mask(space, config.budget, m, round_to=config.round_to)
             for m in budget_measures(config, latency)]
    bits = [int(all(col)) for col in zip(*masks)]
    if config.seed_channels == "random":
        bits = random_mask_like(space, bits, config.seed)
    return individual_cls(bits)


def uniform_range_masks(space: MaskSpace, low: float, high: float, count: int,
                        measure: str = "parameters", image_size: int = 256) -> list[list[int]]:
    """``count`` uniform keep-ratio masks (:func:`uniform_mask`) at size ratios of ``measure``
    spaced evenly in log from ``low`` to ``high`` (both included; one mask: ``high``)."""
    if count <= 0:
        return []
    ratios = [high] if count == 1 else [
        math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (count - 1))
        for i in range(count)]
    return [uniform_mask(space, r, cast(SizeMeasure, measure), image_size) for r in ratios]

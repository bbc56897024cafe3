"""DEAP operators on channel masks (pure Python: stdlib ``random`` only).

Every operator follows DEAP's contract: it works in place, returns ``(ind1, ind2)``
(crossovers), ``(ind,)`` (mutations, repairs) or a list of ``k`` references (selections), never
clones and never touches fitness. Variation operators take the :class:`MaskSpace` and end
with :func:`repairMinKeep`, so every group keeps at least ``max(min_keep, 1)`` channels.
Decorators, which wrap an operator in ``toolbox.decorate``, are classes named ``…Repair``
(``BudgetRepair``), as DEAP's ``tools.DeltaPenalty``; operators are functions named by their
role first (``repairBudget``).
In the pipeline they sit between the mask space (:mod:`deap_gan_prune.core.maskspace`, whose
sizes they read) and evolution (:mod:`deap_gan_prune.evolution`, which registers them).
"""
from .crossover import cxGroupBoundary, cxTwoPointMask, cxUniformGroup
from .init import (
    initMaskBernoulli,
    initMaskCounts,
    initMaskFull,
    initMaskImportance,
    initMaskSize,
    initMaskSizeRange,
    size_strata,
)
from .mutation import mutFlipMask, mutMoveChannels, mutSegmentInvert
from .repair import (
    BudgetRepair,
    MinKeepRepair,
    MinSizeRepair,
    ParentSizeRepair,
    normalise_per_group,
    repairBudget,
    repairMinKeep,
    repairMinSize,
)
from .selection import rank_shares, roulette_shares, selRouletteRank, selRouletteWeighted

__all__ = [
    "initMaskBernoulli", "initMaskCounts", "initMaskFull", "initMaskImportance", "initMaskSize",
    "initMaskSizeRange", "size_strata",
    "selRouletteWeighted", "selRouletteRank", "roulette_shares", "rank_shares",
    "cxTwoPointMask", "cxGroupBoundary", "cxUniformGroup",
    "mutFlipMask", "mutSegmentInvert", "mutMoveChannels",
    "repairMinKeep", "repairBudget", "repairMinSize", "normalise_per_group",
    "MinKeepRepair", "BudgetRepair", "ParentSizeRepair", "MinSizeRepair",
]

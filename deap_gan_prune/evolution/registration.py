"""DEAP types and toolbox slots for mask evolution (pure Python + deap).

Nothing here is hidden: :func:`register` only calls ``toolbox.register`` and
``toolbox.decorate`` with the public operators of :mod:`deap_gan_prune.operators`, and its
docstring lists the equivalent calls so a user can register each piece by hand.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deap import base, creator, tools

from ..core.maskspace import MaskSpace, Measure
from ..operators import (
    BudgetRepair,
    cxGroupBoundary,
    cxTwoPointMask,
    cxUniformGroup,
    initMaskBernoulli,
    mutFlipMask,
    mutMoveChannels,
    mutSegmentInvert,
    selRouletteRank,
    selRouletteWeighted,
)

MATES = {"two_point": cxTwoPointMask, "group_boundary": cxGroupBoundary,
         "uniform_group": cxUniformGroup}
MUTATIONS = {"segment": mutSegmentInvert, "flip": mutFlipMask, "move": mutMoveChannels}
SELECTIONS = {"tournament": tools.selTournament, "rank": selRouletteRank,
              "roulette": selRouletteWeighted}


def _definition(cls: type) -> tuple:
    """``(base, attributes)`` a creator class was made with (``creator.create`` records it)."""
    args = getattr(cls, "reduce_args", None)
    return (args[1], dict(args[2])) if args else (cls.__bases__[0], {})


def _fitness_matches(cls: type, weights: tuple) -> bool:
    _, attrs = _definition(cls)
    return (isinstance(cls, type) and issubclass(cls, base.Fitness)
            and tuple(getattr(cls, "weights", ())) == weights and set(attrs) <= {"weights"})


def create_types(fitness_name: str = "FitnessMask", individual_name: str = "MaskIndividual",
                 weights: Sequence[float] = (1.0,)) -> tuple[type, type]:
    """Create (or reuse) ``creator.<fitness_name>`` and ``creator.<individual_name>``.

    Equivalent to ``creator.create(fitness_name, base.Fitness, weights=weights)`` and
    ``creator.create(individual_name, list, fitness=creator.<fitness_name>)``. A name that
    already exists with the same definition is reused silently (no creator warning); one that
    exists with a different definition raises ValueError instead of being replaced.
    Returns ``(fitness_cls, individual_cls)``.
    """
    weights = tuple(float(w) for w in weights)
    if not weights:
        raise ValueError("create_types: weights must hold at least one objective weight")
    fitness_cls = getattr(creator, fitness_name, None)
    if fitness_cls is None:
        creator.create(fitness_name, base.Fitness, weights=weights)
        fitness_cls = getattr(creator, fitness_name)
    elif not _fitness_matches(fitness_cls, weights):
        raise ValueError(f"create_types: creator.{fitness_name} already exists with another "
                         f"definition (weights {getattr(fitness_cls, 'weights', None)}, wanted "
                         f"{weights}); pass another fitness_name")
    individual_cls = getattr(creator, individual_name, None)
    if individual_cls is None:
        creator.create(individual_name, list, fitness=fitness_cls)
        individual_cls = getattr(creator, individual_name)
    else:
        bases, attrs = _definition(individual_cls)
        fit = attrs.get("fitness")
        same_fitness = fit is fitness_cls or (
            isinstance(fit, type) and fit.__name__ == fitness_name
            and _fitness_matches(fit, weights))
        if not (bases is list and set(attrs) == {"fitness"} and same_fitness):
            raise ValueError(f"create_types: creator.{individual_name} already exists with "
                             f"another definition (base {bases.__name__}, attributes "
                             f"{sorted(attrs)}); pass another individual_name")
    return fitness_cls, individual_cls


@dataclass(frozen=True)
class Operators:
    """Which of our operators :func:`register` puts in a toolbox, and their settings.

    p_keep: the probability a bit is kept at initialisation (:func:`initMaskBernoulli`).
    mate: "two_point" (:func:`cxTwoPointMask`), "group_boundary" (:func:`cxGroupBoundary`) or
    "uniform_group" (:func:`cxUniformGroup`, with ``indpb=mate_indpb``). mutate: "segment"
    (:func:`mutSegmentInvert`, with ``max_length=segment_max_length``), "flip"
    (:func:`mutFlipMask`, with ``indpb=mutate_indpb``, default ``1 / space.n_bits``) or "move"
    (:func:`mutMoveChannels`, with ``fraction=move_fraction`` and the first budget measure).
    select: "tournament" (DEAP's ``tools.selTournament`` with ``tournsize``: keeps its
    pressure when fitness values lie close together, as they do for masks at one budget),
    "rank" (:func:`selRouletteRank`, with ``rank_pressure`` and ``elitism``) or "roulette"
    (:func:`selRouletteWeighted`, fitness-proportional as in the paper, with ``elitism``).
    round_to: kept channels in multiples of it (:func:`mutMoveChannels` steps between such
    counts and the budget repair rounds to them; 1: any count).
    """

    p_keep: float = 0.5
    mate: str = "two_point"
    mate_indpb: float = 0.5
    mutate: str = "segment"
    mutate_indpb: float | None = None
    segment_max_length: int | None = None
    move_fraction: float = 0.25
    select: str = "tournament"
    tournsize: int = 3
    rank_pressure: float = 1.5
    elitism: int = 0
    round_to: int = 1

    def __post_init__(self) -> None:
        for what, value, table in (("mate", self.mate, MATES),
                                   ("mutate", self.mutate, MUTATIONS),
                                   ("select", self.select, SELECTIONS)):
            if value not in table:
                raise ValueError(f"Operators: unknown {what} {value!r}: use one of "
                                 f"{sorted(table)}")


def register(toolbox: base.Toolbox, space: MaskSpace, individual_cls: type | None = None,
             operators: Operators | None = None, *, budget: float | None = None,
             measure: Measure | Sequence[Measure] = "parameters", image_size: int = 256,
             scores: Sequence[float] | None = None) -> base.Toolbox:
    """Fill ``individual``, ``population``, ``mate``, ``mutate`` and ``select`` of ``toolbox``
    with the :class:`Operators` chosen (default: ``Operators()``).

    ``evaluate`` is left to the caller (the fitness lives elsewhere). With the defaults and
    ``budget=0.25`` this is exactly::

        toolbox.register("individual", initMaskBernoulli, creator.MaskIndividual, space,
                         p_keep=0.5)
        toolbox.register("population", tools.initRepeat, list, toolbox.individual)
        toolbox.register("mate", cxTwoPointMask, space=space)
        toolbox.register("mutate", mutSegmentInvert, space=space, max_length=None)
        toolbox.register("select", tools.selTournament, tournsize=3)
        for slot in ("individual", "mate", "mutate"):
            toolbox.decorate(slot, BudgetRepair(space, 0.25, measure="parameters",
                                                image_size=256, scores=None))

    (the population slot is registered after decorating ``individual``, so it builds repaired
    individuals). ``budget`` (a size ratio, e.g. 0.25 = 4x smaller in ``measure``, one name or
    several that must all be met) adds :func:`BudgetRepair` decorators, which drop channels
    in random order, or by ``scores`` (least important first) when given; an impossible
    budget raises ValueError here. ``operators.round_to`` > 1 keeps every group's channels in
    multiples of it: the repair rounds each count (with no budget, a :class:`BudgetRepair` at
    1 that only rounds) and capacity moves step between such counts. ``individual_cls``
    defaults to :func:`create_types`'s individual. Returns ``toolbox``.
    """
    o = operators or Operators()
    if individual_cls is None:
        individual_cls = create_types()[1]
    toolbox.register("individual", initMaskBernoulli, individual_cls, space, p_keep=o.p_keep)
    if o.mate == "uniform_group":
        toolbox.register("mate", cxUniformGroup, space=space, indpb=o.mate_indpb)
    else:
        toolbox.register("mate", MATES[o.mate], space=space)
    if o.mutate == "flip":
        indpb = 1.0 / space.n_bits if o.mutate_indpb is None else o.mutate_indpb
        toolbox.register("mutate", mutFlipMask, space=space, indpb=indpb)
    elif o.mutate == "move":
        first = measure if isinstance(measure, str) or callable(measure) else measure[0]
        toolbox.register("mutate", mutMoveChannels, space=space, fraction=o.move_fraction,
                         measure=first, image_size=image_size, round_to=o.round_to)
    else:
        toolbox.register("mutate", mutSegmentInvert, space=space,
                         max_length=o.segment_max_length)
    if o.select == "tournament":
        toolbox.register("select", tools.selTournament, tournsize=o.tournsize)
    elif o.select == "rank":
        toolbox.register("select", selRouletteRank, pressure=o.rank_pressure,
                         elitism=o.elitism)
    else:
        toolbox.register("select", selRouletteWeighted, elitism=o.elitism)
    if budget is not None or o.round_to > 1:
        repair = BudgetRepair(space, 1.0 if budget is None else budget, measure=measure,
                              image_size=image_size, scores=scores, round_to=o.round_to)
        for slot in ("individual", "mate", "mutate"):
            toolbox.decorate(slot, repair)
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    return toolbox

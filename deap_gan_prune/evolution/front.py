"""One search, the whole trade-off: the Pareto front of quality and size of both generators.

:func:`search_front` co-evolves a population of masks per generator with NSGA-II
(``tools.selNSGA2``, (μ + λ) as ``algorithms.eaMuPlusLambda``). Each mask has several
objectives, all minimised (a DEAP fitness with weights ``(-1.0, ...)``): the adapted
fitness's score (L1 to the original's outputs on held-out images after brief distillation),
or with ``fitness="supernet"`` the score of the mask on once-for-all weights (no adaptation),
and one or more sizes — the parameter ratio, the MAC ratio, or the latency (ms) predicted by a
:class:`~deap_gan_prune.nets.latency_model.LatencyModel`. Starting masks span a size range
(:func:`initMaskSizeRange`); optionally ``uniform_seeds`` of them are replaced by uniform
keep-ratio masks at sizes spaced evenly in log over the range (:func:`uniform_range_masks`; off
by default: on the shipped teacher it did not make the front level with single-budget searches
at 8x and 16x).
The range's upper end is a cap kept by :func:`BudgetRepair`; by default every child is also
capped at its parent's size (:func:`ParentSizeRepair`), so variation searches *at* the sizes
the population holds, as a single-budget search does at its budget, and the starting sizes
are stratified over the range (:func:`size_strata`), so both ends are held from the start.
Every evaluated mask goes into its generator's ``tools.ParetoFront`` archive.

Neither fitness depends on the partner generator, so the two populations evolve
independently through one loop; the front of *pairs* is the non-dominated set of the pairs of
archived masks, a pair's objectives being the means of its two generators'.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from deap import algorithms, base, tools

from ..core.maskspace import MaskSpace
from ..nets.latency_model import LatencyModel
from ..operators import (
    MinSizeRepair,
    ParentSizeRepair,
    initMaskSize,
    initMaskSizeRange,
    size_strata,
)
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from ..seeding import seeded
from .coevolution import CoevolutionState
from .evolve import evaluate_invalid
from .fitnesses import make_fitnesses
from .front_config import FrontConfig
from .logbooks import logbook_records
from .pareto import front_points, knee_index
from .registration import Operators, create_types, register
from .resume import load_checkpoint, save_checkpoint
from .skeleton import (
    RunIdentity,
    attach_pool,
    check_options,
    check_population,
    evolve,
    identity,
    resume_from,
)
from .task import Task
from .uniform import uniform_range_masks

#: Score given to a mask the fitness could not score (never happens to repaired masks).
UNSCORABLE = 1e9


class FrontObjectives:
    """``objectives(individual, partner=None) -> (score, *sizes)``, all minimised: the
    adapted fitness's score and the sizes named in ``objectives`` (see :class:`FrontConfig`).
    ``terms`` gives all of them by name (``latency`` only with a latency model). Ignores
    ``partner``.
    """

    uses_partner = False

    def __init__(self, fitness: Any, objectives: Sequence[str],
                 latency: LatencyModel | None = None,
                 image_size: int = 256) -> None:
        if "latency" in objectives and latency is None:
            raise ValueError("the latency objective needs a latency model")
        self.fitness, self.objectives = fitness, tuple(objectives)
        self.space: MaskSpace = fitness.space
        self.latency, self.image_size = latency, image_size
        if latency is not None and not latency.matches(self.space):
            raise ValueError("the latency model was measured for another network or mask "
                             f"space (space {latency.key.get('space')!r}), not {self.space!r}")

    def sizes(self, individual: Sequence[int]) -> dict[str, float]:
        """Parameter and MAC ratios, and predicted latency (ms) with a model (cheap)."""
        bits = [int(b) for b in individual]
        sizes = {"parameters": self.space.size_ratio(bits, "parameters"),
                 "macs": self.space.size_ratio(bits, "macs", self.image_size)}
        if self.latency is not None:
            sizes["latency"] = self.latency.predict(bits)
        return sizes

    def terms(self, individual: Sequence[int],
              partner: Sequence[int] | None = None) -> dict[str, float]:  # noqa: ARG002 (the fitness protocol: passed by keyword)
        """The score (after adaptation: the costly part) and :meth:`sizes`."""
        score = float(self.fitness.terms([int(b) for b in individual])["score"])
        return {"score": score if math.isfinite(score) else UNSCORABLE,
                **self.sizes(individual)}

    def __call__(self, individual: Sequence[int],
                 partner: Sequence[int] | None = None) -> tuple[float, ...]:  # noqa: ARG002 (the fitness protocol)
        terms = self.terms(individual)
        return tuple(terms[name] for name in ("score", *self.objectives))


def reference_points(n_objectives: int, population: int) -> np.ndarray:
    """NSGA-III's reference points: ``tools.uniform_reference_points`` with the most
    divisions that give at most ``population`` points (at least one division)."""
    divisions = 1
    while math.comb(divisions + n_objectives, n_objectives - 1) <= population:
        divisions += 1
    return tools.uniform_reference_points(n_objectives, divisions)


def starting_population(toolbox: base.Toolbox, config: FrontConfig) -> list:
    """``config.population`` starting masks: one per size stratum of ``config.size_range``
    (``size_init="strata"``, :func:`size_strata`) or drawn independently (``"random"``)."""
    if config.size_init == "random":
        return toolbox.population(n=config.population)
    return [toolbox.individual_at(r) for r in size_strata(*config.size_range, config.population)]


def build_front_toolbox(space: MaskSpace, objectives: FrontObjectives, config: FrontConfig,
                        individual_cls: type, image_size: int = 256,
                        map_function: Callable | None = None) -> base.Toolbox:
    """One generator's toolbox: our crossover and mutation with a budget repair at the size
    range's upper end (:func:`register`) and, with ``size_cap="parent"``, at each parent's
    size (:func:`ParentSizeRepair`); :func:`initMaskSizeRange` individuals and
    ``individual_at(ratio)`` (:func:`initMaskSize`); ``config.survivors`` as ``select``;
    ``objectives`` as ``evaluate`` (with ``terms`` and ``sizes``)."""
    low, high = config.size_range
    toolbox = base.Toolbox()
    register(toolbox, space, individual_cls, Operators(mate=config.mate, mutate=config.mutate),
             budget=high, measure=config.range_measure, image_size=image_size)
    toolbox.register("individual", initMaskSizeRange, individual_cls, space, low, high,
                     config.range_measure, image_size)
    toolbox.register("individual_at", initMaskSize, individual_cls, space,
                     measure=config.range_measure, image_size=image_size)
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    if config.size_cap == "parent":
        cap = ParentSizeRepair(space, config.range_measure, image_size,
                               growth=config.size_growth)
        for slot in ("mate", "mutate"):
            toolbox.decorate(slot, cap)
    if config.size_floor:  # outermost: the floor wins over the parent's size
        floor = MinSizeRepair(space, low, config.range_measure, image_size)
        for slot in ("mate", "mutate"):
            toolbox.decorate(slot, floor)
    if config.survivors == "nsga2":
        toolbox.register("select", tools.selNSGA2)
    elif config.survivors == "spea2":
        toolbox.register("select", tools.selSPEA2)
    else:
        toolbox.register("select", tools.selNSGA3,
                         ref_points=reference_points(1 + len(config.objectives),
                                                     config.population))
    toolbox.register("evaluate", objectives)
    toolbox.register("terms", objectives.terms)
    toolbox.register("sizes", objectives.sizes)
    if map_function is not None:
        toolbox.register("map", map_function)
    return toolbox


def _chapter(population: list, archive: tools.ParetoFront, nevals: int) -> dict:
    values = np.array([ind.fitness.values for ind in population], dtype=float)
    first = tools.sortNondominated(population, len(population), first_front_only=True)[0]
    return {"nevals": nevals, "score_min": float(values[:, 0].min()),
            "score_avg": float(values[:, 0].mean()), "size_min": float(values[:, 1].min()),
            "size_max": float(values[:, 1].max()), "front": len(first),
            "archive": len(archive)}


def iterEvolveFront(populations: tuple[list, ...],
                      toolboxes: tuple[base.Toolbox, base.Toolbox], ngen: int, *,
                      cxpb: float = 0.6, mutpb: float = 0.4,
                      start: CoevolutionState | None = None) -> Iterator[CoevolutionState]:
    """Yield the state after every generation 0..``ngen`` of independent (μ + λ)
    multi-objective evolutions (one per generator) run side by side: λ = μ children by
    ``algorithms.varOr``, evaluated through ``toolbox.map``, then μ survivors by ``toolbox.select``
    (``tools.selNSGA2``). ``state.archives`` holds each population's ``tools.ParetoFront`` of
    every evaluated individual; ``start`` resumes (the random state is the caller's)."""
    if start is None:
        logbook = tools.Logbook()
        logbook.header = ["gen", *"AB"[:len(populations)]]
        archives = tuple(tools.ParetoFront() for _ in populations)
        pops, chapters, nevals = [], {}, []
        for name, pop, toolbox, archive in zip("AB", populations, toolboxes, archives):
            n = evaluate_invalid(pop, toolbox)
            pop = toolbox.select(pop, len(pop))  # ranks and crowding distances
            archive.update(pop)
            pops.append(pop)
            nevals.append(n)
            chapters[name] = _chapter(pop, archive, n)
        logbook.record(gen=0, **chapters)
        best = tuple(tools.selBest(pop, 1)[0] for pop in pops)
        state = CoevolutionState(0, tuple(pops), best, logbook, tuple(nevals), None, {},
                                 archives)
        yield state
    else:
        state = start
    for gen in range(state.gen + 1, ngen + 1):
        pops, chapters, nevals = [], {}, []
        assert state.archives is not None  # a front search's state has archives
        for name, pop, toolbox, archive in zip("AB", state.populations, toolboxes,
                                               state.archives):
            offspring = algorithms.varOr(pop, toolbox, len(pop), cxpb, mutpb)
            n = evaluate_invalid(offspring, toolbox)
            archive.update(offspring)
            pop = toolbox.select(pop + offspring, len(pop))
            pops.append(pop)
            nevals.append(n)
            chapters[name] = _chapter(pop, archive, n)
        state.logbook.record(gen=gen, **chapters)
        best = tuple(tools.selBest(pop, 1)[0] for pop in pops)
        state = CoevolutionState(gen, tuple(pops), best, state.logbook, tuple(nevals), None,
                                 state.extra, state.archives)
        yield state


@dataclass
class FrontResult:
    """The front (``points``, sorted by size; each with every generator's mask and terms by
    name, and the point's values, the means over the generators), the chosen point (the
    knee), the spaces, the logbook, the configuration, the latency model's key, and the
    final populations and archives."""

    points: list[dict]
    chosen: int
    spaces: dict[str, MaskSpace]
    logbook: tools.Logbook
    config: FrontConfig
    latency_key: dict | None = None
    populations: tuple[Sequence, ...] = field(repr=False, default=((), ()))
    archives: tuple = field(repr=False, default=((), ()))

    def masks(self, index: int | None = None) -> dict[str, list[int]]:
        """Every generator's mask at point ``index`` (default: the chosen one), by name."""
        point = self.points[self.chosen if index is None else index]
        return {n: point[n] for n in self.spaces}

    def to_dict(self) -> dict:
        """JSON-ready: ``kind`` "front", the objectives, the points, the chosen index, the
        spaces, the configuration, the latency model's key and the logbook's records."""
        return {"kind": "front", "objectives": ["score", *self.config.objectives],
                "chosen": self.chosen, "points": self.points,
                "spaces": {n: s.to_dict() for n, s in self.spaces.items()},
                "config": self.config.to_dict(), "latency": self.latency_key,
                "logbook": logbook_records(self.logbook)}


def search_front(task: Task, config: FrontConfig, options: RunOptions = DEFAULT_OPTIONS
                 ) -> FrontResult:
    """The Pareto front of quality and size of masks of the task's generators (module
    docstring; :func:`~.search.search` with a :class:`FrontConfig` calls it).

    The first ``config.n_images`` images of each generator are scored on, the next
    ``config.adapt_images`` adapted on. ``task.latency``: each generator's latency model
    (needed for the "latency" objective; when given, every point also carries its predicted
    latency). ``task.discriminators``: only for ``adapt_score="discriminator"``. With
    ``config.fitness="supernet"``, a point's masks are slimmed from ``task.supernets``.
    ``options`` as :func:`~.search.search`'s.
    """
    check_options(options)
    names = task.names
    with seeded(config.seed, [options.device]):
        tables = [cast(LatencyModel | None, task.latency.get(n)) for n in names]
        image_size = int(task.images[names[0]].shape[-1])
        spaces = task.space_map(config.layout)
        check_population(config.population, sum(s.n_bits for s in spaces.values()))
        fits = make_fitnesses(task, config.search_config(), spaces, options.device)
        n_obj = 1 + len(config.objectives)
        _, individual_cls = create_types(f"FitnessFront{n_obj}", f"FrontIndividual{n_obj}",
                                         weights=(-1.0,) * n_obj)
        objectives = {n: FrontObjectives(fits[n], config.objectives, table, image_size)
                      for n, table in zip(names, tables)}
        toolboxes = {n: build_front_toolbox(spaces[n], objectives[n], config, individual_cls,
                                            image_size, options.map_function) for n in names}
        populations = tuple(starting_population(toolboxes[n], config) for n in names)
        for pop, n in zip(populations, names):
            seeds = uniform_range_masks(spaces[n], *config.size_range,
                                        min(config.uniform_seeds, config.population // 2),
                                        config.range_measure, image_size)
            pop[:len(seeds)] = [individual_cls(bits) for bits in seeds]
        models = [*task.generators.values(), *(task.supernets.get(n) for n in names)]
        run = identity(options.checkpoint, {"search": "front", **config.to_dict()},
                       list(fits.values()), models,
                       latency=[None if t is None else t.hash() for t in tables])
        start = resume_from(run, options.resume, lambda r: _load_front(individual_cls, r),
                            config.generations)
        pool = attach_pool(list(toolboxes.values()), dict(zip("AB", objectives.values())),
                           options)
        states = iterEvolveFront(populations, tuple(toolboxes.values()), config.generations,
                                 cxpb=config.cxpb, mutpb=config.mutpb, start=start)
        state = evolve(states, start, desc="front", generations=config.generations,
                       postfix=_postfix, options=options, pool=pool,
                       save=None if run is None else
                       lambda s: save_checkpoint(run.path, s, run.config, run.digest))
        assert state.archives is not None  # iterEvolveFront keeps them
        points = front_points(dict(zip(names, state.archives)), toolboxes, config.objectives)
        chosen = knee_index(points, config.objectives[0])
        key = tables[0].key if tables[0] is not None else None
        return FrontResult(points, chosen, spaces, state.logbook, config, key,
                           state.populations, state.archives)


def _load_front(individual_cls: type, run: RunIdentity) -> CoevolutionState:
    start = load_checkpoint(run.path, individual_cls, run.config, run.digest)
    if start.archives is None:
        raise ValueError(f"{run.path}: not a checkpoint of a front search")
    return start


def _postfix(state: CoevolutionState) -> dict:
    return {f"front_{n}": chapter[-1]["archive"]
            for n, chapter in state.logbook.chapters.items()}


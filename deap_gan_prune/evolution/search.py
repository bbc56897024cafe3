"""The search: masks of one generator or two, from the public pieces.

:func:`search` is what ``examples/horse2zebra.py`` and ``deap-gan-prune search`` run. A
:class:`~.task.Task` names the generators; one is evolved alone (:func:`iterEvolve`), two are
co-evolved (:func:`iterCoevolve`, each scored with the other's best as cycle partner), and a
:class:`~.front_config.FrontConfig` asks for the Pareto front of quality and size instead
(:mod:`.front`). The pieces: mask spaces, DEAP types and toolboxes (:func:`register`), the
fitness of each generator (:func:`make_fitnesses`: the adapted fitness by default, the paper's,
or the supernet's), the uniform seed and the finalists. A user who wants another pipeline
copies :func:`search` and changes what they need. Its settings are in :mod:`.search_config`,
its result in :mod:`.result`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, overload

from deap import base, tools
from tqdm.auto import tqdm

from ..core.maskspace import MaskSpace, SizeFunction, measure_name
from ..fitness.base import MaskFitness
from ..nets.importance import l1_importance
from ..operators import BudgetRepair, initMaskCounts, initMaskImportance
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from ..seeding import seed_everything as seed_everything  # re-exported: part of this API
from ..seeding import seeded
from .coevolution import CoevolutionState, iterCoevolve
from .evolve import EvolutionState, iterEvolve
from .fitnesses import make_fitnesses
from .front import FrontResult, search_front
from .front_config import FrontConfig
from .registration import Operators, create_types, register
from .result import SearchResult
from .resume import (
    load_checkpoint,
    load_single_checkpoint,
    save_checkpoint,
    save_single_checkpoint,
)
from .search_config import SearchConfig
from .skeleton import (
    HALL_OF_FAME_SIZE,
    RunIdentity,
    attach_pool,
    check_options,
    check_population,
    evolve,
    fitness_statistics,
    identity,
    resume_from,
)
from .skeleton import evaluation_map as evaluation_map  # re-exported: part of this API
from .skeleton import fitness_images_hash as fitness_images_hash  # re-exported
from .task import Task
from .uniform import budget_measures, uniform_individual


def run_settings(config: SearchConfig, latency: Sequence[SizeFunction | None]) -> dict:
    """What a search's checkpoint records of its settings: ``config.to_dict()`` and, with a
    "latency" budget, each generator's size function (a model's hash, or the function's
    name), so that a run resumes only with the same models."""
    if "latency" not in config.budget_measures:
        return config.to_dict()
    names = []
    for size in latency:
        digest = getattr(size, "hash", None)
        names.append(str(digest()) if callable(digest) else
                     measure_name(size) if size is not None else "")
    return {**config.to_dict(), "latency": names}


def build_toolbox(space: MaskSpace, fitness: MaskFitness, config: SearchConfig,
                  individual_cls: type,
                  scores: Sequence[float] | None = None,
                  map_function: Callable | None = None,
                  latency: SizeFunction | None = None) -> base.Toolbox:
    """One species' toolbox: our operators through :func:`register`, plus ``evaluate``,
    ``terms`` and ``map``. ``scores``: L1 importance per bit, for ``init="importance"`` and
    ``repair_order="l1"``. ``latency``: the size function a "latency" budget measure means
    (:func:`budget_measures`)."""
    toolbox = base.Toolbox()
    repair_scores = scores if config.repair_order == "l1" else None
    measures = budget_measures(config, latency)
    register(toolbox, space, individual_cls,
             Operators(p_keep=config.p_keep, mate=config.mate, mutate=config.mutate,
                       move_fraction=config.move_fraction, select=config.select,
                       tournsize=config.tournsize, round_to=config.round_to),
             budget=config.budget, measure=measures, scores=repair_scores)
    if config.init in ("importance", "uniform"):
        if config.init == "importance":
            toolbox.register("individual", initMaskImportance, individual_cls, space, scores,
                             keep_ratio=config.p_keep)
        else:
            counts = list(space.kept(uniform_individual(space, config, list, latency)
                                     ).values())
            toolbox.register("individual", initMaskCounts, individual_cls, space, counts,
                             moves=config.init_moves, fraction=config.move_fraction,
                             measure=measures[0], round_to=config.round_to)
        if config.budget is not None:
            toolbox.decorate("individual", BudgetRepair(space, config.budget, measures,
                                                        scores=repair_scores,
                                                        round_to=config.round_to))
        toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("evaluate", fitness)
    toolbox.register("terms", fitness.terms)
    if map_function is not None:
        toolbox.register("map", map_function)
    return toolbox


def score_finalists(task: Task, name: str, config: SearchConfig, spaces: Mapping[str, MaskSpace],
                    candidates: Sequence[Sequence[int]], options: RunOptions = DEFAULT_OPTIONS
                    ) -> tuple[list[dict], MaskFitness]:
    """Each of ``candidates`` (masks of generator ``name``) distilled for
    ``config.finalist_steps`` steps and scored by the adapted fitness with that many steps
    (no cycle term); returns ``([{name: mask, "score": s}], fitness)``, best first (ties keep
    the given order), and the fitness that scored them."""
    alone = Task({name: task.generators[name]}, {name: task.images[name]},
                 {name: task.discriminators[name]} if name in task.discriminators else {},
                 input_range=task.input_range)
    judge = make_fitnesses(alone, replace(config, adapt_steps=config.finalist_steps,
                                          fitness="adapted"), spaces, options.device)[name]
    scored = [{name: list(m), "score": float(judge(m)[0])}
              for m in tqdm(candidates, desc=f"finalists {name}", unit="mask",
                            disable=not options.progress)]
    return sorted(scored, key=lambda f: -f["score"]), judge


@overload
def search(task: Task, config: FrontConfig, options: RunOptions | None = None
           ) -> FrontResult: ...
@overload
def search(task: Task, config: SearchConfig | None = None, options: RunOptions | None = None
           ) -> SearchResult: ...
def search(task: Task, config: SearchConfig | FrontConfig | None = None,
           options: RunOptions | None = None) -> SearchResult | FrontResult:
    """Search masks for the generators of ``task`` (one, or two co-evolved).

    ``config``: a :class:`SearchConfig` (one budget; returns a :class:`SearchResult`) or a
    :class:`FrontConfig` (the Pareto front of quality and size; returns a
    :class:`~.front.FrontResult`). ``options`` (:class:`~deap_gan_prune.runoptions.RunOptions`):
    the device; a progress bar; ``callback(state)`` after every generation (True stops);
    ``map_function``, or ``workers`` processes / Ray actors at ``ray_address``, to score
    candidates (closed at the end; the result is the same); ``checkpoint``, a JSON file
    rewritten after every generation, continued with ``resume`` (refused if written with
    another config, other networks or other images). Deterministic under ``config.seed``,
    however often killed and resumed; the caller's global random states are given back as
    they were (:func:`seeded`).

    With ``fitness="supernet"``, masks are scored on ``task.supernets``' weights against the
    originals' outputs, and the winner is then ``slim(S, mask, space)``. With
    ``finalists`` > 0, the best ``finalists`` masks of each generator's hall of fame and its
    uniform seed are adapted longer (:func:`score_finalists`) and the best of them wins.
    """
    options = options or DEFAULT_OPTIONS
    if isinstance(config, FrontConfig):
        return search_front(task, config, options)
    config = config or SearchConfig()
    if config.finalists > 0 and config.fitness != "adapted":
        raise ValueError("finalists are scored by the adapted fitness: use fitness='adapted'")
    check_options(options)
    names = task.names
    with seeded(config.seed, [options.device]):
        spaces = task.space_map(config.layout)
        check_population(config.population, sum(s.n_bits for s in spaces.values()))
        fits = make_fitnesses(task, config, spaces, options.device)
        _, individual_cls = create_types()
        needs_scores = (config.budget is not None and config.repair_order == "l1"
                        ) or config.init == "importance"
        toolboxes = {n: build_toolbox(
            spaces[n], fits[n], config, individual_cls,
            l1_importance(task.weights(n), spaces[n]) if needs_scores else None,
            options.map_function, latency=task.latency.get(n)) for n in names}
        populations = {n: toolboxes[n].population(n=config.population) for n in names}
        seeds: dict[str, Any] = {}
        if config.budget is not None and config.seed_uniform:
            for n in names:
                seeds[n] = populations[n][0] = uniform_individual(
                    spaces[n], config, individual_cls, task.latency.get(n))
        models = [*task.generators.values(),
                  *(task.discriminators.get(n) for n in names),
                  *(task.supernets.get(n) for n in names)]
        run = _Run(config, options, fits, toolboxes, populations, individual_cls, identity(
            options.checkpoint, run_settings(config, [task.latency.get(n) for n in names]),
            list(fits.values()), models))
        outcome = _evolve_alone(run) if len(names) == 1 else _coevolve(run)
        masks, terms = outcome.masks, outcome.terms
        finalists: list[dict] = []
        for n in names if config.finalists > 0 else ():
            candidates: list[list[int]] = []
            for entry in outcome.halloffame:
                if entry[n] not in candidates and len(candidates) < config.finalists:
                    candidates.append(entry[n])
            if n in seeds and list(seeds[n]) not in candidates:
                candidates.append(list(seeds[n]))
            scored, judge = score_finalists(task, n, config, spaces, candidates, options)
            finalists += scored
            masks[n] = scored[0][n]
            terms[n] = judge.terms(individual_cls(masks[n]))
        return SearchResult(masks, spaces, outcome.logbook, terms, config,
                            outcome.populations, outcome.halloffame, finalists)


@dataclass
class _Run:
    """What the evolution of one population and the co-evolution of two both need: the
    settings, each generator's fitness, toolbox and starting population (by name), the
    individual class and the checkpoint's identity (None: no checkpoint)."""

    config: SearchConfig
    options: RunOptions
    fitnesses: dict[str, MaskFitness]
    toolboxes: dict[str, base.Toolbox]
    populations: dict[str, list]
    individual_cls: type
    identity: RunIdentity | None


@dataclass
class _Outcome:
    """The best masks and their terms, the hall of fame as records, the final populations
    and the logbook of an evolution (by generator name)."""

    masks: dict[str, list[int]]
    terms: dict[str, dict]
    halloffame: list[dict]
    populations: dict[str, list]
    logbook: tools.Logbook


def _evolve_alone(run: _Run) -> _Outcome:
    """One generator's masks evolved alone (:func:`iterEvolve`), resumable."""
    c, ident = run.config, run.identity
    ((name, fitness),) = run.fitnesses.items()
    toolbox = run.toolboxes[name]
    start = resume_from(ident, run.options.resume, lambda r: load_single_checkpoint(
        r.path, run.individual_cls, r.config, r.digest, HALL_OF_FAME_SIZE), c.generations)
    pool = attach_pool([toolbox], {"A": fitness}, run.options)
    states = iterEvolve(start or run.populations[name], toolbox, c.generations, cxpb=c.cxpb,
                        mutpb=c.mutpb, elitism=c.elitism, stats=fitness_statistics(),
                        halloffame=tools.HallOfFame(HALL_OF_FAME_SIZE))
    state = evolve(states, start, desc="evolution", generations=c.generations,
                   postfix=_postfix_one, options=run.options, pool=pool,
                   save=_saver(ident, save_single_checkpoint))
    best = state.halloffame[0]
    return _Outcome({name: list(best)}, {name: fitness.terms(best)},
                    [{name: list(m), "score": float(m.fitness.values[0])}
                     for m in state.halloffame], {name: state.population}, state.logbook)


def _coevolve(run: _Run) -> _Outcome:
    """Two generators' masks co-evolved (:func:`iterCoevolve`, each scored with the other's
    best as cycle partner), resumable; the best pair is the hall of fame's first."""
    c, ident = run.config, run.identity
    names = tuple(run.fitnesses)
    start = resume_from(ident, run.options.resume, lambda r: load_checkpoint(
        r.path, run.individual_cls, r.config, r.digest), c.generations)
    pool = attach_pool(list(run.toolboxes.values()), dict(zip("AB", run.fitnesses.values())),
                       run.options)
    states = iterCoevolve(start or (run.populations[names[0]], run.populations[names[1]]),
                          (run.toolboxes[names[0]], run.toolboxes[names[1]]), c.generations,
                          cxpb=c.cxpb, mutpb=c.mutpb, elitism=c.elitism, schedule=c.schedule,
                          stats=(fitness_statistics(), fitness_statistics()))
    state = evolve(states, start, desc="co-evolution", generations=c.generations,
                   postfix=_postfix_two, options=run.options, pool=pool,
                   save=_saver(ident, save_checkpoint))
    assert state.halloffame is not None  # iterCoevolve keeps one
    best = dict(zip(names, state.halloffame.items[0][:2]))
    terms = {n: run.fitnesses[n].terms(best[n], partner=best[m])
             for n, m in zip(names, names[::-1])}
    return _Outcome({n: list(m) for n, m in best.items()}, terms,
                    [{names[0]: list(a), names[1]: list(b), "gen": g, "score": sc}
                     for a, b, g, sc in state.halloffame.items],
                    dict(zip(names, state.populations)), state.logbook)


def _saver(run: RunIdentity | None, save: Callable) -> Callable | None:
    """The checkpoint writer of a search's state (None: no checkpoint file)."""
    if run is None:
        return None
    return lambda state: save(run.path, state, run.config, run.digest)


def _postfix_one(state: EvolutionState) -> dict:
    return {"F": f"{state.halloffame[0].fitness.values[0]:.3f}",
            "size": f"{state.logbook[-1]['best_size_ratio']:.2f}"}


def _postfix_two(state: CoevolutionState) -> dict:
    a, b = state.logbook.chapters["A"][-1], state.logbook.chapters["B"][-1]
    return {"F_A": f"{a['best_fitness']:.3f}", "F_B": f"{b['best_fitness']:.3f}",
            "size_A": f"{a['best_size_ratio']:.2f}",
            "size_B": f"{b['best_size_ratio']:.2f}"}

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
from dataclasses import replace
from typing import Any

import torch
from deap import base, tools
from tqdm.auto import tqdm

from ..fitness.adapted import Adaptation, AdaptedFitness
from ..fitness.base import MaskFitness, Partner, Scoring
from ..fitness.distillation import BriefDistillation
from ..fitness.paper import GeneratorFitness
from ..fitness.supernet import SupernetFitness
from ..nets.baselines import random_mask_like, uniform_mask
from ..nets.importance import l1_importance
from ..nets.maskspace import MaskSpace, Measure, SizeFunction, measure_name
from ..operators import BudgetRepair, initMaskCounts, initMaskImportance
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from ..seeding import seed_everything as seed_everything  # re-exported: part of this API
from ..seeding import seeded
from .coevolution import CoevolutionState, iterCoevolve
from .evolve import EvolutionState, iterEvolve
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


def budget_measures(config: SearchConfig, latency: SizeFunction | None = None
                    ) -> tuple[Measure, ...]:
    """``config.budget_measures`` with "latency" replaced by the size function ``latency``
    (e.g. a :class:`~deap_gan_prune.nets.latency_model.LatencyModel`); ValueError (one line)
    when the config budgets latency and none is given."""
    if "latency" in config.budget_measures and latency is None:
        raise ValueError("budget_measures has 'latency': give the latency model (latency=...)")
    return tuple(latency if m == "latency" and latency is not None else m
                 for m in config.budget_measures)


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
                       tournsize=config.tournsize),
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
                             measure=measures[0])
        if config.budget is not None:
            toolbox.decorate("individual", BudgetRepair(space, config.budget, measures,
                                                        scores=repair_scores))
        toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("evaluate", fitness)
    toolbox.register("terms", fitness.terms)
    if map_function is not None:
        toolbox.register("map", map_function)
    return toolbox


def _windows(task: Task, name: str, config: SearchConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``name``'s scoring images (the first ``n_images``) and adaptation images (the next
    ``train_images``)."""
    images = task.images[name]
    return images[:config.n_images], images[config.n_images:config.n_images +
                                            config.train_images]


def make_fitnesses(task: Task, config: SearchConfig, spaces: Mapping[str, MaskSpace],
                   device: Any = "cpu") -> dict[str, MaskFitness]:
    """The fitness ``config.fitness`` names, for each generator of ``task`` (the one place
    where it is chosen): "adapted" (:class:`AdaptedFitness`: distilled on the adaptation
    images, scored on the scoring images), "paper" (:class:`GeneratorFitness`, the perceptual
    term "pixel" for a generator without discriminator; with ``train_steps``, each candidate
    briefly trained first) or "supernet" (:class:`SupernetFitness`, on ``task.supernets``).
    A generator's cycle partner (``task.partner``) gives the cycle term, weighted by
    ``config.lambda_cycle``."""
    if (config.fitness == "supernet") != bool(task.supernets):
        raise ValueError("fitness='supernet' needs the task's supernets, and supernets need "
                         "fitness='supernet'")
    if config.fitness == "supernet" and config.adapt_score not in ("l1", "ssim"):
        raise ValueError(f"the supernet fitness scores 'l1' or 'ssim', not "
                         f"{config.adapt_score!r}")
    scoring = Scoring(gamma=float(config.gamma or 0.0), size_measure=config.size_measure,
                      batch_size=config.batch_size, device=device,
                      input_range=task.input_range)
    fits: dict[str, MaskFitness] = {}
    for name, generator in task.generators.items():
        held, window = _windows(task, name, config)
        other = task.partner(name)
        partner = None if other is None else Partner(task.generators[other], spaces[other],
                                                     float(config.lambda_cycle or 0.0))
        judge = task.discriminators.get(name)
        if config.fitness == "supernet":
            fits[name] = SupernetFitness(task.supernets[name], spaces[name], held, scoring,
                                         original=generator, score=config.adapt_score)
        elif config.fitness == "paper":
            if config.train_steps > 0 and window.shape[0] == 0:
                raise ValueError(f"train_steps needs training images beyond the first "
                                 f"n_images={config.n_images} validation images of each "
                                 "generator")
            prepare = BriefDistillation.from_generator(
                generator, window, steps=config.train_steps, seed=config.seed
            ) if config.train_steps > 0 else None
            fits[name] = GeneratorFitness(
                generator, spaces[name], held, scoring, discriminator=judge,
                perceptual=config.perceptual if judge is not None else "pixel",
                partner=partner, prepare=prepare)
        else:
            if config.adapt_steps > 0 and window.shape[0] == 0:
                raise ValueError(
                    f"the adapted fitness needs adaptation images beyond the first n_images="
                    f"{config.n_images} scoring images (generator {name}: got "
                    f"{task.images[name].shape[0]} images; pass "
                    f"{config.n_images + config.train_images})")
            fits[name] = AdaptedFitness(
                generator, spaces[name], held, scoring, discriminator=judge, partner=partner,
                adaptation=Adaptation(window, config.adapt_steps, config.adapt_lr,
                                      seed=config.seed),
                score=config.adapt_score)
    return fits


def uniform_individual(space: MaskSpace, config: SearchConfig, individual_cls: type,
                       latency: SizeFunction | None = None) -> Any:
    """The uniform keep-ratio mask at ``config.budget``, met in every budget measure (the AND
    of the per-measure masks, which keep per-group prefixes of one order; "latency" is the
    size function ``latency``), as an individual; with ``config.seed_channels == "random"``
    the same counts of random channels (:func:`random_mask_like` with ``config.seed``)."""
    assert config.budget is not None  # the uniform mask is met at the budget
    masks = [uniform_mask(space, config.budget, m) for m in budget_measures(config, latency)]
    bits = [int(all(col)) for col in zip(*masks)]
    if config.seed_channels == "random":
        bits = random_mask_like(space, bits, config.seed)
    return individual_cls(bits)


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


def search(task: Task, config: SearchConfig | FrontConfig | None = None,
           options: RunOptions | None = None) -> Any:
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
        from .front import search_front  # the front's module imports this one
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
        run = identity(options.checkpoint,
                       run_settings(config, [task.latency.get(n) for n in names]),
                       list(fits.values()), models)
        if len(names) == 1:
            (name,) = names
            start = resume_from(run, options.resume, lambda r: load_single_checkpoint(
                r.path, individual_cls, r.config, r.digest, HALL_OF_FAME_SIZE),
                                config.generations)
            pool = attach_pool([toolboxes[name]], {"A": fits[name]}, options)
            state = evolve(iterEvolve(start or populations[name], toolboxes[name],
                                      config.generations, cxpb=config.cxpb,
                                      mutpb=config.mutpb, elitism=config.elitism,
                                      stats=fitness_statistics(),
                                      halloffame=tools.HallOfFame(HALL_OF_FAME_SIZE)),
                           start, desc="evolution", generations=config.generations,
                           postfix=_postfix_one, options=options, pool=pool,
                           save=_saver(run, save_single_checkpoint))
            best = {name: state.halloffame[0]}
            terms = {name: fits[name].terms(state.halloffame[0])}
            hof = [{name: list(m), "score": float(m.fitness.values[0])}
                   for m in state.halloffame]
            final, logbook = {name: state.population}, state.logbook
        else:
            start = resume_from(run, options.resume, lambda r: load_checkpoint(
                r.path, individual_cls, r.config, r.digest), config.generations)
            pool = attach_pool([toolboxes[n] for n in names], dict(zip("AB", fits.values())),
                               options)
            pair = tuple(toolboxes[n] for n in names)
            states = iterCoevolve(start or tuple(populations[n] for n in names), pair,
                                  config.generations, cxpb=config.cxpb, mutpb=config.mutpb,
                                  elitism=config.elitism, schedule=config.schedule,
                                  stats=(fitness_statistics(), fitness_statistics()))
            co = evolve(states, start, desc="co-evolution", generations=config.generations,
                        postfix=_postfix_two, options=options, pool=pool,
                        save=_saver(run, save_checkpoint))
            assert co.halloffame is not None  # iterCoevolve keeps one
            first = co.halloffame.items[0]
            best = dict(zip(names, first[:2]))
            terms = {n: fits[n].terms(best[n], partner=best[m])
                     for n, m in zip(names, names[::-1])}
            hof = [{names[0]: list(a), names[1]: list(b), "gen": g, "score": sc}
                   for a, b, g, sc in co.halloffame.items]
            final, logbook = dict(zip(names, co.populations)), co.logbook
        masks = {n: list(best[n]) for n in names}
        finalists: list[dict] = []
        if config.finalists > 0:
            for n in names:
                candidates = []
                for entry in hof:
                    if entry[n] not in candidates and len(candidates) < config.finalists:
                        candidates.append(entry[n])
                if n in seeds and list(seeds[n]) not in candidates:
                    candidates.append(list(seeds[n]))
                scored, judge = score_finalists(task, n, config, spaces, candidates, options)
                finalists += scored
                masks[n] = scored[0][n]
                terms[n] = judge.terms(individual_cls(masks[n]))
        return SearchResult(masks, spaces, logbook, terms, config, final, hof, finalists)


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

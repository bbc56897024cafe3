"""The co-evolutionary search of both generators' masks, assembled from the public pieces.

:func:`search_masks` is what ``examples/horse2zebra.py`` and ``deap-gan-prune search`` run:
mask spaces, DEAP types and toolboxes (:func:`register`), the two fitnesses
(:func:`adapted_fitnesses` by default, :func:`cyclegan_fitnesses` for the paper's) and
:func:`iterCoevolve`; the result is the best pair of its hall of fame. A user who wants
another pipeline copies this function and changes what they need. Its settings and result
are in :mod:`.search_config`; one generator alone is searched by :mod:`.single_search`.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from deap import base, tools

from ..fitness.adapted import adapted_fitnesses
from ..fitness.base import MaskFitness
from ..fitness.paper import cyclegan_fitnesses
from ..fitness.supernet import supernet_fitnesses
from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.baselines import random_mask_like, uniform_mask
from ..nets.importance import l1_importance
from ..nets.maskspace import MaskSpace, Measure, SizeFunction, measure_name, space_of
from ..operators import BudgetRepair, initMaskCounts, initMaskImportance
from ..seeding import seed_everything as seed_everything  # re-exported: part of this API
from ..seeding import seeded
from ..training.brief import BriefDistillation
from .coevolution import CoevolutionState, PairHallOfFame, iterCoevolve
from .registration import create_types, register
from .resume import load_checkpoint, save_checkpoint
from .search_config import SearchConfig, SearchResult
from .skeleton import (
    HALL_OF_FAME_SIZE,
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
    register(toolbox, space, individual_cls, p_keep=config.p_keep, mate=config.mate,
             mutate=config.mutate, move_fraction=config.move_fraction, select=config.select,
             tournsize=config.tournsize, budget=config.budget,
             measure=measures, scores=repair_scores)
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


def _brief_training(g_a: torch.nn.Module, g_b: torch.nn.Module, images_a: torch.Tensor,
                    images_b: torch.Tensor, config: SearchConfig) -> tuple:
    """Each generator's candidate-training step, or ``(None, None)`` when off."""
    if config.train_steps <= 0:
        return None, None
    window = slice(config.n_images, config.n_images + config.train_images)
    if images_a[window].shape[0] == 0 or images_b[window].shape[0] == 0:
        raise ValueError(f"train_steps needs training images beyond the first n_images="
                         f"{config.n_images} validation images of each domain")
    return tuple(BriefDistillation.from_generator(g, x[window], steps=config.train_steps,
                                                  seed=config.seed)
                 for g, x in ((g_a, images_a), (g_b, images_b)))


def make_fitnesses(g_a: torch.nn.Module, g_b: torch.nn.Module,
                   d_a: torch.nn.Module | None, d_b: torch.nn.Module | None,
                   images_a: torch.Tensor, images_b: torch.Tensor, config: SearchConfig,
                   spaces: tuple[MaskSpace, MaskSpace], device: str | torch.device = "cpu",
                   supernets: tuple[torch.nn.Module, torch.nn.Module] | None = None,
                   input_range: InputRange = DEFAULT_RANGE) -> tuple:
    """The fitness of each generator that ``config`` asks for: the first ``n_images`` images
    of each domain are the scoring (held-out) images; the adapted fitness distils candidates
    on the next ``train_images`` (at least one is needed); the supernet fitness scores masks
    on ``supernets`` (needed then, refused otherwise) against the originals. Images are in
    ``input_range`` (what the SSIM score maps from)."""
    if (config.fitness == "supernet") != (supernets is not None):
        raise ValueError("fitness='supernet' needs supernets=(S_A, S_B), and supernets need "
                         "fitness='supernet'")
    held_a, held_b = images_a[:config.n_images], images_b[:config.n_images]
    if config.fitness == "supernet":
        assert supernets is not None  # checked above
        if config.adapt_score not in ("l1", "ssim"):
            raise ValueError(f"the supernet fitness scores 'l1' or 'ssim', not "
                             f"{config.adapt_score!r}")
        return supernet_fitnesses(
            (supernets[0], supernets[1]), (g_a, g_b), held_a, held_b, space_a=spaces[0],
            space_b=spaces[1], score=config.adapt_score, gamma=config.gamma,
            size_measure=config.size_measure, batch_size=config.batch_size, device=device,
            input_range=input_range)
    if config.fitness == "paper":
        return cyclegan_fitnesses(
            g_a, g_b, d_a, d_b, held_a, held_b, space_a=spaces[0], space_b=spaces[1],
            perceptual=config.perceptual, lambda_cycle=config.lambda_cycle,
            gamma=config.gamma, size_measure=config.size_measure,
            batch_size=config.batch_size, device=device,
            prepare=_brief_training(g_a, g_b, images_a, images_b, config))
    window = slice(config.n_images, config.n_images + config.train_images)
    adapt_a, adapt_b = images_a[window], images_b[window]
    if config.adapt_steps > 0 and (adapt_a.shape[0] == 0 or adapt_b.shape[0] == 0):
        raise ValueError(
            f"the adapted fitness needs adaptation images beyond the first n_images="
            f"{config.n_images} scoring images of each domain (got {images_a.shape[0]} and "
            f"{images_b.shape[0]} images; pass {config.n_images + config.train_images})")
    return adapted_fitnesses(
        g_a, g_b, held_a, held_b, adapt_a, adapt_b, d_a=d_a, d_b=d_b, space_a=spaces[0],
        space_b=spaces[1], steps=config.adapt_steps, score=config.adapt_score,
        lambda_cycle=config.lambda_cycle, gamma=config.gamma,
        size_measure=config.size_measure, lr=config.adapt_lr, seed=config.seed,
        eval_batch_size=config.batch_size, device=device, input_range=input_range)


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


def seed_uniform_masks(populations: tuple[list, list], spaces: tuple[MaskSpace, MaskSpace],
                       config: SearchConfig, individual_cls: type,
                       latency: tuple[SizeFunction, SizeFunction] | None = None) -> None:
    """Replace the first individual of each population by :func:`uniform_individual`, in
    place (``latency``: each generator's size function for a "latency" budget)."""
    for i, (pop, space) in enumerate(zip(populations, spaces)):
        pop[0] = uniform_individual(space, config, individual_cls,
                                    None if latency is None else latency[i])


def search_masks(g_a: torch.nn.Module, g_b: torch.nn.Module, d_a: torch.nn.Module | None,
                 d_b: torch.nn.Module | None, images_a: torch.Tensor,
                 images_b: torch.Tensor, config: SearchConfig | None = None, *,
                 device: str | torch.device = "cpu", map_function: Callable | None = None,
                 progress: bool = True,
                 callback: Callable[[CoevolutionState], bool | None] | None = None,
                 workers: int = 0, ray_address: str | None = None,
                 checkpoint: str | os.PathLike | None = None, resume: bool = False,
                 supernets: tuple[torch.nn.Module, torch.nn.Module] | None = None,
                 input_range: InputRange = DEFAULT_RANGE,
                 latency: tuple[SizeFunction, SizeFunction] | None = None) -> SearchResult:
    """Co-evolve masks of G_A (A→B, judged by D_A) and G_B (B→A, judged by D_B).

    ``images_a``/``images_b``: validation images ``[m, 3, H, W]`` in ``input_range`` (default
    [-1, 1]) of domains A and B (the first ``config.n_images`` are used). ``map_function``
    replaces ``toolbox.map`` (a process pool or Ray map); or ``workers`` / ``ray_address`` make one
    (:func:`evaluation_map`), closed at the end. ``callback(state)`` runs after every
    generation; True stops. ``checkpoint``: a JSON file rewritten after every generation
    (:mod:`deap_gan_prune.evolution.resume`); with ``resume`` an existing one is continued
    (refused if written with another config, other networks or other images). Deterministic
    under ``config.seed``, whatever the workers and however often it was killed and resumed;
    the caller's global random states are given back as they were (:func:`seeded`).

    ``supernets``: with ``config.fitness="supernet"``, once-for-all versions (S_A, S_B) of the
    generators (:func:`deap_gan_prune.training.supernet.train_supernet`); masks are scored on
    their weights against the originals' outputs, and the winner is then
    ``slim(S_A, result.slot_masks()[0])`` (likewise B), fine-tuned as usual.

    ``latency``: what a "latency" budget measure means for each generator, a size function
    of the kept counts of its mask space (``space_of(g, images, config.layout)``), e.g. a
    :class:`~deap_gan_prune.nets.latency_model.LatencyModel` measured for it.
    """
    config = config or SearchConfig()
    check_options(checkpoint, resume, map_function, workers, ray_address)
    with seeded(config.seed, [device]):
        spaces = (space_of(g_a, images_a, config.layout), space_of(g_b, images_b, config.layout))
        check_population(config.population, sum(s.n_bits for s in spaces))
        fits = make_fitnesses(g_a, g_b, d_a, d_b, images_a, images_b, config, spaces, device,
                              supernets, input_range)
        weights = (g_a, g_b) if supernets is None else tuple(supernets)
        _, individual_cls = create_types()
        needs_scores = (config.budget is not None and config.repair_order == "l1"
                        ) or config.init == "importance"
        sizes = latency or (None, None)
        toolboxes = tuple(
            build_toolbox(space, fit, config, individual_cls,
                          l1_importance(g, space) if needs_scores else None, map_function,
                          latency=size)
            for space, fit, g, size in zip(spaces, fits, weights, sizes))
        populations = tuple(toolbox.population(n=config.population) for toolbox in toolboxes)
        if config.budget is not None and config.seed_uniform:
            seed_uniform_masks(populations, spaces, config, individual_cls, latency)
        run = identity(checkpoint, run_settings(config, sizes), fits,
                       (g_a, g_b, d_a, d_b, *(supernets or ())))
        start = resume_from(run, resume, lambda r: load_checkpoint(
            r.path, individual_cls, r.config, r.digest), config.generations)
        pool = attach_pool(toolboxes, dict(zip("AB", fits)), workers, ray_address)
        states = iterCoevolve(populations, toolboxes, config.generations, cxpb=config.cxpb,
                              mutpb=config.mutpb, elitism=config.elitism, schedule=config.schedule,
                              stats=(fitness_statistics(), fitness_statistics()),
                              halloffame=PairHallOfFame(HALL_OF_FAME_SIZE), start=start)
        state = evolve(states, start, desc="co-evolution", generations=config.generations,
                       postfix=_postfix, progress=progress, callback=callback, pool=pool,
                       save=None if run is None else
                       lambda s: save_checkpoint(run.path, s, run.config, run.digest))
        assert state.halloffame is not None  # given to iterCoevolve
        hof = state.halloffame.items
        best_a, best_b = hof[0][:2]
        terms = (fits[0].terms(best_a, partner=best_b), fits[1].terms(best_b, partner=best_a))
        return SearchResult((list(best_a), list(best_b)), spaces, state.logbook, terms,
                            config, state.populations, [(list(a), list(b), g, sc)
                                                        for a, b, g, sc in hof])


def _postfix(state: CoevolutionState) -> dict:
    a, b = state.logbook.chapters["A"][-1], state.logbook.chapters["B"][-1]
    return {"F_A": f"{a['best_fitness']:.3f}", "F_B": f"{b['best_fitness']:.3f}",
            "size_A": f"{a['best_size_ratio']:.2f}",
            "size_B": f"{b['best_size_ratio']:.2f}"}

"""The co-evolutionary search of both generators' masks, assembled from the public pieces.

:func:`search_masks` is what ``examples/horse2zebra.py`` and ``deap-gan-prune search`` run:
mask spaces, DEAP types and toolboxes (:func:`register`), the two fitnesses
(:func:`adapted_fitnesses` by default, :func:`cyclegan_fitnesses` for the paper's) and
:func:`iterCoevolve`; the result is the best pair of its hall of fame. A user who wants another pipeline copies
this function and changes what they need.
"""
from __future__ import annotations

import hashlib
import os
import random
from dataclasses import asdict, dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np
import torch
from deap import base, tools
from tqdm.auto import tqdm

from .coevolution import (CoevolutionState, PairHallOfFame, _evaluate, _offspring,
                          iterCoevolve)
from .adapted_fitness import AdaptedFitness, adapted_fitnesses
from .baselines import uniform_mask
from .fitness import GeneratorFitness, cyclegan_fitnesses
from .importance import l1_importance
from .logbooks import logbook_records
from .maskspace import MaskSpace, space_of
from .models import NLayerDiscriminator, ResnetGenerator
from .operators import budgetRepair, initMaskImportance

#: Pairs kept by the search's hall of fame.
HALL_OF_FAME_SIZE = 5
from .parallel import ProcessPoolMap, RayMap
from .registration import create_types, register
from .training.brief import BriefDistillation
from .resume import load_checkpoint, models_hash, rng_state, save_checkpoint, set_rng_state


@dataclass
class SearchConfig:
    """Settings of :func:`search_masks`. The defaults are the ones our benchmarks chose
    (README, "Results"); :meth:`paper` gives the paper's search.

    ``fitness``: "adapted" (:class:`AdaptedFitness`: each candidate distilled for
    ``adapt_steps`` steps toward the original on ``train_images`` adaptation images, then
    scored by ``adapt_score`` on the ``n_images`` held-out images; ``lambda_cycle`` adds a
    cycle term only when > 0 and the fitness is then partner-dependent) or "paper"
    (:class:`GeneratorFitness`, the paper's F with ``perceptual`` and ``lambda_cycle``).
    ``budget``: a size ratio (e.g. 0.25 = 4x smaller) that every individual is repaired to
    meet in every one of ``budget_measures``, dropping channels in random order
    (``repair_order="random"``) or least L1 norm first (``"l1"``); ``None`` for the paper's
    formulation, where only γ (``gamma``) pushes the size down. ``gamma=None`` means 0 with a
    budget (the repair caps the size) and 1 without.
    ``seed_uniform``: with a budget, one individual of each starting population is the
    uniform keep-ratio mask at the budget, so the search cannot end below it on its own score.
    ``select``: "tournament" (size ``tournsize``), "rank" or "roulette" (the paper's).
    ``init``: "bernoulli" (each channel kept with ``p_keep``, the paper's) or "importance"
    (the top ``p_keep`` share of each group by L1 norm, perturbed).
    ``n_images``: validation images per domain the fitness is computed on.
    ``train_steps``: with the paper's fitness, its optional brief training of every candidate
    before it is scored (:class:`BriefDistillation` on the next ``train_images`` images; 0 =
    off).
    """

    population: int = 12
    generations: int = 8
    cxpb: float = 0.7
    mutpb: float = 0.1
    elitism: int = 1
    p_keep: float = 0.5
    init: Literal["bernoulli", "importance"] = "bernoulli"
    mate: str = "two_point"
    mutate: str = "segment"
    select: Literal["tournament", "rank", "roulette"] = "tournament"
    tournsize: int = 3
    layout: Literal["independent", "tied"] = "independent"
    fitness: Literal["adapted", "paper"] = "adapted"
    adapt_steps: int = 30
    adapt_score: Literal["l1", "ssim", "discriminator"] = "l1"
    adapt_lr: float = 2e-4
    perceptual: Literal["discriminator", "features", "pixel"] = "discriminator"
    lambda_cycle: float | None = None
    gamma: float | None = None
    size_measure: Literal["parameters", "macs"] = "parameters"
    budget: float | None = None
    budget_measures: tuple[str, ...] = ("parameters", "macs")
    repair_order: Literal["random", "l1"] = "random"
    seed_uniform: bool = True
    schedule: Literal["latest", "previous"] = "latest"
    n_images: int = 16
    batch_size: int = 16
    train_steps: int = 0
    train_images: int = 32
    seed: int = 0

    @classmethod
    def paper(cls, **overrides) -> "SearchConfig":
        """The paper's search: its fitness F (discriminator-perceptual, λ = 10), roulette
        selection, population 32, 50 generations; with a budget, the repair drops the
        channels of least L1 norm and no uniform mask is seeded (as this library did first)."""
        settings = dict(fitness="paper", select="roulette", population=32, generations=50,
                        repair_order="l1", seed_uniform=False)
        return cls(**{**settings, **overrides})

    def __post_init__(self) -> None:
        self.budget_measures = tuple(self.budget_measures)
        if self.gamma is None:
            self.gamma = 0.0 if self.budget is not None else 1.0
        if self.lambda_cycle is None:
            self.lambda_cycle = 10.0 if self.fitness == "paper" else 0.0
        for name, value, allowed in (
                ("fitness", self.fitness, ("adapted", "paper")),
                ("select", self.select, ("tournament", "rank", "roulette")),
                ("repair_order", self.repair_order, ("random", "l1")),
                ("adapt_score", self.adapt_score, ("l1", "ssim", "discriminator"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.adapt_steps < 0 or self.tournsize < 1:
            raise ValueError("adapt_steps must be >= 0 and tournsize >= 1")
        if self.population < 2:
            raise ValueError(f"population must be >= 2, got {self.population}")
        if self.generations < 0:
            raise ValueError(f"generations must be >= 0, got {self.generations}")
        if self.budget is not None and not 0 < self.budget <= 1:
            raise ValueError(f"budget is a size ratio in (0, 1], got {self.budget}")
        if not 0 <= self.elitism < self.population:
            raise ValueError(f"elitism must be in [0, population), got {self.elitism}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["budget_measures"] = list(self.budget_measures)
        return d


@dataclass
class SearchResult:
    """The best pair of masks seen (the hall of fame's first, scored jointly), their spaces,
    the logbook, the best pair's terms and the hall of fame (``(mask_a, mask_b, generation,
    joint score)``, best first)."""

    masks: tuple[list[int], list[int]]
    spaces: tuple[MaskSpace, MaskSpace]
    logbook: tools.Logbook
    terms: tuple[dict, dict]
    config: SearchConfig
    populations: tuple[list, list] = field(repr=False, default=((), ()))
    halloffame: list = field(repr=False, default_factory=list)

    def slot_masks(self) -> tuple[dict, dict]:
        """Per-slot masks of the best pair, for :func:`deap_gan_prune.slim`."""
        return (self.spaces[0].slot_masks(self.masks[0]),
                self.spaces[1].slot_masks(self.masks[1]))

    def to_dict(self) -> dict:
        """JSON-ready summary: masks, spaces, terms, config and the logbook's records."""
        return {"masks": {"A": list(self.masks[0]), "B": list(self.masks[1])},
                "spaces": {"A": self.spaces[0].to_dict(), "B": self.spaces[1].to_dict()},
                "terms": {"A": self.terms[0], "B": self.terms[1]},
                "config": self.config.to_dict(), "logbook": logbook_records(self.logbook),
                "halloffame": [{"A": list(a), "B": list(b), "gen": g, "score": sc}
                               for a, b, g, sc in self.halloffame]}


def seed_everything(seed: int) -> None:
    """Seed ``random`` (the operators), numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _statistics() -> tools.Statistics:
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("max", np.max)
    stats.register("avg", np.mean)
    stats.register("min", np.min)
    return stats


def build_toolbox(space: MaskSpace, fitness, config: SearchConfig, individual_cls: type,
                  scores: Sequence[float] | None = None,
                  map_function: Callable | None = None) -> base.Toolbox:
    """One species' toolbox: our operators through :func:`register`, plus ``evaluate``,
    ``terms`` and ``map``. ``scores``: L1 importance per bit, for ``init="importance"`` and
    ``repair_order="l1"``."""
    toolbox = base.Toolbox()
    repair_scores = scores if config.repair_order == "l1" else None
    register(toolbox, space, individual_cls, p_keep=config.p_keep, mate=config.mate,
             mutate=config.mutate, select=config.select, tournsize=config.tournsize,
             budget=config.budget, measure=config.budget_measures, scores=repair_scores)
    if config.init == "importance":
        toolbox.register("individual", initMaskImportance, individual_cls, space, scores,
                         keep_ratio=config.p_keep)
        if config.budget is not None:
            toolbox.decorate("individual", budgetRepair(space, config.budget,
                                                        config.budget_measures,
                                                        scores=repair_scores))
        toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("evaluate", fitness)
    toolbox.register("terms", fitness.terms)
    if map_function is not None:
        toolbox.register("map", map_function)
    return toolbox


def evaluation_map(fitnesses, workers: int = 0, ray_address: str | None = None):
    """The ``toolbox.map`` for ``workers`` > 0 processes (:class:`ProcessPoolMap`) or, with
    ``ray_address`` ("local" starts a Ray instance, "auto" / "ray://..." joins one), Ray actors
    (:class:`RayMap`, ``workers`` of them, at least 1); ``None`` to evaluate in process. Starting
    workers leaves the random generators' states as they were."""
    if ray_address is None and workers <= 0:
        return None
    states = rng_state()
    if ray_address is not None:
        pool = RayMap(fitnesses, None if ray_address == "local" else ray_address,
                      num_workers=max(workers, 1))
    else:
        pool = ProcessPoolMap(fitnesses, workers=workers)
    set_rng_state(states)
    return pool


def _images_hash(*images: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for x in images:
        digest.update(x.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _brief_training(g_a, g_b, images_a, images_b, config: SearchConfig) -> tuple:
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


def make_fitnesses(g_a: ResnetGenerator, g_b: ResnetGenerator,
                   d_a: NLayerDiscriminator | None, d_b: NLayerDiscriminator | None,
                   images_a: torch.Tensor, images_b: torch.Tensor, config: SearchConfig,
                   spaces: tuple[MaskSpace, MaskSpace], device: str | torch.device = "cpu"
                   ) -> tuple:
    """The fitness of each generator that ``config`` asks for: the first ``n_images`` images
    of each domain are the scoring (held-out) images; the adapted fitness distils candidates
    on the next ``train_images`` (at least one is needed)."""
    held_a, held_b = images_a[:config.n_images], images_b[:config.n_images]
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
        eval_batch_size=config.batch_size, device=device)


def seed_uniform_masks(populations: tuple[list, list], spaces: tuple[MaskSpace, MaskSpace],
                       config: SearchConfig, individual_cls: type) -> None:
    """Replace the first individual of each population by the uniform keep-ratio mask at the
    budget (met in every budget measure), in place."""
    for pop, space in zip(populations, spaces):
        masks = [uniform_mask(space, config.budget, m) for m in config.budget_measures]
        pop[0] = individual_cls(int(all(col)) for col in zip(*masks))


def search_masks(g_a: ResnetGenerator, g_b: ResnetGenerator, d_a: NLayerDiscriminator | None,
                 d_b: NLayerDiscriminator | None, images_a: torch.Tensor,
                 images_b: torch.Tensor, config: SearchConfig | None = None, *,
                 device: str | torch.device = "cpu", map_function: Callable | None = None,
                 progress: bool = True,
                 callback: Callable[[CoevolutionState], bool | None] | None = None,
                 workers: int = 0, ray_address: str | None = None,
                 checkpoint: str | os.PathLike | None = None, resume: bool = False
                 ) -> SearchResult:
    """Co-evolve masks of G_A (A→B, judged by D_A) and G_B (B→A, judged by D_B).

    ``images_a``/``images_b``: validation images ``[m, 3, H, W]`` in [-1, 1] of domains A and
    B (the first ``config.n_images`` are used). ``map_function`` replaces ``toolbox.map`` (a
    process pool or Ray map); or ``workers`` / ``ray_address`` make one
    (:func:`evaluation_map`), closed at the end. ``callback(state)`` runs after every
    generation; True stops. ``checkpoint``: a JSON file rewritten after every generation
    (:mod:`deap_gan_prune.resume`); with ``resume`` an existing one is continued (refused if
    written with another config, other networks or other images). Deterministic under
    ``config.seed``, whatever the workers and however often it was killed and resumed.
    """
    config = config or SearchConfig()
    if map_function is not None and (workers > 0 or ray_address is not None):
        raise ValueError("give map_function or workers/ray_address, not both")
    if resume and checkpoint is None:
        raise ValueError("resume needs a checkpoint file")
    seed_everything(config.seed)
    space_a = space_of(g_a, images_a, config.layout)
    space_b = space_of(g_b, images_b, config.layout)
    fit_a, fit_b = make_fitnesses(g_a, g_b, d_a, d_b, images_a, images_b, config,
                                  (space_a, space_b), device)
    _, individual_cls = create_types()
    needs_scores = (config.budget is not None and config.repair_order == "l1"
                    ) or config.init == "importance"
    toolboxes = tuple(
        build_toolbox(space, fit, config, individual_cls,
                      l1_importance(g, space) if needs_scores else None, map_function)
        for space, fit, g in ((space_a, fit_a, g_a), (space_b, fit_b, g_b)))
    populations = (toolboxes[0].population(n=config.population),
                   toolboxes[1].population(n=config.population))
    if config.budget is not None and config.seed_uniform:
        seed_uniform_masks(populations, (space_a, space_b), config, individual_cls)
    start = None
    if checkpoint is not None:
        # Everything but the generation count must match to resume (a run can be extended).
        used = [getattr(f, name) for f in (fit_a, fit_b)
                for name in ("images", "adapt_images") if hasattr(f, name)]
        saved = {**config.to_dict(), "images": _images_hash(*used)}
        saved.pop("generations")
        digest = models_hash(*(m for m in (g_a, g_b, d_a, d_b) if m is not None))
        if resume and os.path.exists(checkpoint):
            start = load_checkpoint(checkpoint, individual_cls, saved, digest)
    pool = evaluation_map({"A": fit_a, "B": fit_b}, workers, ray_address)
    for toolbox in toolboxes if pool is not None else ():
        toolbox.register("map", pool)
    bar = tqdm(total=config.generations + 1, desc="co-evolution", unit="gen",
               disable=not progress, initial=0 if start is None else start.gen + 1)
    state = start
    try:
        for state in iterCoevolve(populations, toolboxes, config.generations, cxpb=config.cxpb,
                                  mutpb=config.mutpb, elitism=config.elitism,
                                  schedule=config.schedule,
                                  stats=(_statistics(), _statistics()),
                                  halloffame=PairHallOfFame(HALL_OF_FAME_SIZE), start=start):
            if checkpoint is not None:
                save_checkpoint(checkpoint, state, saved, digest)
            a, b = state.logbook.chapters["A"][-1], state.logbook.chapters["B"][-1]
            bar.set_postfix(F_A=f"{a['best_fitness']:.3f}", F_B=f"{b['best_fitness']:.3f}",
                            size_A=f"{a['best_size']:.2f}", size_B=f"{b['best_size']:.2f}")
            bar.update()
            if callback is not None and callback(state):
                break
    finally:
        bar.close()
        if pool is not None:
            pool.close()
    hof = state.halloffame.items
    best_a, best_b = hof[0][:2]
    terms = (fit_a.terms(best_a, partner=best_b), fit_b.terms(best_b, partner=best_a))
    return SearchResult((list(best_a), list(best_b)), (space_a, space_b), state.logbook, terms,
                        config, state.populations, [(list(a), list(b), g, sc)
                                                    for a, b, g, sc in hof])


@dataclass
class SingleSearchResult:
    """The best mask of a single-direction search (no partner generator), its space, the
    logbook, the best mask's terms and the hall of fame (``(mask, fitness)``, best first)."""

    mask: list[int]
    space: MaskSpace
    logbook: tools.Logbook
    terms: dict
    config: SearchConfig
    population: list = field(repr=False, default_factory=list)
    halloffame: list = field(repr=False, default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary, in the masks-file layout of :class:`SearchResult` (one
        generator, ``"A"``)."""
        return {"masks": {"A": list(self.mask)}, "spaces": {"A": self.space.to_dict()},
                "terms": {"A": self.terms}, "config": self.config.to_dict(),
                "logbook": logbook_records(self.logbook),
                "halloffame": [{"A": list(m), "score": f} for m, f in self.halloffame]}


def single_fitness(generator, images: torch.Tensor, config: SearchConfig, space: MaskSpace,
                   discriminator=None, device: str | torch.device = "cpu"):
    """The fitness of one generator without partner: the adapted fitness (distillation to the
    original, scored on the first ``n_images`` images; adapted on the next
    ``train_images``), or the paper's F without cycle term (``perceptual="pixel"`` when there
    is no discriminator)."""
    held = images[:config.n_images]
    if config.fitness == "paper":
        perceptual = config.perceptual if discriminator is not None else "pixel"
        return GeneratorFitness(generator, discriminator, held, space, perceptual=perceptual,
                                lambda_cycle=0.0, gamma=config.gamma,
                                size_measure=config.size_measure,
                                batch_size=config.batch_size, device=device)
    adapt = images[config.n_images:config.n_images + config.train_images]
    if config.adapt_steps > 0 and adapt.shape[0] == 0:
        raise ValueError(f"the adapted fitness needs adaptation images beyond the first "
                         f"n_images={config.n_images} scoring images (got {images.shape[0]})")
    return AdaptedFitness(generator, held, adapt, space, steps=config.adapt_steps,
                          score=config.adapt_score, discriminator=discriminator,
                          gamma=config.gamma, size_measure=config.size_measure,
                          lr=config.adapt_lr, seed=config.seed,
                          eval_batch_size=config.batch_size, device=device)


def search_single(generator: torch.nn.Module, images: torch.Tensor,
                  config: SearchConfig | None = None, *, discriminator=None,
                  space: MaskSpace | None = None, device: str | torch.device = "cpu",
                  progress: bool = True,
                  callback: Callable[[int, list, tools.Logbook], bool | None] | None = None
                  ) -> SingleSearchResult:
    """Evolve masks of ONE generator of any architecture (pix2pix, or a CycleGAN whose other
    half is lost): the same operators, selection, elitism, budget repair and uniform seed as
    :func:`search_masks`, scored by :func:`single_fitness` (by default distillation toward the
    original; no partner, no discriminator needed). ``images``: source-domain images
    ``[m, C, H, W]`` in [-1, 1] (the first ``n_images`` score, the next ``train_images``
    adapt). ``space``: default :meth:`MaskSpace.from_module` on the first image.
    ``callback(gen, population, logbook)`` after every generation; True stops. Deterministic
    under ``config.seed``."""
    config = config or SearchConfig()
    seed_everything(config.seed)
    space = space or space_of(generator, images, config.layout)
    fitness = single_fitness(generator, images, config, space, discriminator, device)
    _, individual_cls = create_types()
    needs_scores = (config.budget is not None and config.repair_order == "l1"
                    ) or config.init == "importance"
    toolbox = build_toolbox(space, fitness, config, individual_cls,
                            l1_importance(generator, space) if needs_scores else None)
    population = toolbox.population(n=config.population)
    if config.budget is not None and config.seed_uniform:
        masks = [uniform_mask(space, config.budget, m) for m in config.budget_measures]
        population[0] = individual_cls(int(all(col)) for col in zip(*masks))
    stats, hof = _statistics(), tools.HallOfFame(HALL_OF_FAME_SIZE)
    logbook = tools.Logbook()
    logbook.header = ["gen", "nevals", "max", "avg", "min"]
    bar = tqdm(total=config.generations + 1, desc="evolution", unit="gen",
               disable=not progress)
    try:
        for gen in range(config.generations + 1):
            if gen > 0:
                population = _offspring(population, toolbox, config.cxpb, config.mutpb,
                                        config.elitism)
            nevals = _evaluate(population, toolbox, None, rescore=False)
            hof.update(population)
            best = hof[0]
            logbook.record(gen=gen, nevals=nevals, **stats.compile(population),
                           **{f"best_{k}": float(v) for k, v in toolbox.terms(best).items()})
            bar.set_postfix(F=f"{best.fitness.values[0]:.3f}",
                            size=f"{logbook[-1]['best_size']:.2f}")
            bar.update()
            if callback is not None and callback(gen, population, logbook):
                break
    finally:
        bar.close()
    return SingleSearchResult(list(hof[0]), space, logbook, fitness.terms(hof[0]), config,
                              population, [(list(m), float(m.fitness.values[0])) for m in hof])

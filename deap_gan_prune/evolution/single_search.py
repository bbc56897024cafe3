"""Evolution of ONE generator's masks, for a generator without partner: pix2pix, or a
CycleGAN whose other half is lost. The same operators, selection, elitism, budget repair and
uniform seed as :func:`deap_gan_prune.evolution.search.search_masks`, without co-evolution.

With a ``checkpoint`` file, the search state is rewritten atomically after every generation
(in the style of :mod:`deap_gan_prune.evolution.resume`): the generation, the population with its
fitness, the hall of fame, the logbook, the states of the ``random``, numpy and torch
generators, the configuration (with a hash of the scoring images) and a hash of the
generator. A search resumed from it ends exactly as an uninterrupted one; resuming with
another configuration or another generator is refused (:class:`ResumeError`).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import torch
from deap import tools
from tqdm.auto import tqdm

from ..fitness.adapted import AdaptedFitness
from ..fitness.paper import GeneratorFitness
from ..nets.importance import l1_importance
from ..nets.maskspace import MaskSpace, space_of
from ..seeding import seeded
from .coevolution import _evaluate, _offspring
from .logbooks import logbook_records
from .registration import create_types
from .resume import (
    ResumeError,
    _check_individual,
    _check_rng,
    _individual,
    _jsonable,
    _rebuild,
    _rebuild_archive,
    _rebuild_logbook,
    check_same_run,
    models_hash,
    read_checkpoint,
    rng_state,
    set_rng_state,
    write_checkpoint_json,
)
from .search import (
    HALL_OF_FAME_SIZE,
    _statistics,
    build_toolbox,
    evaluation_map,
    fitness_images_hash,
    uniform_individual,
)
from .search_config import SearchConfig

FORMAT = "deap_gan_prune/single-search-checkpoint"
VERSION = 1


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
    finalists: list = field(repr=False, default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary, in the masks-file layout of :class:`SearchResult` (one
        generator, ``"A"``)."""
        return {"masks": {"A": list(self.mask)}, "spaces": {"A": self.space.to_dict()},
                "terms": {"A": self.terms}, "config": self.config.to_dict(),
                "logbook": logbook_records(self.logbook),
                "halloffame": [{"A": list(m), "score": f} for m, f in self.halloffame],
                "finalists": [{"A": list(m), "score": f} for m, f in self.finalists]}


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
                                lambda_cycle=0.0, gamma=cast(float, config.gamma),
                                size_measure=config.size_measure,
                                batch_size=config.batch_size, device=device)
    adapt = images[config.n_images:config.n_images + config.train_images]
    if config.adapt_steps > 0 and adapt.shape[0] == 0:
        raise ValueError(f"the adapted fitness needs adaptation images beyond the first "
                         f"n_images={config.n_images} scoring images (got {images.shape[0]})")
    return AdaptedFitness(generator, held, adapt, space, steps=config.adapt_steps,
                          score=config.adapt_score, discriminator=discriminator,
                          gamma=cast(float, config.gamma), size_measure=config.size_measure,
                          lr=config.adapt_lr, seed=config.seed,
                          eval_batch_size=config.batch_size, device=device)


def score_finalists(generator, images: torch.Tensor, config: SearchConfig, space: MaskSpace,
                    candidates: list, discriminator=None, device: str | torch.device = "cpu",
                    progress: bool = False) -> tuple[list, AdaptedFitness]:
    """Each of ``candidates`` (masks) distilled for ``config.finalist_steps`` steps and scored
    by the adapted fitness with that many steps; returns ``([(mask, score)], fitness)``, best
    first (ties keep the given order), and the fitness that scored them."""
    judge = single_fitness(generator, images, replace(config, adapt_steps=config.finalist_steps),
                           space, discriminator, device)
    scored = [(list(m), float(judge(m)[0]))
              for m in tqdm(candidates, desc="finalists", unit="mask", disable=not progress)]
    return sorted(scored, key=lambda pair: -pair[1]), judge


def save_single_checkpoint(path: str | os.PathLike, gen: int, population: list,
                           halloffame: tools.HallOfFame, logbook: tools.Logbook,
                           config: Mapping, digest: str) -> Path:
    """Write the state after generation ``gen`` to ``path`` atomically (a temporary file,
    flushed to disk, then moved into place); the RNG states are taken now."""
    data = {"format": FORMAT, "version": VERSION, "generation": gen,
            "population": [_individual(i) for i in population],
            "halloffame": [_individual(i) for i in halloffame],
            "logbook": _jsonable(logbook_records(logbook)), "rng": rng_state(),
            "config": _jsonable(config), "models_hash": digest}
    return write_checkpoint_json(path, data)


def load_single_checkpoint(path: str | os.PathLike, individual_cls: type, config: Mapping,
                           digest: str) -> tuple[int, list, tools.HallOfFame, tools.Logbook]:
    """``(generation, population, hall of fame, logbook)`` saved in ``path``; restores the
    random generators' states. :class:`ResumeError` naming the file when it is unreadable,
    damaged, or written with another ``config`` or generator (``digest``)."""
    data = read_checkpoint(path, FORMAT, VERSION)
    check_same_run(path, data, config, digest)
    population, hof = data.get("population"), data.get("halloffame")
    if not (isinstance(population, list) and population and isinstance(hof, list) and hof):
        raise ResumeError(f"{path}: a damaged checkpoint: population and halloffame should "
                          "be non-empty lists")
    n_bits = None
    for i, entry in enumerate(population):
        n_bits = _check_individual(path, f"population[{i}]", entry, n_bits)
    for i, entry in enumerate(hof):
        _check_individual(path, f"halloffame[{i}]", entry, n_bits)
    _check_rng(path, data.get("rng"))
    try:
        gen = int(data["generation"])
        pop = [_rebuild(d, individual_cls) for d in population]
        halloffame = tools.HallOfFame(HALL_OF_FAME_SIZE)
        archive = _rebuild_archive(hof, individual_cls)
        halloffame.items, halloffame.keys = archive.items, archive.keys
        logbook = _rebuild_logbook(data["logbook"])
        logbook.header = ["gen", "nevals", "max", "avg", "min"]
        set_rng_state(data["rng"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ResumeError(f"{path}: a damaged checkpoint ({type(exc).__name__}: {exc})"
                          ) from None
    return gen, pop, halloffame, logbook


def search_single(generator: torch.nn.Module, images: torch.Tensor,
                  config: SearchConfig | None = None, *, discriminator=None,
                  space: MaskSpace | None = None, device: str | torch.device = "cpu",
                  progress: bool = True,
                  callback: Callable[[int, list, tools.Logbook], bool | None] | None = None,
                  checkpoint: str | os.PathLike | None = None, resume: bool = False,
                  workers: int = 0, ray_address: str | None = None) -> SingleSearchResult:
    """Evolve masks of ONE generator of any architecture (pix2pix, or a CycleGAN whose other
    half is lost): the same operators, selection, elitism, budget repair and uniform seed as
    :func:`search_masks`, scored by :func:`single_fitness` (by default distillation toward the
    original; no partner, no discriminator needed). ``images``: source-domain images
    ``[m, C, H, W]`` in [-1, 1] (the first ``n_images`` score, the next ``train_images``
    adapt). ``space``: default :meth:`MaskSpace.from_module` on the first image.
    ``callback(gen, population, logbook)`` after every generation; True stops. ``checkpoint``:
    a JSON file rewritten after every generation; with ``resume`` an existing one is continued
    (refused if written with another config, generator or images; ``generations`` may grow).
    ``workers`` > 0: candidates scored in that many local processes
    (:class:`~deap_gan_prune.evolution.parallel.ProcessPoolMap`, closed at the end); the result
    equals an in-process run with one torch thread. ``ray_address``: candidates scored on Ray actors
    instead ("local" starts an instance, "auto" / "ray://host:port" joins one; ``workers`` of
    them, at least 1; needs the ``ray`` extra). Deterministic under ``config.seed``, however
    often it was stopped and resumed; the caller's global random states are given back as
    they were."""
    config = config or SearchConfig()
    if config.finalists > 0 and config.fitness != "adapted":
        raise ValueError("finalists are scored by the adapted fitness: use fitness='adapted'")
    if resume and checkpoint is None:
        raise ValueError("resume needs a checkpoint file")
    with seeded(config.seed, [device]):
        space = space or space_of(generator, images, config.layout)
        fitness = single_fitness(generator, images, config, space, discriminator, device)
        _, individual_cls = create_types()
        needs_scores = (config.budget is not None and config.repair_order == "l1"
                        ) or config.init == "importance"
        toolbox = build_toolbox(space, fitness, config, individual_cls,
                                l1_importance(generator, space) if needs_scores else None)
        population = toolbox.population(n=config.population)
        seed = None
        if config.budget is not None and config.seed_uniform:
            seed = population[0] = uniform_individual(space, config, individual_cls)
        stats, hof = _statistics(), tools.HallOfFame(HALL_OF_FAME_SIZE)
        logbook = tools.Logbook()
        logbook.header = ["gen", "nevals", "max", "avg", "min"]
        first = 0
        if checkpoint is not None:
            # Everything but the generation count must match to resume (a run can be extended).
            saved = {**config.to_dict(), "images": fitness_images_hash(fitness)}
            saved.pop("generations")
            digest = models_hash(*(m for m in (generator, discriminator) if m is not None))
            if resume and os.path.exists(checkpoint):
                last, population, hof, logbook = load_single_checkpoint(
                    checkpoint, individual_cls, saved, digest)
                first = last + 1
        pool = evaluation_map({"A": fitness}, workers, ray_address)
        if pool is not None:
            toolbox.register("map", pool)
        bar = tqdm(total=config.generations + 1, desc="evolution", unit="gen",
                   disable=not progress, initial=first)
        try:
            for gen in range(first, config.generations + 1):
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
                if checkpoint is not None:
                    save_single_checkpoint(checkpoint, gen, population, hof, logbook, saved,
                                           digest)
                if callback is not None and callback(gen, population, logbook):
                    break
        finally:
            bar.close()
            if pool is not None:
                pool.close()
        best, terms = list(hof[0]), fitness.terms(hof[0])
        finalists: list[tuple[list[int], float]] = []
        if config.finalists > 0:
            candidates = [list(m) for m in hof[:config.finalists]]
            if seed is not None and list(seed) not in candidates:
                candidates.append(list(seed))
            finalists, judge = score_finalists(generator, images, config, space, candidates,
                                               discriminator, device, progress)
            best = finalists[0][0]
            terms = judge.terms(individual_cls(best))
        return SingleSearchResult(best, space, logbook, terms, config, population,
                                  [(list(m), float(m.fitness.values[0])) for m in hof],
                                  finalists)

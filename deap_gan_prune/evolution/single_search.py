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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import cast

import torch
from deap import tools
from tqdm.auto import tqdm

from ..fitness.adapted import AdaptedFitness
from ..fitness.paper import GeneratorFitness
from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.importance import l1_importance
from ..nets.maskspace import MaskSpace, SizeFunction, space_of
from ..seeding import seeded
from .evolve import EvolutionState, iterEvolve
from .logbooks import logbook_records
from .registration import create_types
from .resume import (
    SINGLE_FORMAT,
    SINGLE_VERSION,
    load_single_checkpoint,
    save_single_checkpoint,
)
from .resume import ResumeError as ResumeError  # re-exported: part of this API
from .search import build_toolbox, run_settings, uniform_individual
from .search_config import SearchConfig
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

#: the checkpoint format (kept in :mod:`.resume`)
FORMAT, VERSION = SINGLE_FORMAT, SINGLE_VERSION


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


def single_fitness(generator: torch.nn.Module, images: torch.Tensor, config: SearchConfig,
                   space: MaskSpace, discriminator: torch.nn.Module | None = None,
                   device: str | torch.device = "cpu",
                   input_range: InputRange = DEFAULT_RANGE) -> GeneratorFitness | AdaptedFitness:
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
                          eval_batch_size=config.batch_size, device=device,
                          input_range=input_range)


def score_finalists(generator: torch.nn.Module, images: torch.Tensor, config: SearchConfig,
                    space: MaskSpace, candidates: list,
                    discriminator: torch.nn.Module | None = None,
                    device: str | torch.device = "cpu",
                    progress: bool = False, input_range: InputRange = DEFAULT_RANGE
                    ) -> tuple[list, GeneratorFitness | AdaptedFitness]:
    """Each of ``candidates`` (masks) distilled for ``config.finalist_steps`` steps and scored
    by the adapted fitness with that many steps; returns ``([(mask, score)], fitness)``, best
    first (ties keep the given order), and the fitness that scored them."""
    judge = single_fitness(generator, images, replace(config, adapt_steps=config.finalist_steps),
                           space, discriminator, device, input_range)
    scored = [(list(m), float(judge(m)[0]))
              for m in tqdm(candidates, desc="finalists", unit="mask", disable=not progress)]
    return sorted(scored, key=lambda pair: -pair[1]), judge


def search_single(generator: torch.nn.Module, images: torch.Tensor,
                  config: SearchConfig | None = None, *,
                  discriminator: torch.nn.Module | None = None,
                  space: MaskSpace | None = None, device: str | torch.device = "cpu",
                  progress: bool = True,
                  callback: Callable[[int, list, tools.Logbook], bool | None] | None = None,
                  checkpoint: str | os.PathLike | None = None, resume: bool = False,
                  workers: int = 0, ray_address: str | None = None,
                  input_range: InputRange = DEFAULT_RANGE,
                  latency: SizeFunction | None = None) -> SingleSearchResult:
    """Evolve masks of ONE generator of any architecture (pix2pix, or a CycleGAN whose other
    half is lost): the same operators, selection, elitism, budget repair and uniform seed as
    :func:`search_masks`, scored by :func:`single_fitness` (by default distillation toward the
    original; no partner, no discriminator needed). ``images``: source-domain images
    ``[m, C, H, W]`` in ``input_range`` (default [-1, 1]; the first ``n_images`` score, the
    next ``train_images`` adapt). ``space``: default :meth:`MaskSpace.from_module` on the
    first image. ``latency``: what a "latency" budget measure means, a size function of the
    kept counts of ``space`` (a :class:`~deap_gan_prune.nets.latency_model.LatencyModel`
    measured for it).
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
    check_options(checkpoint, resume, None, workers, ray_address)
    with seeded(config.seed, [device]):
        space = space or space_of(generator, images, config.layout)
        check_population(config.population, space.n_bits)
        fitness = single_fitness(generator, images, config, space, discriminator, device,
                                 input_range)
        _, individual_cls = create_types()
        needs_scores = (config.budget is not None and config.repair_order == "l1"
                        ) or config.init == "importance"
        toolbox = build_toolbox(space, fitness, config, individual_cls,
                                l1_importance(generator, space) if needs_scores else None,
                                latency=latency)
        population = toolbox.population(n=config.population)
        seed = None
        if config.budget is not None and config.seed_uniform:
            seed = population[0] = uniform_individual(space, config, individual_cls, latency)
        run = identity(checkpoint, run_settings(config, [latency]), [fitness],
                       (generator, discriminator))
        start = resume_from(run, resume, lambda r: load_single_checkpoint(
            r.path, individual_cls, r.config, r.digest, HALL_OF_FAME_SIZE),
                            config.generations)
        pool = attach_pool([toolbox], {"A": fitness}, workers, ray_address)
        states = iterEvolve(population, toolbox, config.generations, cxpb=config.cxpb,
                            mutpb=config.mutpb, elitism=config.elitism,
                            stats=fitness_statistics(),
                            halloffame=tools.HallOfFame(HALL_OF_FAME_SIZE), start=start)
        state = evolve(states, start, desc="evolution", generations=config.generations,
                       postfix=_postfix, progress=progress, pool=pool,
                       callback=None if callback is None else
                       lambda s: callback(s.gen, s.population, s.logbook),
                       save=None if run is None else
                       lambda s: save_single_checkpoint(run.path, s, run.config, run.digest))
        hof = state.halloffame
        best, terms = list(hof[0]), fitness.terms(hof[0])
        finalists: list[tuple[list[int], float]] = []
        if config.finalists > 0:
            candidates = [list(m) for m in hof[:config.finalists]]
            if seed is not None and list(seed) not in candidates:
                candidates.append(list(seed))
            finalists, judge = score_finalists(generator, images, config, space, candidates,
                                               discriminator, device, progress, input_range)
            best = finalists[0][0]
            terms = judge.terms(individual_cls(best))
        return SingleSearchResult(best, space, state.logbook, terms, config, state.population,
                                  [(list(m), float(m.fitness.values[0])) for m in hof],
                                  finalists)


def _postfix(state: EvolutionState) -> dict:
    return {"F": f"{state.halloffame[0].fitness.values[0]:.3f}",
            "size": f"{state.logbook[-1]['best_size_ratio']:.2f}"}

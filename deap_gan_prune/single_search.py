"""Evolution of ONE generator's masks, for a generator without partner: pix2pix, or a
CycleGAN whose other half is lost. The same operators, selection, elitism, budget repair and
uniform seed as :func:`deap_gan_prune.search.search_masks`, without co-evolution."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from deap import tools
from tqdm.auto import tqdm

from .adapted_fitness import AdaptedFitness
from .coevolution import _evaluate, _offspring
from .fitness import GeneratorFitness
from .importance import l1_importance
from .logbooks import logbook_records
from .maskspace import MaskSpace, space_of
from .registration import create_types
from .search import (HALL_OF_FAME_SIZE, _statistics, build_toolbox, seed_everything,
                     uniform_individual)
from .search_config import SearchConfig


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
        population[0] = uniform_individual(space, config, individual_cls)
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

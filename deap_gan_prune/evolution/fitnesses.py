"""The fitness of each generator of a task: the one place where ``config.fitness`` is turned
into :class:`~deap_gan_prune.fitness.adapted.AdaptedFitness`,
:class:`~deap_gan_prune.fitness.paper.GeneratorFitness` or
:class:`~deap_gan_prune.fitness.supernet.SupernetFitness`, for every search."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch

from ..core.maskspace import MaskSpace
from ..fitness.adapted import Adaptation, AdaptedFitness
from ..fitness.base import MaskFitness, Partner, Scoring
from ..fitness.distillation import BriefDistillation
from ..fitness.paper import GeneratorFitness
from ..fitness.supernet import SupernetFitness, SupernetScore
from .search_config import SearchConfig
from .task import Task


def _windows(task: Task, name: str, config: SearchConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``name``'s scoring images (the first ``n_images``) and adaptation images (the next
    ``adapt_images``)."""
    images = task.images[name]
    return images[:config.n_images], images[config.n_images:config.n_images +
                                            config.adapt_images]


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
                                         original=generator,
                                         score=cast(SupernetScore, config.adapt_score))
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
                    f"{config.n_images + config.adapt_images})")
            fits[name] = AdaptedFitness(
                generator, spaces[name], held, scoring, discriminator=judge, partner=partner,
                adaptation=Adaptation(window, config.adapt_steps, config.adapt_lr,
                                      seed=config.seed),
                score=config.adapt_score)
    return fits

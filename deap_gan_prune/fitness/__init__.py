"""Fitness of a channel mask: the torch side of the search, between the mask space and evolution.

Each fitness scores one generator's mask (with its partner's, in co-evolution) as a picklable
callable returning a tuple of Python floats: the common base :class:`MaskFitness`
(:mod:`.base`), the paper's discriminator-based fitness (:mod:`.paper`), the default fitness
on briefly adapted sub-networks (:mod:`.adapted`), and the fitness on once-for-all supernet
weights (:mod:`.supernet`); and the brief distillation of candidates
(:mod:`.distillation`). Each is built as ``Fitness(generator, space, images, scoring, *,
...)``. A fitness does not know how it is distributed (see
:mod:`deap_gan_prune.evolution.parallel`).
"""
from .adapted import Adaptation, AdaptedFitness
from .base import InvalidMaskWarning, MaskFitness, Partner, Scoring
from .distillation import BriefDistillation, Distillation
from .paper import GeneratorFitness
from .supernet import SupernetFitness

__all__ = ["MaskFitness", "Scoring", "Partner", "InvalidMaskWarning", "GeneratorFitness",
           "AdaptedFitness", "Adaptation", "Distillation", "BriefDistillation",
           "SupernetFitness"]

"""Fitness of a channel mask: the torch side of the search, between the mask space and evolution.

Each fitness scores one generator's mask (with its partner's, in co-evolution) as a picklable
callable returning a tuple of Python floats: the common base :class:`MaskFitness`
(:mod:`.base`), the paper's discriminator-based fitness (:mod:`.paper`), the default fitness
on briefly adapted sub-networks (:mod:`.adapted`), and the fitness on once-for-all supernet
weights (:mod:`.supernet`). A fitness does not know how it is distributed (see
:mod:`deap_gan_prune.evolution.parallel`).
"""
from .adapted import AdaptedFitness, Distillation, adapted_fitnesses
from .base import InvalidMaskWarning, MaskFitness
from .paper import GeneratorFitness, cyclegan_fitnesses
from .supernet import SupernetFitness, supernet_fitnesses

__all__ = ["MaskFitness", "GeneratorFitness", "InvalidMaskWarning", "cyclegan_fitnesses",
           "AdaptedFitness", "Distillation", "adapted_fitnesses",
           "SupernetFitness", "supernet_fitnesses"]

"""The torch-free core: the mask space and its sizes, under the DEAP operators.

A mask is a flat 0/1 list over a :class:`MaskSpace` (:mod:`.maskspace`): the channel groups of
one generator, laid end to end, with the convs, norms and layers each group feeds
(:mod:`.terms`) and closed-form sizes in parameters and MACs from the kept channels per group;
the upstream ResNet's widths as a view (:mod:`.widths`); the weight-blind baselines, uniform
and random masks at a budget (:mod:`.baselines`). Pure Python: importing it loads no torch.
Tracing a network into a space is the torch side's (:func:`deap_gan_prune.nets.groups.space_of`).
"""
from .baselines import convert_mask, random_mask_like, uniform_counts, uniform_mask
from .maskspace import ChannelGroup, MaskSpace, measure_name
from .terms import ConvTerm, LayerTerm, NormTerm, SpaceTerms
from .widths import GeneratorWidths

__all__ = ["MaskSpace", "ChannelGroup", "measure_name", "SpaceTerms", "ConvTerm", "NormTerm",
           "LayerTerm", "GeneratorWidths", "uniform_mask", "uniform_counts", "random_mask_like",
           "convert_mask"]

"""Networks and their prunable channels: the bottom of the pipeline.

CycleGAN networks with the upstream state-dict keys (:mod:`.models`) and their checkpoint files
(:mod:`.checkpoints`); the ResNet's per-layer widths (:mod:`.widths`) and sizes measured on a
real module (:mod:`.counting`); the mask space of prunable channel groups with closed-form
sizes (:mod:`.maskspace`; of any architecture, traced by :mod:`.groups`, your own layers
declared as :mod:`.layers` says); masks made real
(:mod:`.slimming`); filter importance (:mod:`.importance`), budget masks to compare against
(:mod:`.baselines`) and a per-layer latency model (:mod:`.latency_model`). Nothing here knows
of fitness or evolution.

The names below are imported from their modules on first use (PEP 562), so that the pure
Python ones (:mod:`.widths`, :mod:`.maskspace`) load without torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

#: Where each public name lives: module of this package → names.
_MODULE_NAMES: dict[str, tuple[str, ...]] = {
    ".models": ("NLayerDiscriminator", "ResnetBlock", "ResnetGenerator"),
    ".checkpoints": ("CheckpointError", "CycleGAN", "architecture_of", "load_cyclegan",
                     "load_discriminator", "load_generator", "save_discriminator",
                     "save_generator"),
    ".widths": ("GeneratorWidths",),
    ".counting": ("count_module_macs", "count_module_parameters", "flop_counter_macs"),
    ".maskspace": ("ChannelGroup", "MaskSpace"),
    ".terms": ("ConvTerm", "LayerTerm", "NormTerm", "SpaceTerms"),
    ".layers": ("ChannelLayer", "channel_dims"),
    ".groups": ("TracingError", "space_of", "trace_space", "trace_terms"),
    ".slimming": ("masked", "slim"),
    ".importance": ("l1_importance",),
    ".baselines": ("l1_norm_mask", "random_mask_like", "uniform_mask"),
    ".latency_model": ("LatencyModel", "latency_model_for", "measure_latency_model"),
}
__all__, __getattr__, __dir__ = lazy_attributes(__name__, _MODULE_NAMES, globals())

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .baselines import l1_norm_mask, random_mask_like, uniform_mask
    from .checkpoints import (
        CheckpointError,
        CycleGAN,
        architecture_of,
        load_cyclegan,
        load_discriminator,
        load_generator,
        save_discriminator,
        save_generator,
    )
    from .counting import count_module_macs, count_module_parameters, flop_counter_macs
    from .groups import TracingError, space_of, trace_space, trace_terms
    from .importance import l1_importance
    from .latency_model import LatencyModel, latency_model_for, measure_latency_model
    from .layers import ChannelLayer, channel_dims
    from .maskspace import ChannelGroup, MaskSpace
    from .models import NLayerDiscriminator, ResnetBlock, ResnetGenerator
    from .slimming import masked, slim
    from .terms import ConvTerm, LayerTerm, NormTerm, SpaceTerms
    from .widths import GeneratorWidths

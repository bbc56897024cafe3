"""Networks and their prunable channels: the bottom of the torch side of the pipeline.

CycleGAN networks with the upstream state-dict keys (:mod:`.models`) and their checkpoint files
(:mod:`.checkpoints`); sizes measured on a real module (:mod:`.counting`); the channel groups
of any architecture traced into a mask space (:mod:`.groups`; the space itself, with its
closed-form sizes, is the torch-free :mod:`deap_gan_prune.core`), your own layers declared as
:mod:`.layers` says; masks made real (:mod:`.slimming`); filter importance
(:mod:`.importance`), L1-norm masks to compare against (:mod:`.baselines`) and a per-layer
latency model (:mod:`.latency_model`). Nothing here knows of fitness or evolution.

The names below are imported from their modules on first use (PEP 562).
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
    ".counting": ("count_module_macs", "count_module_parameters", "flop_counter_macs"),
    ".layers": ("ChannelLayer", "channel_dims"),
    ".groups": ("TracingError", "space_of", "trace_space", "trace_terms"),
    ".slimming": ("masked", "slim"),
    ".importance": ("l1_importance",),
    ".baselines": ("l1_norm_mask", "matching_baselines"),
    ".latency_model": ("LatencyModel", "latency_model_for", "measure_latency_model"),
}
__all__, __getattr__, __dir__ = lazy_attributes(__name__, _MODULE_NAMES, globals())

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .baselines import l1_norm_mask, matching_baselines
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
    from .models import NLayerDiscriminator, ResnetBlock, ResnetGenerator
    from .slimming import masked, slim

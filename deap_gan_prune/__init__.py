"""deap_gan_prune: compress CycleGAN generators by co-evolving channel masks with DEAP.

The pipeline, from the bottom up, one subpackage a stage:

* :mod:`.nets`: networks with upstream state-dict keys, their checkpoint files, widths and
  sizes, the prunable channel groups of the mask space (of any architecture, traced), masks
  made real (slimming), filter importance, budget baselines and the latency model;
* :mod:`.operators`: DEAP operators on masks (pure Python, no torch);
* :mod:`.fitness`: the torch fitnesses (adapted, the default; the paper's; on once-for-all
  weights from :mod:`.training.supernet`);
* :mod:`.evolution`: DEAP types, co-evolution, the assembled search, the single-generator
  search, the Pareto front of quality and size, resumable checkpoints, and distributed
  evaluation (worker processes, Ray actors);
* :mod:`.training`: teacher training, fine-tuning with distillation, supernet training;
* :mod:`.metrics`: image measures, translation and timing;
* :mod:`.cli`: the command line.

Cross-cutting modules stay at the root: data (:mod:`.data`, :mod:`.synthetic`), devices
(:mod:`.devices`), output files (:mod:`.outputs`), the steps the command line chains
(:mod:`.workflow`), reports (:mod:`.report`), export (:mod:`.export`) and plots
(:mod:`.plotting`).

Importing the package loads none of them (nor torch): each public name below is imported from
its submodule on first use (PEP 562), and so is each subpackage reached as an attribute
(``deap_gan_prune.nets``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from ._version import __version__  # noqa: F401 (one place for the version)

#: Where each public name lives: submodule (relative to this package) → names.
_SUBMODULE_NAMES: dict[str, tuple[str, ...]] = {
    ".compression": ("CompressConfig", "compress"),
    ".evolution.coevolution": ("CoevolutionState", "PairHallOfFame", "eaCoevolve",
                               "iterCoevolve"),
    ".evolution.evolve": ("EvolutionState", "eaEvolve", "iterEvolve"),
    ".evolution.front": ("FrontResult", "iterEvolveFront", "search_front"),
    ".evolution.front_config": ("FrontConfig",),
    ".evolution.parallel": ("ProcessPoolMap", "WorkerError"),
    ".evolution.raymap": ("RayMap",),
    ".evolution.registration": ("create_types", "register"),
    ".evolution.resume": ("ResumeError", "load_checkpoint", "run_with_checkpoints",
                          "save_checkpoint"),
    ".evolution.search": ("search_masks",),
    ".evolution.search_config": ("SearchConfig", "SearchResult"),
    ".evolution.single_search": ("SingleSearchResult", "search_single"),
    ".fitness.adapted": ("AdaptedFitness", "adapted_fitnesses"),
    ".fitness.base": ("InvalidMaskWarning", "MaskFitness"),
    ".fitness.paper": ("GeneratorFitness", "cyclegan_fitnesses"),
    ".fitness.supernet": ("SupernetFitness", "supernet_fitnesses"),
    ".nets.checkpoints": ("CheckpointError", "CycleGAN", "load_cyclegan", "load_discriminator",
                          "load_generator", "save_discriminator", "save_generator"),
    ".nets.counting": ("count_module_macs", "count_module_parameters", "flop_counter_macs"),
    ".nets.importance": ("l1_importance",),
    ".nets.latency_model": ("LatencyTable", "latency_table", "measure_latency_table"),
    ".nets.maskspace": ("ChannelGroup", "MaskSpace", "space_of"),
    ".nets.models": ("NLayerDiscriminator", "ResnetBlock", "ResnetGenerator"),
    ".nets.slimming": ("masked", "masked_bits", "slim", "slim_bits"),
    ".nets.widths": ("GeneratorWidths", "count_macs", "count_parameters"),
    # DEAP operators: initMask*, sel*, cx*, mut*, repair* (the operators package's __all__).
    ".operators": ("initMaskBernoulli", "initMaskCounts", "initMaskFull", "initMaskImportance",
                   "initMaskSize", "initMaskSizeRange", "size_strata",
                   "selRouletteWeighted", "selRouletteRank", "roulette_shares", "rank_shares",
                   "cxTwoPointMask", "cxGroupBoundary", "cxUniformGroup",
                   "mutFlipMask", "mutSegmentInvert", "mutMoveChannels",
                   "repairMinKeep", "repairBudget", "repairMinSize", "normalise_per_group",
                   "MinKeepRepair", "BudgetRepair", "ParentSizeRepair", "MinSizeRepair"),
    ".plotting": ("plot_fitness", "plot_samples"),
    ".training.supernet": ("train_supernet",),
}
__all__, __getattr__, __dir__ = lazy_attributes(__name__, _SUBMODULE_NAMES, globals())

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .compression import CompressConfig, compress
    from .evolution.coevolution import CoevolutionState, PairHallOfFame, eaCoevolve, iterCoevolve
    from .evolution.evolve import EvolutionState, eaEvolve, iterEvolve
    from .evolution.front import FrontResult, iterEvolveFront, search_front
    from .evolution.front_config import FrontConfig
    from .evolution.parallel import ProcessPoolMap, WorkerError
    from .evolution.raymap import RayMap
    from .evolution.registration import create_types, register
    from .evolution.resume import (
        ResumeError,
        load_checkpoint,
        run_with_checkpoints,
        save_checkpoint,
    )
    from .evolution.search import search_masks
    from .evolution.search_config import SearchConfig, SearchResult
    from .evolution.single_search import SingleSearchResult, search_single
    from .fitness.adapted import AdaptedFitness, adapted_fitnesses
    from .fitness.base import InvalidMaskWarning, MaskFitness
    from .fitness.paper import GeneratorFitness, cyclegan_fitnesses
    from .fitness.supernet import SupernetFitness, supernet_fitnesses
    from .nets.checkpoints import (
        CheckpointError,
        CycleGAN,
        load_cyclegan,
        load_discriminator,
        load_generator,
        save_discriminator,
        save_generator,
    )
    from .nets.counting import count_module_macs, count_module_parameters, flop_counter_macs
    from .nets.importance import l1_importance
    from .nets.latency_model import LatencyTable, latency_table, measure_latency_table
    from .nets.maskspace import ChannelGroup, MaskSpace, space_of
    from .nets.models import NLayerDiscriminator, ResnetBlock, ResnetGenerator
    from .nets.slimming import masked, masked_bits, slim, slim_bits
    from .nets.widths import GeneratorWidths, count_macs, count_parameters
    from .operators import (
        BudgetRepair,
        MinKeepRepair,
        MinSizeRepair,
        ParentSizeRepair,
        cxGroupBoundary,
        cxTwoPointMask,
        cxUniformGroup,
        initMaskBernoulli,
        initMaskCounts,
        initMaskFull,
        initMaskImportance,
        initMaskSize,
        initMaskSizeRange,
        mutFlipMask,
        mutMoveChannels,
        mutSegmentInvert,
        normalise_per_group,
        rank_shares,
        repairBudget,
        repairMinKeep,
        repairMinSize,
        roulette_shares,
        selRouletteRank,
        selRouletteWeighted,
        size_strata,
    )
    from .plotting import plot_fitness, plot_samples
    from .training.supernet import train_supernet

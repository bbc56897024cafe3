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
"""
from ._version import __version__  # noqa: F401 (one place for the version)
from .evolution.coevolution import CoevolutionState, PairHallOfFame, eaCoevolve, iterCoevolve
from .evolution.front import FrontConfig, FrontResult, iterCoevolveFront, search_front
from .evolution.parallel import ProcessPoolMap, WorkerError
from .evolution.raymap import RayMap
from .evolution.registration import create_types, register
from .evolution.resume import ResumeError, load_checkpoint, run_with_checkpoints, save_checkpoint
from .evolution.search import search_masks
from .evolution.search_config import SearchConfig, SearchResult
from .evolution.single_search import SingleSearchResult, search_single
from .fitness.adapted import AdaptedFitness, adapted_fitnesses
from .fitness.paper import GeneratorFitness, InvalidMaskWarning, MaskFitness, cyclegan_fitnesses
from .fitness.supernet import SupernetFitness, supernet_fitnesses
from .nets.checkpoints import (CheckpointError, CycleGAN, load_cyclegan, load_discriminator,
                               load_generator, save_discriminator, save_generator)
from .nets.counting import count_module_macs, count_module_parameters, flop_counter_macs
from .nets.importance import l1_importance
from .nets.latency_model import LatencyTable, latency_table, measure_latency_table
from .nets.maskspace import ChannelGroup, MaskSpace, TracedMaskSpace
from .nets.models import NLayerDiscriminator, ResnetBlock, ResnetGenerator
from .nets.slimming import masked, masked_bits, slim, slim_bits
from .nets.widths import GeneratorWidths, count_macs, count_parameters
from .operators import *  # noqa: F401,F403  (DEAP operators: initMask*, sel*, cx*, mut*, repair*)
from .operators import __all__ as _operators
from .plotting import plot_fitness, plot_samples
from .training.supernet import train_supernet

__all__ = [
    "CheckpointError", "CycleGAN", "load_cyclegan", "load_discriminator", "load_generator",
    "save_discriminator", "save_generator", "CoevolutionState", "PairHallOfFame", "eaCoevolve",
    "iterCoevolve", "count_module_macs", "count_module_parameters", "flop_counter_macs",
    "GeneratorFitness", "InvalidMaskWarning", "MaskFitness", "cyclegan_fitnesses",
    "AdaptedFitness", "adapted_fitnesses", "l1_importance",
    "ChannelGroup", "MaskSpace", "NLayerDiscriminator", "ResnetBlock", "ResnetGenerator",
    "plot_fitness", "plot_samples", "create_types", "register", "SearchConfig", "SearchResult",
    "search_masks", "masked", "slim", "TracedMaskSpace", "SingleSearchResult",
    "search_single", "masked_bits", "slim_bits", "GeneratorWidths", "count_macs",
    "count_parameters",
    "ProcessPoolMap", "RayMap", "WorkerError", "ResumeError", "load_checkpoint",
    "run_with_checkpoints", "save_checkpoint", "FrontConfig", "FrontResult",
    "iterCoevolveFront", "search_front", "LatencyTable", "latency_table",
    "measure_latency_table", "SupernetFitness", "supernet_fitnesses", "train_supernet",
    *_operators,
]

"""deap_gan_prune: compress CycleGAN generators by co-evolving channel masks with DEAP.

The pieces, from the bottom up: networks with upstream state-dict keys (:mod:`.models`), their
files (:mod:`.checkpoints`), the prunable channel groups (:mod:`.maskspace`; of any architecture,
traced by :mod:`.groups`), masks made real
(:mod:`.slimming`), DEAP operators and types (:mod:`.operators`, :mod:`.registration`), the
torch fitnesses (:mod:`.adapted_fitness`, the default; :mod:`.fitness`, the paper's;
:mod:`.supernet_fitness`, on once-for-all weights from :mod:`.training.supernet`),
co-evolution (:mod:`.coevolution`), the assembled search
(:mod:`.search`; :mod:`.front` for the Pareto front of quality and size, with
:mod:`.latency_model`), training (:mod:`.training`), data (:mod:`.data`, :mod:`.synthetic`), metrics
(:mod:`.metrics`), plots (:mod:`.plotting`).
"""
from .adapted_fitness import AdaptedFitness, adapted_fitnesses
from .checkpoints import (CheckpointError, CycleGAN, load_cyclegan, load_discriminator,
                          load_generator, save_discriminator, save_generator)
from .coevolution import CoevolutionState, PairHallOfFame, eaCoevolve, iterCoevolve
from .counting import count_module_macs, count_module_parameters, flop_counter_macs
from .front import FrontConfig, FrontResult, iterCoevolveFront, search_front
from .fitness import GeneratorFitness, InvalidMaskWarning, MaskFitness, cyclegan_fitnesses
from .importance import l1_importance
from .latency_model import LatencyTable, latency_table, measure_latency_table
from .maskspace import ChannelGroup, MaskSpace, TracedMaskSpace
from .models import NLayerDiscriminator, ResnetBlock, ResnetGenerator
from .operators import *  # noqa: F401,F403  (DEAP operators: initMask*, sel*, cx*, mut*, repair*)
from .operators import __all__ as _operators
from .parallel import ProcessPoolMap, RayMap, WorkerError
from .plotting import plot_fitness, plot_samples
from .registration import create_types, register
from .resume import ResumeError, load_checkpoint, run_with_checkpoints, save_checkpoint
from .search import SearchConfig, SearchResult, search_masks
from .single_search import SingleSearchResult, search_single
from .slimming import masked, masked_bits, slim, slim_bits
from .supernet_fitness import SupernetFitness, supernet_fitnesses
from .training.supernet import train_supernet
from .widths import GeneratorWidths, count_macs, count_parameters

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "CycleGAN", "load_cyclegan", "load_discriminator", "load_generator",
    "save_discriminator", "save_generator", "CoevolutionState", "PairHallOfFame", "eaCoevolve",
    "iterCoevolve", "count_module_macs", "count_module_parameters", "flop_counter_macs",
    "GeneratorFitness", "InvalidMaskWarning", "MaskFitness", "cyclegan_fitnesses",
    "AdaptedFitness", "adapted_fitnesses", "l1_importance",
    "ChannelGroup", "MaskSpace", "NLayerDiscriminator", "ResnetBlock", "ResnetGenerator",
    "plot_fitness", "plot_samples", "create_types", "register", "SearchConfig", "SearchResult",
    "search_masks", "masked", "slim", "TracedMaskSpace", "SingleSearchResult",
    "search_single", "masked_bits", "slim_bits", "GeneratorWidths", "count_macs", "count_parameters",
    "ProcessPoolMap", "RayMap", "WorkerError", "ResumeError", "load_checkpoint",
    "run_with_checkpoints", "save_checkpoint", "FrontConfig", "FrontResult",
    "iterCoevolveFront", "search_front", "LatencyTable", "latency_table",
    "measure_latency_table", "SupernetFitness", "supernet_fitnesses", "train_supernet",
    *_operators,
]

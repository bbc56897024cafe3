"""deap_gan_prune: compress CycleGAN generators by co-evolving channel masks with DEAP.

The pipeline, from the bottom up, one subpackage a stage:

* :mod:`.core`: the mask space, its sizes and the weight-blind baselines (pure Python);
* :mod:`.operators`: DEAP operators on masks (pure Python, no torch);
* :mod:`.nets`: networks with upstream state-dict keys, their checkpoint files and measured
  sizes, any architecture traced into its mask space, masks made real (slimming), filter
  importance, L1-norm masks and the latency model;
* :mod:`.fitness`: the torch fitnesses (adapted, the default; the paper's; on once-for-all
  weights from :mod:`.training.supernet`);
* :mod:`.evolution`: DEAP types, the one search of one generator or two (co-evolved), the
  Pareto front of quality and size, resumable checkpoints, and distributed evaluation
  (worker processes, Ray actors);
* :mod:`.training`: teacher training, fine-tuning with distillation, supernet training;
* :mod:`.metrics`: image measures, translation and timing;
* :mod:`.cli`: the command line.

Cross-cutting modules stay at the root: data (:mod:`.data`, :mod:`.synthetic`,
:mod:`.domains`), devices (:mod:`.devices`), output files (:mod:`.outputs`), run options
(:mod:`.runoptions`), config declarations (:mod:`.configs`), reports (:mod:`.report`,
:mod:`.generator_reports`), export (:mod:`.export`) and plots (:mod:`.plotting`).

Importing the package loads none of them (nor torch): each public name below is imported from
its submodule on first use (PEP 562), and so is each subpackage reached as an attribute
(``deap_gan_prune.nets``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes
from ._version import __version__

#: The names of the user's story, and where each lives: submodule (relative to this
#: package) → names. Everything else is public in its subpackage (the DEAP operators in
#: :mod:`.operators`, the searches' parts in :mod:`.evolution`, the networks' in
#: :mod:`.nets`).
_SUBMODULE_NAMES: dict[str, tuple[str, ...]] = {
    ".compression": ("CompressConfig", "compress"),
    ".evolution.front_config": ("FrontConfig",),
    ".evolution.parallel": ("ProcessPoolMap",),
    ".evolution.raymap": ("RayMap",),
    ".evolution.registration": ("create_types", "register"),
    ".evolution.search": ("search",),
    ".evolution.search_config": ("SearchConfig",),
    ".evolution.task": ("Task",),
    ".fitness.adapted": ("AdaptedFitness",),
    ".nets.checkpoints": ("CheckpointError", "CycleGAN", "load_cyclegan", "load_generator",
                          "save_generator"),
    ".nets.counting": ("count_module_macs", "count_module_parameters"),
    ".nets.latency_model": ("latency_model_for",),
    ".nets.groups": ("space_of",),
    ".core.maskspace": ("MaskSpace",),
    ".nets.models": ("NLayerDiscriminator", "ResnetGenerator"),
    ".nets.slimming": ("slim",),
    ".core.widths": ("GeneratorWidths",),
    ".operators": ("BudgetRepair", "cxGroupBoundary", "initMaskBernoulli", "mutFlipMask",
                   "repairBudget"),
    ".plotting": ("plot_fitness",),
    ".runoptions": ("RunOptions",),
    ".teacher": ("load_teacher",),
    ".training.supernet": ("train_supernet",),
}
__all__, __getattr__, __dir__ = lazy_attributes(__name__, _SUBMODULE_NAMES, globals())

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .compression import CompressConfig, compress
    from .core.maskspace import MaskSpace
    from .core.widths import GeneratorWidths
    from .evolution.front_config import FrontConfig
    from .evolution.parallel import ProcessPoolMap
    from .evolution.raymap import RayMap
    from .evolution.registration import create_types, register
    from .evolution.search import search
    from .evolution.search_config import SearchConfig
    from .evolution.task import Task
    from .fitness.adapted import AdaptedFitness
    from .nets.checkpoints import (
        CheckpointError,
        CycleGAN,
        load_cyclegan,
        load_generator,
        save_generator,
    )
    from .nets.counting import count_module_macs, count_module_parameters
    from .nets.groups import space_of
    from .nets.latency_model import latency_model_for
    from .nets.models import NLayerDiscriminator, ResnetGenerator
    from .nets.slimming import slim
    from .operators import (
        BudgetRepair,
        cxGroupBoundary,
        initMaskBernoulli,
        mutFlipMask,
        repairBudget,
    )
    from .plotting import plot_fitness
    from .runoptions import RunOptions
    from .teacher import load_teacher
    from .training.supernet import train_supernet

"""Evolution: the DEAP side of the search, on top of the operators and the fitnesses.

DEAP types and toolbox registration (:mod:`.registration`), one population's evolution
(:mod:`.evolve`), co-evolution of two generators' masks (:mod:`.coevolution`), the skeleton
every search shares (:mod:`.skeleton`), what a search is about (:mod:`.task`: one generator
or two), the search with its settings and result (:mod:`.search`, :mod:`.search_config`,
:mod:`.result`), the Pareto front of quality and size (:mod:`.front`, its settings in
:mod:`.front_config`; its points and the choice of one in :mod:`.pareto`), resumable JSON
checkpoints (:mod:`.resume`) and logbooks as records (:mod:`.logbooks`). Fitnesses are
evaluated in process, on worker processes (:mod:`.parallel`) or on Ray actors
(:mod:`.raymap`).
"""
from .coevolution import CoevolutionState, PairHallOfFame, eaCoevolve, iterCoevolve
from .evolve import EvolutionState, eaEvolve, iterEvolve
from .front import FrontResult, iterEvolveFront
from .front_config import FrontConfig
from .logbooks import logbook_from_records, logbook_records
from .parallel import ProcessPoolMap, WorkerError
from .raymap import RayMap
from .registration import Operators, create_types, register
from .result import SearchResult
from .resume import ResumeError, load_checkpoint, run_with_checkpoints, save_checkpoint
from .search_config import SearchConfig
from .task import Task

__all__ = ["create_types", "register", "Operators", "CoevolutionState", "PairHallOfFame",
           "eaCoevolve", "iterCoevolve", "EvolutionState", "eaEvolve", "iterEvolve", "Task",
           "SearchConfig", "SearchResult", "FrontConfig", "FrontResult",
           "iterEvolveFront", "ResumeError", "load_checkpoint", "run_with_checkpoints",
           "save_checkpoint", "logbook_records", "logbook_from_records", "ProcessPoolMap",
           "RayMap", "WorkerError"]

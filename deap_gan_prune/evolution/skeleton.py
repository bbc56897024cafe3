"""The skeleton every search shares. :func:`~.search.search` reads, for one generator, two
co-evolved, or a front::

    check_options(options)
    with seeded(config.seed, [options.device]):
        spaces, fitnesses, toolboxes, populations = ...       # what the search is about
        run = identity(options.checkpoint, config.to_dict(), fitnesses, models)  # None: no file
        start = resume_from(run, options.resume, load, config.generations)  # None: fresh
        pool = attach_pool(toolboxes, fitnesses, options)
        state = evolve(algorithm(start or populations, toolboxes, ...), start,
                       desc=..., generations=config.generations, postfix=..., pool=pool,
                       save=..., options=options)
        return Result(...)

where ``algorithm`` is :func:`~.evolve.iterEvolve` (one population),
:func:`~.coevolution.iterCoevolve` (two, co-evolved) or :func:`~.front.iterEvolveFront`
(multi-objective). Copy a search and change what you need.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
from deap import base, tools
from tqdm.auto import tqdm

from ..devices import check_memory
from ..files import images_hash, models_hash
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from .coevolution import HALL_OF_FAME_SIZE as HALL_OF_FAME_SIZE  # masks (or pairs) kept
from .parallel import ProcessPoolMap
from .raymap import RayMap, import_ray
from .resume import ResumeError, rng_state, set_rng_state


class _State(Protocol):
    gen: int


S = TypeVar("S", bound=_State)


def check_options(options: RunOptions) -> None:
    """ImportError for Ray's address without Ray installed, before any work (the options
    check themselves for contradictions)."""
    if options.ray_address is not None:
        import_ray()


def check_population(population: int, n_bits: int) -> None:
    """Refuse, before any individual is made, a population whose masks (population,
    offspring and hall of fame: about 3 x ``population`` lists of ``n_bits`` bits, with
    DEAP's per-individual objects) would not fit in memory."""
    check_memory(3.0 * population * (8 * n_bits + 1024), f"population {population}")


def fitness_statistics() -> tools.Statistics:
    """max, avg and min of the first fitness value of a population."""
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("max", np.max)
    stats.register("avg", np.mean)
    stats.register("min", np.min)
    return stats


def fitness_images_hash(*fitnesses: object) -> str:
    """:func:`images_hash` of the scoring (``images``) and adaptation (``adapt_images``)
    images of the fitnesses, in order: the inputs a checkpointed search depends on."""
    return images_hash(*(getattr(f, name) for f in fitnesses
                         for name in ("images", "adapt_images") if hasattr(f, name)))


@dataclass(frozen=True)
class RunIdentity:
    """A search's checkpoint file ``path`` and what the checkpoint must match to be resumed:
    the settings ``config`` (without the generation count, so that a run can be extended;
    with the hash of the images) and ``digest``, the hash of the networks' weights."""

    path: str | os.PathLike
    config: dict
    digest: str


def identity(checkpoint: str | os.PathLike | None, config: Mapping[str, Any],
             fitnesses: Sequence, models: Iterable, **extra: Any) -> RunIdentity | None:
    """The :class:`RunIdentity` of a search checkpointed to ``checkpoint`` (None: no
    checkpoint, no identity) with settings ``config`` (a ``to_dict()``), scored by
    ``fitnesses`` on the networks ``models`` (``None`` entries skipped); ``extra`` settings
    follow the images' hash."""
    if checkpoint is None:
        return None
    saved = {**config, "images": fitness_images_hash(*fitnesses), **extra}
    saved.pop("generations", None)
    return RunIdentity(checkpoint, saved, models_hash(*(m for m in models if m is not None)))


def resume_from(run: RunIdentity | None, resume: bool, load: Callable[[RunIdentity], S],
                generations: int) -> S | None:
    """``load(run)`` when resuming from an existing checkpoint, else None (a fresh start). A
    checkpoint beyond ``generations`` is refused (ResumeError naming the file)."""
    if run is None or not resume or not os.path.exists(run.path):
        return None
    state = load(run)
    if state.gen > generations:
        raise ResumeError(f"{run.path}: the checkpoint is at generation {state.gen}, beyond "
                          f"the {generations} generations asked for: ask for {state.gen} or "
                          "more to continue it")
    return state


def evaluation_map(fitnesses: Mapping, workers: int = 0,
                   ray_address: str | None = None) -> RayMap | ProcessPoolMap | None:
    """The ``toolbox.map`` for ``workers`` > 0 processes (:class:`ProcessPoolMap`) or, with
    ``ray_address`` ("local" starts a Ray instance, "auto" / "ray://..." joins one), Ray actors
    (:class:`RayMap`, ``workers`` of them, at least 1); ``None`` to evaluate in process. Starting
    workers leaves the random generators' states as they were."""
    if ray_address is None and workers <= 0:
        return None
    states = rng_state()
    pool: RayMap | ProcessPoolMap
    if ray_address is not None:
        pool = RayMap(fitnesses, None if ray_address == "local" else ray_address,
                      num_workers=max(workers, 1))
    else:
        pool = ProcessPoolMap(fitnesses, workers=workers)
    set_rng_state(states)
    return pool


def attach_pool(toolboxes: Sequence[base.Toolbox], fitnesses: Mapping, options: RunOptions
                ) -> RayMap | ProcessPoolMap | None:
    """:func:`evaluation_map` of ``fitnesses`` (by population name, "A" and "B") for the
    ``options``' workers or Ray address, registered as every toolbox's ``map``; None
    (toolboxes unchanged) without them."""
    pool = evaluation_map(fitnesses, options.workers, options.ray_address)
    for toolbox in toolboxes if pool is not None else ():
        toolbox.register("map", pool)
    return pool


def evolve(states: Iterator[S], start: S | None, *, desc: str, generations: int,
           postfix: Callable[[S], dict], options: RunOptions = DEFAULT_OPTIONS,
           pool: RayMap | ProcessPoolMap | None = None,
           save: Callable[[S], Any] | None = None) -> S:
    """Run a search's generations (``states``, from an ``iterEvolve``-like generator that
    yields the state after each of generations 0..``generations``): after each, ``save(state)``
    (a checkpoint), a progress bar's ``postfix(state)`` (with ``options.progress``) and
    ``options.callback(state)`` (True stops). The bar and the ``pool`` are closed whatever
    happens. Returns the last state (``start`` when there was no generation left to run)."""
    callback = options.callback
    bar = tqdm(total=generations + 1, desc=desc, unit="gen", disable=not options.progress,
               initial=0 if start is None else start.gen + 1)
    state = start
    try:
        for state in states:
            if save is not None:
                save(state)
            bar.set_postfix(**postfix(state))
            bar.update()
            if callback is not None and callback(state):
                break
    finally:
        bar.close()
        if pool is not None:
            pool.close()
    assert state is not None  # generation 0 is always yielded on a fresh start
    return state


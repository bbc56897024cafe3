"""Checkpoint and resume a co-evolution: one JSON file, rewritten atomically after every
generation, holding everything the next generation depends on.

The file holds the generation, both populations (masks as 0/1 lists with their fitness
values, one or several objectives, so selection after a resume sees the same fitness), the
best pair, the pair hall of fame, the per-population Pareto archives of a multi-objective
search (``archives``, only when the state has them), the logbook (plain records), the states
of the ``random``, numpy and torch generators,
the caller's configuration (a JSON-able dict) and a hash of the models. Resuming with another
configuration or other models is refused (:class:`ResumeError` names the differing keys).
A search killed at any point and resumed ends exactly as an uninterrupted one.
"""
from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from deap import base, tools

from ..files import atomic_write
from ..files import models_hash as models_hash  # re-exported: part of this API
from .coevolution import CoevolutionState, PairHallOfFame, iterCoevolve
from .evolve import EvolutionState
from .logbooks import logbook_from_records, logbook_records

FORMAT = "deap_gan_prune/coevolution-checkpoint"
VERSION = 2  # 2: hall-of-fame pairs carry their joint score


class ResumeError(ValueError):
    """A checkpoint that cannot be resumed; the message names the file and the problem."""


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays, tuples and tensors converted."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return _jsonable(value.tolist())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON-able")


# -- random generators -----------------------------------------------------------------------
def rng_state() -> dict:
    """States of ``random``, numpy's global generator and torch's CPU generator, as JSON."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"random": [version, list(internal), gauss],
            "numpy": [name, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)],
            "torch": torch.get_rng_state().tolist()}


def set_rng_state(state: Mapping) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state["random"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))


# -- individuals and logbooks ----------------------------------------------------------------
def _individual(ind: Any) -> dict:
    values = list(ind.fitness.values) if ind.fitness.valid else None
    return {"mask": [int(b) for b in ind], "fitness": values}


def _rebuild(data: Mapping, cls: type) -> Any:
    ind = cls(int(b) for b in data["mask"])
    if data["fitness"] is not None:
        ind.fitness.values = tuple(float(v) for v in data["fitness"])
    return ind


def _rebuild_archive(entries: list, cls: type) -> tools.ParetoFront:
    """A ``tools.ParetoFront`` holding ``entries`` in their saved order (best first)."""
    archive = tools.ParetoFront()
    archive.items = [_rebuild(e, cls) for e in entries]
    archive.keys = [ind.fitness for ind in reversed(archive.items)]  # as HallOfFame.insert
    return archive


def _rebuild_logbook(records: list[dict]) -> tools.Logbook:
    logbook = logbook_from_records(records)
    logbook.buffindex = len(logbook)  # a verbose run goes on printing new records only
    return logbook


# -- writing ----------------------------------------------------------------------------------
def state_to_dict(state: CoevolutionState, config: Mapping, models_hash: str) -> dict:
    """The JSON content of a checkpoint of ``state`` (the RNG states are taken now)."""
    populations, best = {}, {}
    for name, pop, ind in zip("AB", state.populations, state.best):
        populations[name] = [_individual(i) for i in pop]
        index = next((k for k, i in enumerate(pop) if i is ind), None)
        best[name] = {"index": index, **_individual(ind)}
    hof = state.halloffame
    archives = {} if state.archives is None else {"archives": {
        name: [_individual(i) for i in archive] for name, archive in zip("AB", state.archives)}}
    return {"format": FORMAT, "version": VERSION, "generation": state.gen,
            "populations": populations, "best": best, "nevals": list(state.nevals),
            "halloffame": None if hof is None else {
                "maxsize": hof.maxsize,
                "items": [{"A": _individual(a), "B": _individual(b), "gen": g, "score": sc}
                          for a, b, g, sc in hof.items]},
            **archives,
            "logbook": _jsonable(logbook_records(state.logbook)), "extra": _jsonable(state.extra),
            "rng": rng_state(), "config": _jsonable(config), "models_hash": models_hash}


def save_checkpoint(path: str | os.PathLike, state: CoevolutionState, config: Mapping,
                    models_hash: str) -> Path:
    """Write the checkpoint of ``state`` to ``path`` atomically (a temporary file, flushed to
    disk, then moved into place): ``path`` always holds a whole checkpoint."""
    return write_checkpoint_json(path, state_to_dict(state, config, models_hash))


def write_checkpoint_json(path: str | os.PathLike, data: Mapping) -> Path:
    """Write a checkpoint's JSON ``data`` to ``path`` atomically (a temporary file, flushed
    to disk, then moved into place), one top-level key per line."""
    text = "{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
                              for k, v in data.items()) + "\n}\n"

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    atomic_write(path, write)
    return Path(path)


def checkpointing(path: str | os.PathLike, config: Mapping, models_hash: str
                  ) -> Callable[[CoevolutionState], None]:
    """A ``callback`` for :func:`eaCoevolve` that checkpoints every generation to ``path``."""
    def callback(state: CoevolutionState) -> None:
        save_checkpoint(path, state, config, models_hash)
    return callback


# -- reading ----------------------------------------------------------------------------------
def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in _differences(old.get(k, _MISSING), new.get(k, _MISSING),
                                                        f"{prefix}{k}.")]
    same = old == new or (isinstance(old, float) and isinstance(new, float)
                          and math.isnan(old) and math.isnan(new))
    return [] if same else [prefix[:-1] or "config"]


_MISSING = "<missing>"


def read_checkpoint(path: str | os.PathLike, kind: str = FORMAT, version: int = VERSION
                    ) -> dict:
    """The JSON content of a checkpoint file of format ``kind`` and ``version`` (ResumeError
    naming the file if unreadable)."""
    path = Path(path)
    if not path.is_file():
        raise ResumeError(f"{path}: no such checkpoint file")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResumeError(f"{path}: not a readable checkpoint (truncated or corrupt?): "
                          f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        what = "co-evolution" if kind == FORMAT else "single-search"
        raise ResumeError(f"{path}: not a {what} checkpoint (no format {kind!r})")
    if data.get("version") != version:
        raise ResumeError(f"{path}: checkpoint version {data.get('version')!r} is not "
                          f"supported (this library reads version {version})")
    return data


def _describe(value: Any) -> str:
    """A short account of a JSON value for an error message."""
    text = json.dumps(value)
    if len(text) <= 40:
        return text
    if isinstance(value, (list, dict, str)):
        return f"a {type(value).__name__} of length {len(value)}"
    return text[:40] + "..."


def _malformed(path: str | os.PathLike, field: str, expected: str, found: Any) -> ResumeError:
    return ResumeError(f"{path}: a damaged checkpoint: field {field} should be {expected}, "
                       f"found {_describe(found)}")


def _is_int(value: Any, low: int, high: int | None = None) -> bool:
    return type(value) is int and value >= low and (high is None or value <= high)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _check_ints(path: str | os.PathLike, field: str, value: Any, length: int, low: int,
                high: int) -> None:
    if not (isinstance(value, list) and len(value) == length
            and all(_is_int(v, low, high) for v in value)):
        raise _malformed(path, field, f"a list of {length} integers in {low}..{high}", value)


def _check_individual(path: str | os.PathLike, field: str, entry: Any, n_bits: int | None) -> int:
    """Check ``{"mask": [0/1...], "fitness": null | [numbers]}``; returns the mask length."""
    if not isinstance(entry, dict):
        raise _malformed(path, field, "an object with mask and fitness", entry)
    mask = entry.get("mask")
    n_bits = len(mask) if n_bits is None and isinstance(mask, list) else n_bits
    if not (isinstance(mask, list) and mask and len(mask) == n_bits
            and all(b in (0, 1) and type(b) is int for b in mask)):
        raise _malformed(path, f"{field}.mask", f"a list of {n_bits or 'some'} bits 0/1", mask)
    fitness = entry.get("fitness")
    if fitness is not None and not (isinstance(fitness, list) and fitness
                                    and all(_is_number(v) for v in fitness)):
        raise _malformed(path, f"{field}.fitness", "null or a list of finite numbers", fitness)
    return n_bits


def _check_populations(path: str | os.PathLike, data: dict) -> None:
    populations, best = data.get("populations"), data.get("best")
    for name in "AB":
        pop = populations.get(name) if isinstance(populations, dict) else None
        if not (isinstance(pop, list) and pop):
            raise _malformed(path, f"populations.{name}", "a non-empty list of individuals",
                             pop)
        lengths = [len(e["mask"]) for e in pop if isinstance(e, dict)
                   and isinstance(e.get("mask"), list)]
        n_bits = max(set(lengths), key=lengths.count) if lengths else None  # the usual length
        for i, entry in enumerate(pop):
            n_bits = _check_individual(path, f"populations.{name}[{i}]", entry, n_bits)
        entry = best.get(name) if isinstance(best, dict) else None
        index = entry.get("index") if isinstance(entry, dict) else None
        if index is not None and not _is_int(index, 0, len(pop) - 1):
            raise _malformed(path, f"best.{name}.index", f"null or 0..{len(pop) - 1}", index)
        _check_individual(path, f"best.{name}", entry, n_bits)


def _check_rng(path: str | os.PathLike, rng: Any) -> None:
    """The random, numpy and torch states :func:`rng_state` writes, with their sizes."""
    if not isinstance(rng, dict):
        raise _malformed(path, "rng", "an object with random, numpy and torch", rng)
    state = rng.get("random")
    if not (isinstance(state, list) and len(state) == 3 and type(state[0]) is int
            and (state[2] is None or _is_number(state[2]))):
        raise _malformed(path, "rng.random", "[version, 625 integers, gauss]", state)
    _check_ints(path, "rng.random[1]", state[1], 625, 0, 2**32 - 1)
    if state[1][-1] > 624:
        raise _malformed(path, "rng.random[1][624]", "a position in 0..624", state[1][-1])
    state = rng.get("numpy")
    if not (isinstance(state, list) and len(state) == 5 and state[0] == "MT19937"
            and _is_int(state[2], 0, 624) and _is_int(state[3], 0, 1)
            and _is_number(state[4])):
        raise _malformed(path, "rng.numpy", '["MT19937", 624 integers, position, 0/1, gauss]',
                         state)
    _check_ints(path, "rng.numpy[1]", state[1], 624, 0, 2**32 - 1)
    _check_ints(path, "rng.torch", rng.get("torch"), torch.get_rng_state().numel(), 0, 255)


def check_checkpoint(path: str | os.PathLike, data: dict) -> None:
    """Refuse a checkpoint whose fields (other than the hall of fame, checked when it is
    rebuilt) have the wrong type or size, naming the file and the field."""
    if not _is_int(data.get("generation"), 0):
        raise _malformed(path, "generation", "an integer >= 0", data.get("generation"))
    _check_populations(path, data)
    nevals = data.get("nevals")
    if not (isinstance(nevals, list) and all(_is_int(n, 0) for n in nevals)):
        raise _malformed(path, "nevals", "a list of integers >= 0", nevals)
    logbook = data.get("logbook")
    if not (isinstance(logbook, list) and all(isinstance(r, dict) for r in logbook)):
        raise _malformed(path, "logbook", "a list of objects", logbook)
    if not isinstance(data.get("extra"), dict):
        raise _malformed(path, "extra", "an object", data.get("extra"))
    archives = data.get("archives")
    if archives is not None:
        if not (isinstance(archives, dict) and all(isinstance(archives.get(n), list)
                                                   for n in "AB")):
            raise _malformed(path, "archives", "an object with lists A and B", archives)
        for name in "AB":
            for i, entry in enumerate(archives[name]):
                _check_individual(path, f"archives.{name}[{i}]", entry, None)
    _check_rng(path, data.get("rng"))


def check_same_run(path: str | os.PathLike, data: Mapping, config: Mapping,
                   models_hash: str) -> None:
    """:class:`ResumeError` naming what differs when the checkpoint ``data`` read from
    ``path`` was written with another ``config`` or other models."""
    saved = data.get("config")
    differing = _differences(saved, json.loads(json.dumps(_jsonable(config))))
    if data.get("models_hash") != models_hash:
        differing.append("models")
    if differing:
        raise ResumeError(f"{path}: cannot resume: the checkpoint was written with another "
                          f"configuration (differing: {', '.join(differing)})")


def load_checkpoint(path: str | os.PathLike, individual_classes: type | Sequence[type],
                    config: Mapping, models_hash: str, *, restore_rng: bool = True
                    ) -> CoevolutionState:
    """The :class:`CoevolutionState` saved in ``path``, to resume ``iterCoevolve(state, ...)``;
    restores the random generators' states unless ``restore_rng`` is False.

    ``individual_classes``: the individual class of both populations, or one per population.
    Raises :class:`ResumeError` when the file is unreadable or was written with another
    ``config`` or other models (``models_hash``, from :func:`models_hash`).
    """
    data = read_checkpoint(path)
    check_checkpoint(path, data)
    check_same_run(path, data, config, models_hash)
    classes = (tuple(individual_classes) if isinstance(individual_classes, Sequence)
               else (individual_classes, individual_classes))
    try:
        populations = tuple([_rebuild(d, cls) for d in data["populations"][name]]
                            for name, cls in zip("AB", classes))
        best = []
        for name, pop, cls in zip("AB", populations, classes):
            entry = data["best"][name]
            best.append(pop[entry["index"]] if entry["index"] is not None
                        else _rebuild(entry, cls))
        hof = None
        if data["halloffame"] is not None:
            hof = PairHallOfFame(data["halloffame"]["maxsize"])
            hof.items = [(_rebuild(item["A"], classes[0]), _rebuild(item["B"], classes[1]),
                          int(item["gen"]), float(item["score"]))
                         for item in data["halloffame"]["items"]]
        archives = data.get("archives")
        if archives is not None:
            archives = tuple(_rebuild_archive(archives[name], cls)
                             for name, cls in zip("AB", classes))
        state = CoevolutionState(int(data["generation"]), populations, tuple(best),
                                 _rebuild_logbook(data["logbook"]), tuple(data["nevals"]), hof,
                                 dict(data["extra"]), archives)
        if restore_rng:
            set_rng_state(data["rng"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ResumeError(f"{path}: a damaged checkpoint ({type(exc).__name__}: {exc})"
                          ) from None
    return state


def run_with_checkpoints(populations: tuple[list, list],
                         toolboxes: tuple[base.Toolbox, base.Toolbox], ngen: int, *,
                         path: str | os.PathLike, config: Mapping, models_hash: str,
                         resume: bool = False,
                         callback: Callable[[CoevolutionState], bool | None] | None = None,
                         **options: Any) -> tuple[tuple[list, ...], tools.Logbook,
                                             tuple[object, object]]:
    """:func:`eaCoevolve` with a checkpoint written to ``path`` after every generation.

    With ``resume`` and an existing ``path`` the search goes on from the checkpoint (the
    given ``populations`` only tell the individual classes); without the file it starts
    afresh. ``options`` go to :func:`iterCoevolve` (cxpb, mutpb, elitism, schedule, stats).
    ``callback(state)`` runs after each checkpoint; True stops early.
    """
    start: tuple[list, list] | CoevolutionState = populations
    if resume and Path(path).exists():
        classes = tuple(type(pop[0]) for pop in populations)
        start = load_checkpoint(path, classes, config, models_hash)
    state = start if isinstance(start, CoevolutionState) else None
    for state in iterCoevolve(start, toolboxes, ngen, **options):
        save_checkpoint(path, state, config, models_hash)
        if callback is not None and callback(state):
            break
    assert state is not None  # generation 0 is always yielded
    return state.populations, state.logbook, state.best


# -- one population (one generator) ------------------------------------------------------------
SINGLE_FORMAT = "deap_gan_prune/single-search-checkpoint"
SINGLE_VERSION = 1


def save_single_checkpoint(path: str | os.PathLike, state: EvolutionState, config: Mapping,
                           models_hash: str) -> Path:
    """Write the checkpoint of a one-population ``state`` to ``path`` atomically; the RNG
    states are taken now."""
    data = {"format": SINGLE_FORMAT, "version": SINGLE_VERSION, "generation": state.gen,
            "population": [_individual(i) for i in state.population],
            "halloffame": [_individual(i) for i in state.halloffame],
            "logbook": _jsonable(logbook_records(state.logbook)), "rng": rng_state(),
            "config": _jsonable(config), "models_hash": models_hash}
    return write_checkpoint_json(path, data)


def load_single_checkpoint(path: str | os.PathLike, individual_cls: type, config: Mapping,
                           models_hash: str, halloffame_size: int = 5) -> EvolutionState:
    """The :class:`EvolutionState` saved in ``path`` by :func:`save_single_checkpoint`, for
    resuming ``iterEvolve(state, ...)``; restores the random generators' states.
    :class:`ResumeError` naming the file when it is unreadable, damaged, or written with
    another ``config`` or other models."""
    data = read_checkpoint(path, SINGLE_FORMAT, SINGLE_VERSION)
    check_same_run(path, data, config, models_hash)
    population, hof = data.get("population"), data.get("halloffame")
    if not (isinstance(population, list) and population and isinstance(hof, list) and hof):
        raise ResumeError(f"{path}: a damaged checkpoint: population and halloffame should "
                          "be non-empty lists")
    n_bits = None
    for i, entry in enumerate(population):
        n_bits = _check_individual(path, f"population[{i}]", entry, n_bits)
    for i, entry in enumerate(hof):
        _check_individual(path, f"halloffame[{i}]", entry, n_bits)
    _check_rng(path, data.get("rng"))
    try:
        gen = int(data["generation"])
        pop = [_rebuild(d, individual_cls) for d in population]
        halloffame = tools.HallOfFame(halloffame_size)
        archive = _rebuild_archive(hof, individual_cls)
        halloffame.items, halloffame.keys = archive.items, archive.keys
        logbook = _rebuild_logbook(data["logbook"])
        logbook.header = ["gen", "nevals", "max", "avg", "min"]
        set_rng_state(data["rng"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ResumeError(f"{path}: a damaged checkpoint ({type(exc).__name__}: {exc})"
                          ) from None
    return EvolutionState(gen, pop, halloffame, logbook)

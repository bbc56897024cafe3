"""Distributed evaluation on Ray actors (the optional ``ray`` extra): :class:`RayMap`, a
``toolbox.map`` whose actors load the fitness objects once (see :mod:`.parallel`)."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .parallel import (
    PoolMap,
    WorkerError,
    describe_task,
    error_message,
    load_payload,
    reraise,
    score_task,
)


def import_ray():
    """The ``ray`` module, or an ImportError whose one line names the extra to install."""
    try:
        import ray
        from ray.util import ActorPool  # noqa: F401
    except ImportError:
        raise ImportError("RayMap needs Ray: pip install 'deap-gan-prune[ray]'") from None
    return ray


class _Evaluator:
    """A Ray actor body: loads the fitness objects once and scores tasks."""

    def __init__(self, payload: bytes, threads: int | None) -> None:
        load_payload(payload, threads)

    def pid(self) -> int:
        return os.getpid()

    def score(self, task: tuple) -> Any:
        try:
            return ("ok", score_task(task))
        except Exception as exc:
            return ("error", *error_message(exc))


class RayMap(PoolMap):
    """``map(func, iterable) -> list`` over ``num_workers`` Ray actors (a
    ``ray.util.ActorPool``), each holding the fitness objects. Uses the running Ray instance,
    else ``ray.init(address)`` (``None`` starts a local one, ``"auto"`` or ``"ray://..."``
    joins a cluster; that instance is shut down on close). ``num_cpus`` is each actor's
    reservation; ``threads`` sets ``torch.set_num_threads`` in each actor."""

    def __init__(self, fitnesses: Mapping | Sequence, address: str | None = None,
                 num_workers: int = 2, *, threads: int | None = 1, num_cpus: float = 1,
                 init_options: Mapping | None = None) -> None:
        ray = import_ray()
        from ray.util import ActorPool
        super().__init__(fitnesses, num_workers)
        self._ray, self._actors = ray, []
        self._owns = not ray.is_initialized()
        if self._owns:
            options = {"include_dashboard": False, **(init_options or {})}
            ray.init(address=address, **options)
        actor = ray.remote(num_cpus=num_cpus)(_Evaluator)
        payload = ray.put(self._tasks.payload)
        self._actors = [actor.remote(payload, threads) for _ in range(num_workers)]
        try:
            self._pids = ray.get([a.pid.remote() for a in self._actors])
        except ray.exceptions.RayError as exc:
            self.close()
            raise WorkerError(f"a Ray evaluation worker could not load the fitness objects: "
                              f"{str(exc).strip().splitlines()[0]}") from None
        self._ids = {a._actor_id.hex(): i for i, a in enumerate(self._actors)}
        self._pool = ActorPool(list(self._actors))

    def __call__(self, func: Callable, iterable: Iterable) -> list:
        """``[func(item) for item in iterable]``, computed by the actors, in order."""
        self._check()
        tasks = self._tasks.make(func, iterable)
        for task in tasks:
            self._pool.submit(lambda a, t: a.score.remote(t), task)
        results, error = [], None
        for index, task in enumerate(tasks):
            try:
                reply = self._pool.get_next()
            except self._ray.exceptions.RayActorError as exc:
                i = self._ids.get(getattr(exc, "actor_id", None) or "", "?")
                self._died(i, self._pids[i] if isinstance(i, int) else "?",
                           f"while scoring item {index}: {describe_task(task)}")
            if reply[0] == "error" and error is None:
                error = (*reply[1:], f"Ray evaluation worker scoring item {index}")
            results.append(reply[1] if reply[0] == "ok" else None)
        if error is not None:
            reraise(*error)
        return results

    def close(self) -> None:
        """Stop the actors, and Ray itself when this object started it (idempotent)."""
        for a in self._actors:
            with contextlib.suppress(Exception):
                self._ray.kill(a)
        self._actors = []
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False
        self._broken = self._broken or "it was closed"

    @property
    def pids(self) -> list[int]:
        """Process ids of the actors, by worker number."""
        return list(self._pids)

"""Distributed evaluation through DEAP's ``toolbox.map`` slot: worker processes or Ray actors.

Workers load the fitness objects ONCE; afterwards a call ``pool(func, individuals)`` sends
only small tasks. When ``func`` is one of the registered fitnesses (possibly wrapped in
``functools.partial``, as ``toolbox.evaluate`` with a bound ``partner`` is), a task is
``(key, bound arguments, mask as a list of ints)``; individuals among the bound arguments
travel as plain 0/1 lists too. Any other callable is pickled with each task. Workers return
fitness tuples of Python floats, in the order of the iterable::

    with ProcessPoolMap({"A": fit_a, "B": fit_b}, workers=4) as pool:
        for tb in toolboxes:
            tb.register("map", pool)
        eaCoevolve(populations, toolboxes, ngen)

A worker that dies stops the search with a :class:`WorkerError` naming it; an exception raised
by the fitness inside a worker is re-raised as is (after the other workers finish their task).
The fitness does not know how it is distributed. As with any ``spawn`` pool, a script must
start the pool under ``if __name__ == "__main__":``.

Torch's results depend on its thread count in the last bits; workers use ``threads`` (1 by
default), so a distributed search equals an in-process one run with the same thread count.

Why not ``concurrent.futures.ProcessPoolExecutor`` with an initializer: it keeps the order and
would send only masks, but when a worker dies every pending future fails with the same
``BrokenProcessPool`` ("terminated abruptly while the future was running or pending"), naming
neither the process nor the task. It marks queued tasks as running before any worker takes
them (with 2 workers, 3 futures are "running"), so even the futures cannot tell which mask
killed the worker; the pool here sends one task per worker at a time and knows.
"""
from __future__ import annotations

import contextlib
import functools
import multiprocessing
import numbers
import pickle
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn

import torch

_FITNESSES: dict = {}  # the worker-global registry: key -> fitness object


class WorkerError(RuntimeError):
    """An evaluation worker died or could not start; the message names it."""


# -- tasks: what travels to a worker --------------------------------------------------------
def _unwrap(func: Callable) -> tuple[Callable, tuple, dict]:
    """``(callable, args, keywords)`` of a chain of ``functools.partial`` (DEAP's toolbox
    wraps every registered function in one)."""
    args: tuple = ()
    keywords: dict = {}
    while isinstance(func, functools.partial):
        args, keywords = func.args + args, {**func.keywords, **keywords}
        func = func.func
    return func, args, keywords


def _plain(value: Any) -> Any:
    """An individual (a list subclass with a ``fitness``) as a plain list of ints."""
    if isinstance(value, list) and hasattr(value, "fitness"):
        return [int(b) for b in value]
    return value


def describe_task(task: tuple) -> str:
    if task[0] == "fit":
        bits = task[4]
        return f"a mask of fitness {task[1]!r} keeping {sum(bits)}/{len(bits)} bits"
    return f"{task[2]!r} with {task[1]!r}"


class _Tasks:
    """Turns ``(func, item)`` into tasks, recognising registered fitnesses by identity."""

    def __init__(self, fitnesses: Mapping | Sequence) -> None:
        items = fitnesses.items() if isinstance(fitnesses, Mapping) else enumerate(fitnesses)
        self.fitnesses = dict(items)
        if not self.fitnesses:
            raise ValueError("give at least one fitness object to distribute")
        self._keys = {id(f): k for k, f in self.fitnesses.items()}
        try:
            self.payload = pickle.dumps(self.fitnesses, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise ValueError(f"the fitness objects cannot be sent to workers (pickling failed: "
                             f"{exc}); use module-level functions, no lambdas") from None

    def make(self, func: Callable, iterable: Iterable) -> list[tuple]:
        base, args, keywords = _unwrap(func)
        key = self._keys.get(id(base))
        if key is None:
            try:
                pickle.dumps(func)
            except Exception as exc:
                raise ValueError(f"cannot send {func!r} to the workers ({exc}): give the fitness "
                                 "to the pool or use picklable module-level functions") from None
            return [("call", func, item) for item in iterable]
        args = tuple(_plain(a) for a in args)
        keywords = {k: _plain(v) for k, v in keywords.items()}
        return [("fit", key, args, keywords, [int(b) for b in item]) for item in iterable]


def load_payload(payload: bytes, threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
    _FITNESSES.clear()
    _FITNESSES.update(pickle.loads(payload))


def score_task(task: tuple) -> Any:
    """Run a task; a tuple of numbers comes back as Python floats."""
    if task[0] == "fit":
        _, key, args, keywords, bits = task
        result = _FITNESSES[key](bits, *args, **keywords)
    else:
        result = task[1](task[2])
    if isinstance(result, tuple) and all(isinstance(v, numbers.Real) for v in result):
        return tuple(float(v) for v in result)
    return result


def error_message(exc: BaseException) -> tuple:
    try:
        blob = pickle.dumps(exc)
    except Exception:
        blob = None
    return blob, f"{type(exc).__name__}: {exc}", traceback.format_exc()


def reraise(blob: bytes | None, text: str, trace: str, where: str) -> NoReturn:
    exc = None
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        raise WorkerError(f"{where} failed: {text}")
    if hasattr(exc, "add_note"):
        exc.add_note(f"raised in {where}:\n{trace}")
    raise exc


# -- worker processes -----------------------------------------------------------------------
def _worker_main(conn: Connection, payload: bytes, threads: int | None) -> None:
    """Loop of one worker process: load the fitnesses, then answer ``(index, task)`` messages
    with ``("ok", index, result)`` or ``("error", index, ...)`` until ``None``."""
    try:
        load_payload(payload, threads)
    except BaseException as exc:
        conn.send(("error", None, *error_message(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the main process is gone
            return
        if message is None:
            return
        index, task = message
        try:
            conn.send(("ok", index, score_task(task)))
        except BaseException as exc:
            conn.send(("error", index, *error_message(exc)))


class PoolMap:
    """What both maps share: tasks, the broken state, ``with`` and no pickling."""

    def __init__(self, fitnesses: Mapping | Sequence, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"the number of workers must be at least 1, got {workers}")
        self._tasks = _Tasks(fitnesses)
        self._broken: str | None = None

    def _check(self) -> None:
        if self._broken:
            raise WorkerError(f"the evaluation pool is unusable: {self._broken}")

    def _died(self, i: int | str, pid: int | str | None, doing: str) -> NoReturn:
        self._broken = f"evaluation worker {i} (pid {pid}) died {doing}"
        self.close()
        raise WorkerError(self._broken + "; the search stops here") from None

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError(f"a {type(self).__name__} lives in the main process and cannot be "
                        "pickled")


class ProcessPoolMap(PoolMap):
    """``map(func, iterable) -> list`` over ``workers`` processes (``spawn`` by default), each
    holding its own copy of ``fitnesses`` (a dict by key, or a sequence keyed by position).

    ``threads`` sets ``torch.set_num_threads`` in each worker (1 by default: the workers
    share the cores). Close it (or use ``with``) to stop the workers.
    """

    def __init__(self, fitnesses: Mapping | Sequence, workers: int = 2, *,
                 threads: int | None = 1, start_method: str = "spawn") -> None:
        super().__init__(fitnesses, workers)
        context: Any = multiprocessing.get_context(start_method)
        self._workers: list[tuple[Any, Any]] = []  # (process, connection)
        try:
            for i in range(workers):
                here, there = context.Pipe()
                process = context.Process(target=_worker_main, name=f"evaluation-worker-{i}",
                                          args=(there, self._tasks.payload, threads),
                                          daemon=True)
                process.start()
                there.close()
                self._workers.append((process, here))
            for i in range(workers):
                reply = self._receive(i, "while loading the fitness objects")
                if reply[0] == "error":
                    raise WorkerError(f"evaluation worker {i} (pid {self._workers[i][0].pid})"
                                      f" could not load the fitness objects: {reply[3]}")
        except BaseException:
            self.close()
            raise

    def _receive(self, i: int, doing: str) -> tuple:
        process, conn = self._workers[i]
        try:
            return conn.recv()
        except (EOFError, OSError):
            process.join(timeout=5)
            self._died(i, process.pid, f"(exit code {process.exitcode}) {doing}")

    def __call__(self, func: Callable, iterable: Iterable) -> list:
        """``[func(item) for item in iterable]``, computed by the workers, in order."""
        self._check()
        tasks = self._tasks.make(func, iterable)
        results: list = [None] * len(tasks)
        busy: dict[int, int] = {}  # worker -> task index
        queue, error = list(range(len(tasks)))[::-1], None
        while queue or busy:
            for i in range(len(self._workers)):
                if queue and i not in busy and error is None:
                    busy[i] = queue.pop()
                    self._send(i, (busy[i], tasks[busy[i]]))
            by_conn = {self._workers[i][1]: i for i in busy}
            for conn in wait(list(by_conn)):
                i = by_conn[conn]
                index = busy.pop(i)
                reply = self._receive(i, f"while scoring item {index}: "
                                         f"{describe_task(tasks[index])}")
                if reply[0] == "ok":
                    results[index] = reply[2]
                elif error is None:
                    error = (*reply[2:], f"evaluation worker {i} (pid "
                                         f"{self._workers[i][0].pid}) scoring item {index}")
            if error is not None and not busy:
                reraise(*error)
        return results

    def _send(self, i: int, message: object) -> None:
        try:
            self._workers[i][1].send(message)
        except OSError:
            process = self._workers[i][0]
            process.join(timeout=5)
            self._died(i, process.pid, f"(exit code {process.exitcode}) between tasks")

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        for _process, conn in self._workers:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
        for process, conn in self._workers:
            process.join(timeout=2)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2)
            conn.close()
        self._workers = []
        self._broken = self._broken or "it was closed"

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers, by worker number."""
        return [p.pid for p, _ in self._workers]


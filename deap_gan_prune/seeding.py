"""The global random generators, seeded only by the entry points that take a seed and given
back to the caller when they return.

DEAP's own tools (selection, ``tools.cx*``, ``tools.mut*``) and our operators draw from
Python's ``random``; torch layers and initialisers from torch's global generator; some
third-party code from numpy's. An entry point that takes a ``seed`` runs under
:func:`seeded`: the three are seeded as :func:`seed_everything` does (the draws are the ones
a plain ``seed_everything(seed)`` gives) and the caller's states are restored when it
returns, normally or by an exception. Helpers that are not entry points draw from local
generators (``random.Random(seed)``, ``torch.Generator().manual_seed(seed)``,
``np.random.default_rng(seed)``) or run inside their entry point's :func:`seeded`.
"""
from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Iterator

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed ``random`` (the operators), numpy's global generator and torch's (CPU and every
    GPU) with ``seed``. Changes the caller's global states: entry points use :func:`seeded`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cuda_devices(*devices: str | torch.device | None) -> list[torch.device]:
    """The GPUs among ``devices`` (``None`` and CPUs dropped, duplicates once), whose torch
    random states :func:`preserved_rng` saves and restores."""
    found: list[torch.device] = []
    for d in devices:
        if d is None:
            continue
        d = torch.device(d)
        if d.type == "cuda":
            d = torch.device("cuda", torch.cuda.current_device() if d.index is None else d.index)
            if d not in found:
                found.append(d)
    return found


@contextlib.contextmanager
def preserved_rng(devices: Iterable[str | torch.device | None] = ()) -> Iterator[None]:
    """Run a block and give back the states of ``random``, numpy's global generator and
    torch's CPU generator (and those of the GPUs among ``devices``) as they were before it,
    however the block ends."""
    saved_random, saved_numpy = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[d.index for d in cuda_devices(*devices)]):
            yield
    finally:
        random.setstate(saved_random)
        np.random.set_state(saved_numpy)


@contextlib.contextmanager
def seeded(seed: int | None, devices: Iterable[str | torch.device | None] = ()
           ) -> Iterator[None]:
    """Run a block with the global generators seeded as by :func:`seed_everything` (``seed``
    ``None``: left as they are; of torch's GPU generators, only those of ``devices``) and the
    caller's states (``random``, numpy, torch's CPU and the GPUs among ``devices``) restored
    afterwards, normally or by an exception."""
    gpus = cuda_devices(*devices)
    with preserved_rng(gpus):
        if seed is not None:
            # As seed_everything, but torch's generators only where they are restored after:
            # the CPU's and the given GPUs' (torch.manual_seed would seed every GPU).
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.random.default_generator.manual_seed(seed)
            for gpu in gpus:
                with torch.cuda.device(gpu):
                    torch.cuda.manual_seed(seed)
        yield

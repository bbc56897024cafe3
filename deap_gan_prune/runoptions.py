"""How a search or a training runs, apart from what it computes: one object that every search
(:func:`deap_gan_prune.evolution.search.search`) and every trainer takes as ``options``.

None of these settings changes a result: a run gives the same masks and weights on any
device setting that computes the same floats, with or without a progress bar, on one
process or many, killed and resumed or not.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class RunOptions:
    """Run options shared by the searches and the trainers.

    device: where the networks run ("cpu", "cuda", "cuda:1", a ``torch.device``).
    progress: show a tqdm bar. callback: called with the run's state after every generation
    (a search) or every logged step (a trainer); True stops. map_function: replaces
    ``toolbox.map`` (a process pool or a Ray map); or ``workers`` local processes, or Ray
    actors at ``ray_address`` ("local", "auto", "ray://host:port"), made and closed by the
    search. checkpoint: a file rewritten atomically as the run goes; with ``resume`` an
    existing one is continued (refused when written by another run).
    """

    device: Any = "cpu"
    progress: bool = True
    callback: Callable[..., bool | None] | None = None
    map_function: Callable | None = None
    workers: int = 0
    ray_address: str | None = None
    checkpoint: str | os.PathLike | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"options: workers must be >= 0, got {self.workers}")
        if self.map_function is not None and (self.workers > 0 or self.ray_address is not None):
            raise ValueError("options: give map_function or workers/ray_address, not both")
        if self.resume and self.checkpoint is None:
            raise ValueError("options: resume needs a checkpoint file")

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with ``changes`` (e.g. ``options.replace(checkpoint=path)``)."""
        return replace(self, **changes)


#: the options of a run given none: on the CPU, with a progress bar, in this process
DEFAULT_OPTIONS = RunOptions()

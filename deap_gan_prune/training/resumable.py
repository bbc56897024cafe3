"""Training checkpoints that resume exactly: atomic writes, ``weights_only`` reads, a check
that the run being resumed has the same settings, and the random states of a run.

A checkpoint is a dict of tensors and plain values (``torch.save``), tagged with its ``kind``
and the ``settings`` of the run that wrote it (numbers, strings, lists and hashes of the
networks and data). :func:`read_training_state` refuses a file of another kind or written with
other settings, naming the first setting that differs.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import atomic_write


class ResumeStateError(ValueError):
    """A training checkpoint that cannot be resumed; the message names the file and why."""


def module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of ``module``'s state dict (for a checkpoint or a kept best)."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def torch_rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The global torch random states a step draws from (dropout): the CPU's, and the
    device's when it is a GPU."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_torch_rng_state(state: Mapping[str, torch.Tensor], device: torch.device) -> None:
    """Restore what :func:`torch_rng_state` returned (call inside ``torch.random.fork_rng``
    so the caller's own states are given back afterwards)."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def write_training_state(path: str | os.PathLike, kind: str, settings: Mapping[str, Any],
                         state: Mapping[str, Any]) -> None:
    """Write ``state`` with its ``kind`` and ``settings`` to ``path`` atomically (a failed
    write keeps the previous file)."""
    payload = {"kind": kind, "settings": dict(settings), **state}
    atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def _short(value: Any) -> str:
    """A setting's value for a message: strings bare, long ones (hashes) cut short."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:12] + "..."


def read_training_state(path: str | os.PathLike, kind: str, settings: Mapping[str, Any]
                        ) -> dict:
    """The checkpoint at ``path`` (loaded with ``weights_only=True``), checked to be of
    ``kind`` and written with ``settings``; ResumeStateError naming the file and the first
    differing setting otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ResumeStateError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile,
            ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ResumeStateError(f"{path}: not a readable checkpoint ({first[:120]})") from None
    if not isinstance(state, dict) or state.get("kind") != kind \
            or not isinstance(state.get("settings"), dict):
        raise ResumeStateError(f"{path}: not a {kind} checkpoint")
    old = state["settings"]
    for key in list(settings) + [k for k in old if k not in settings]:
        if old.get(key, "<missing>") != settings.get(key, "<missing>"):
            raise ResumeStateError(
                f"{path}: written with {key} = {_short(old.get(key, '<missing>'))}, this run "
                f"has {_short(settings.get(key, '<missing>'))}; start afresh without resume")
    return state

"""Atomic checkpoint files in the upstream layout ``<tag>_net_{G_A,G_B,D_A,D_B}.pth``."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping

import torch
from torch import nn


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_state_atomic(state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> Path:
    """``torch.save(state, path)`` through a temporary file in the same folder and
    ``os.replace``, so a reader never sees a half-written file. Tensors are saved on the CPU."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in state.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; use the usual file mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_networks(networks: Mapping[str, nn.Module], directory: str | os.PathLike,
                  tag: str | int) -> list[Path]:
    """Write ``<directory>/<tag>_net_<name>.pth`` for each ``name -> module`` (e.g. ``G_A``),
    each a plain state dict with the module's own (upstream) keys."""
    return [save_state_atomic(module.state_dict(), Path(directory) / f"{tag}_net_{name}.pth")
            for name, module in networks.items()]

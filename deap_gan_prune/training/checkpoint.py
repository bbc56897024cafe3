"""Atomic checkpoint files in the upstream layout ``<tag>_net_{G_A,G_B,D_A,D_B}.pth``."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from torch import nn

from ..nets.checkpoints import save_state_dict as save_state_atomic


def save_networks(networks: Mapping[str, nn.Module], directory: str | os.PathLike,
                  tag: str | int) -> list[Path]:
    """Write ``<directory>/<tag>_net_<name>.pth`` for each ``name -> module`` (e.g. ``G_A``),
    each a plain state dict with the module's own (upstream) keys."""
    return [save_state_atomic(module.state_dict(), Path(directory) / f"{tag}_net_{name}.pth")
            for name, module in networks.items()]


__all__ = ["save_networks", "save_state_atomic"]

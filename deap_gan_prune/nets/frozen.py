"""Frozen copies: the fixed networks a fitness or a training run compares against."""
from __future__ import annotations

import copy
from typing import TypeVar, overload

import torch

M = TypeVar("M", bound=torch.nn.Module)


@overload
def frozen_copy(module: M, device: str | torch.device) -> M: ...
@overload
def frozen_copy(module: None, device: str | torch.device) -> None: ...


def frozen_copy(module: torch.nn.Module | None,
                device: str | torch.device) -> torch.nn.Module | None:
    """A deep copy of ``module`` on ``device`` in eval mode with no gradients to its weights
    (``None`` stays ``None``); the caller's module is untouched."""
    if module is None:
        return None
    module = copy.deepcopy(module).to(device).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module

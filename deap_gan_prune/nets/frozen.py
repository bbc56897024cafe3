"""Frozen copies: the fixed networks a fitness or a training run compares against; and the
caller's modules borrowed for a block (device, mode and gradients given back after)."""
from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterator
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


def _single_device(module: torch.nn.Module) -> torch.device | None:
    devices = {t.device for t in itertools.chain(module.parameters(), module.buffers())}
    return devices.pop() if len(devices) == 1 else None


@contextlib.contextmanager
def borrowed(*modules: torch.nn.Module | None, device: str | torch.device | None = None,
             training: bool | None = None, requires_grad: bool | None = None
             ) -> Iterator[None]:
    """Use the caller's ``modules`` (``None`` skipped) for a block on ``device``, in train or
    eval mode (``training``) and with or without gradients to their weights
    (``requires_grad``), each ``None`` leaving that as it is; afterwards, however the block
    ends, each module is given back on its device (when all its tensors were on one), in its
    mode and with its parameters' ``requires_grad`` flags. Weights changed inside stay
    changed."""
    saved = [(m, _single_device(m), m.training, [p.requires_grad for p in m.parameters()])
             for m in modules if m is not None]
    try:
        for m, *_ in saved:
            if device is not None:
                m.to(device)
            if training is not None:
                m.train(training)
            if requires_grad is not None:
                for p in m.parameters():
                    p.requires_grad_(requires_grad)
        yield
    finally:
        for m, dev, was_training, flags in saved:
            if dev is not None:
                m.to(dev)
            m.train(was_training)
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)

"""Parameters and MACs measured on a real module (the closed forms are in :mod:`.widths`).

Two MAC conventions (METHOD §4): ``"output"`` counts a transposed conv at its output positions
(GAN Compression, CAT, OMGD tables); ``"real"`` counts the arithmetic really done, as
``torch.utils.flop_counter`` does (its FLOPs / 2). Biases, norms and activations are not counted.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .widths import MacConvention


def count_module_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def _input(module: nn.Module, image_size: int | tuple[int, int], input_nc: int | None
           ) -> torch.Tensor:
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    param = next(module.parameters())
    if input_nc is None:
        first = next(m for m in module.modules() if isinstance(m, (nn.Conv2d,
                                                                   nn.ConvTranspose2d)))
        input_nc = first.in_channels
    return torch.zeros(1, input_nc, h, w, device=param.device, dtype=param.dtype)


@torch.no_grad()
def count_module_macs(module: nn.Module, image_size: int | tuple[int, int] = 256,
                      convention: MacConvention = "output", input_nc: int | None = None) -> int:
    """MACs of the convolutions of ``module`` for one image of ``image_size`` pixels, counted
    by running it once with hooks."""
    if convention not in ("output", "real"):
        raise ValueError(f"unknown MAC convention {convention!r}: use 'output' or 'real'")
    total = 0

    def hook(conv, inputs, output):
        nonlocal total
        k = conv.kernel_size[0] * conv.kernel_size[1]
        per_position = conv.in_channels * conv.out_channels * k // conv.groups
        transposed = isinstance(conv, nn.ConvTranspose2d)
        positions = inputs[0].shape[-2:] if transposed and convention == "real" \
            else output.shape[-2:]
        total += per_position * positions[0] * positions[1]

    convs = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    handles = [m.register_forward_hook(hook) for m in convs]
    try:
        module(_input(module, image_size, input_nc))
    finally:
        for h in handles:
            h.remove()
    return total


@torch.no_grad()
def flop_counter_macs(module: nn.Module, image_size: int | tuple[int, int] = 256,
                      input_nc: int | None = None) -> int:
    """MACs as ``torch.utils.flop_counter`` reports them (FLOPs / 2): the real arithmetic."""
    counter = FlopCounterMode(display=False)
    with counter:
        module(_input(module, image_size, input_nc))
    return counter.get_total_flops() // 2

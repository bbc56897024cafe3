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


@torch.no_grad()
def activation_bytes(module: nn.Module, image_size: int | tuple[int, int], batch: int = 1,
                     input_nc: int | None = None) -> float:
    """Estimated bytes the largest activations of ``module`` take for ``batch`` images of
    ``image_size`` pixels (the two largest layer outputs, which a forward pass holds at
    once, twice over for copies), from one pass at the smallest of 32, 64, 128 or 256 pixels
    that the network takes, scaled by the pixel count; 0 when none runs."""
    sizes: list[int] = []

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel() * output.element_size())

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        for small in (32, 64, 128, 256):  # the smallest size the network takes
            sizes.clear()
            try:
                module(_input(module, small, input_nc))
                break
            except RuntimeError:
                continue
        else:
            return 0.0  # no small size runs: no estimate
    finally:
        for handle in handles:
            handle.remove()
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    largest = sum(sorted(sizes)[-2:])
    return 2.0 * largest * batch * h * w / (small * small)

"""Parameters and MACs measured on a real module (the closed forms of a mask's sizes are
:meth:`~deap_gan_prune.core.maskspace.MaskSpace.size`).

Two MAC conventions (METHOD §4): ``"output"`` counts a transposed conv at its output positions
(GAN Compression, CAT, OMGD tables); ``"real"`` counts the arithmetic really done, as
``torch.utils.flop_counter`` does (its FLOPs / 2). Biases, norms and activations are not counted.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..core.widths import MacConvention


def count_module_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


#: image sizes tried, smallest first, when a network's input is found by running it
PROBE_SIZES = (32, 64, 128, 256)


@torch.no_grad()
def example_input(module: nn.Module) -> torch.Tensor:
    """The smallest image ``module`` runs on (in eval mode): zeros ``[1, C, S, S]`` on its
    device and dtype, S the first of :data:`PROBE_SIZES` and C the first of 3 (RGB), 1 (grey)
    and its first convolution's input channels that run; never read from a layer alone, since
    a network may pixel-unshuffle its input or concatenate a map to it before its first
    convolution. ValueError (one line) when none of them runs."""
    from .frozen import borrowed
    first = next((m for m in module.modules()
                  if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))), None)
    candidates = dict.fromkeys([3, 1] + ([int(first.in_channels)] if first is not None else []))
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    with borrowed(module, training=False):
        for size in PROBE_SIZES:
            for channels in candidates:
                x = torch.zeros(1, channels, size, size, device=device, dtype=dtype)
                try:
                    module(x)
                except (RuntimeError, ValueError, IndexError):
                    continue
                return x
    tried = ", ".join(map(str, candidates))
    raise ValueError(f"{type(module).__name__}: runs on no image of {tried} channels at "
                     f"{', '.join(map(str, PROBE_SIZES))} pixels")


def image_channels(module: nn.Module) -> int:
    """Image channels ``module`` takes: those of :func:`example_input`."""
    return int(example_input(module).shape[1])


def _input(module: nn.Module, image_size: int | tuple[int, int], input_nc: int | None
           ) -> torch.Tensor:
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    param = next(module.parameters())
    if input_nc is None:
        input_nc = image_channels(module)
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
    x = _input(module, image_size, input_nc)  # before the hooks: it may run the module
    handles = [m.register_forward_hook(hook) for m in convs]
    try:
        module(x)
    finally:
        for h in handles:
            h.remove()
    return total


@torch.no_grad()
def flop_counter_macs(module: nn.Module, image_size: int | tuple[int, int] = 256,
                      input_nc: int | None = None) -> int:
    """MACs as ``torch.utils.flop_counter`` reports them (FLOPs / 2): the real arithmetic."""
    counter = FlopCounterMode(display=False)
    x = _input(module, image_size, input_nc)  # outside the counter: it may run the module
    with counter:
        module(x)
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

    channels = image_channels(module) if input_nc is None else input_nc
    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        for small in PROBE_SIZES:  # the smallest size the network takes
            sizes.clear()
            try:
                module(_input(module, small, channels))
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

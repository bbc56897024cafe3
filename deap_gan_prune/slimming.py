"""Turn a channel mask into a physically smaller generator, or apply it on the fly.

A *slot mask* maps width-slot names (``first``, ``down1``, ``stream``, ``inner0``…, ``up1``,
``up2``; see :class:`GeneratorWidths`) to 0/1 sequences, 1 = keep; a missing slot is kept
whole. :meth:`MaskSpace.slot_masks` turns an individual into one.

Masking the output of a conv that an InstanceNorm (affine=False) follows gives an exactly zero
channel after the norm, so a masked forward computes what the slim network computes.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Mapping, Sequence

import torch
from torch import nn

from .models import ResnetGenerator
from .widths import GeneratorWidths

SlotMask = Mapping[str, Sequence[int]]


def _kept_index(mask: SlotMask, slot: str, width: int) -> torch.Tensor:
    bits = mask.get(slot)
    if bits is None:
        return torch.arange(width)
    if len(bits) != width:
        raise ValueError(f"mask for {slot!r} has {len(bits)} entries, the layer has {width}")
    index = torch.tensor([i for i, b in enumerate(bits) if b], dtype=torch.long)
    if index.numel() == 0:
        raise ValueError(f"mask for {slot!r} keeps no channel; a layer needs at least one")
    return index


def kept_indices(generator: ResnetGenerator, mask: SlotMask) -> dict[str, torch.Tensor]:
    """Indices of the kept channels of every slot (all channels where ``mask`` is silent)."""
    w = generator.widths
    unknown = set(mask) - set(w.slot_names())
    if unknown:
        raise KeyError(f"unknown width slots {sorted(unknown)}")
    return {slot: _kept_index(mask, slot, w.slot(slot)) for slot in w.slot_names()}


def _copy_conv(dst: nn.Module, src: nn.Module, in_idx: torch.Tensor | None,
               out_idx: torch.Tensor | None) -> None:
    weight = src.weight.detach()
    # Conv2d weights are [out, in, k, k]; ConvTranspose2d weights are [in, out, k, k].
    out_dim, in_dim = (1, 0) if isinstance(src, nn.ConvTranspose2d) else (0, 1)
    if out_idx is not None:
        weight = weight.index_select(out_dim, out_idx.to(weight.device))
    if in_idx is not None:
        weight = weight.index_select(in_dim, in_idx.to(weight.device))
    bias = src.bias.detach()
    if out_idx is not None:
        bias = bias.index_select(0, out_idx.to(bias.device))
    with torch.no_grad():
        dst.weight.copy_(weight)
        dst.bias.copy_(bias)


def slim(generator: ResnetGenerator, mask: SlotMask) -> ResnetGenerator:
    """A new, physically smaller generator keeping the channels where ``mask`` is 1,
    initialised from the kept weight slices of ``generator`` (same key names, smaller shapes,
    same device and dtype, in the same train/eval mode)."""
    idx = kept_indices(generator, mask)
    w = generator.widths
    widths = GeneratorWidths(
        len(idx["first"]), len(idx["down1"]), len(idx["stream"]),
        tuple(len(idx[f"inner{b}"]) for b in range(w.n_blocks)), len(idx["up1"]),
        len(idx["up2"]), w.input_nc, w.output_nc)
    param = next(generator.parameters())
    with torch.device("meta"):  # no random init: every weight is copied below
        small = ResnetGenerator(widths=widths, use_dropout=generator.use_dropout)
    small = small.to_empty(device=param.device).to(dtype=param.dtype)
    src, dst = generator.slot_convs(), small.slot_convs()
    _copy_conv(dst["first"], src["first"], None, idx["first"])
    _copy_conv(dst["down1"], src["down1"], idx["first"], idx["down1"])
    _copy_conv(dst["stream"], src["stream"], idx["down1"], idx["stream"])
    for b in range(w.n_blocks):
        _copy_conv(dst[f"inner{b}"], src[f"inner{b}"], idx["stream"], idx[f"inner{b}"])
        _copy_conv(dst[f"stream.{b}"], src[f"stream.{b}"], idx[f"inner{b}"], idx["stream"])
    _copy_conv(dst["up1"], src["up1"], idx["stream"], idx["up1"])
    _copy_conv(dst["up2"], src["up2"], idx["up1"], idx["up2"])
    _copy_conv(dst["last"], src["last"], idx["up2"], None)
    return small.train(generator.training)


def _mask_convs(generator: ResnetGenerator) -> dict[str, list[nn.Module]]:
    convs = generator.slot_convs()
    stream = [convs["stream"]] + [convs[f"stream.{b}"] for b in range(generator.widths.n_blocks)]
    return {slot: (stream if slot == "stream" else [convs[slot]])
            for slot in generator.widths.slot_names()}


@contextlib.contextmanager
def masked(generator: ResnetGenerator, mask: SlotMask) -> Iterator[ResnetGenerator]:
    """Within the ``with`` block, ``generator`` computes as if the channels where ``mask`` is 0
    were removed: each masked conv's output is multiplied by the 0/1 mask (forward hooks; no
    copy of the model). The hooks are removed on exit, even after an error."""
    kept_indices(generator, mask)  # validates slots and lengths
    param = next(generator.parameters())
    handles = []
    try:
        for slot, convs in _mask_convs(generator).items():
            if slot not in mask:
                continue
            scale = torch.tensor([float(b) for b in mask[slot]], device=param.device,
                                 dtype=param.dtype).view(1, -1, 1, 1)

            def hook(module, inputs, output, scale=scale):
                return output * scale

            handles += [conv.register_forward_hook(hook) for conv in convs]
        yield generator
    finally:
        for handle in handles:
            handle.remove()

"""Turn a channel mask into a physically smaller generator, or apply it on the fly.

A *slot mask* maps width-slot names (``first``, ``down1``, ``stream``, ``inner0``…, ``up1``,
``up2``; see :class:`GeneratorWidths`) to 0/1 sequences, 1 = keep; a missing slot is kept
whole. :meth:`MaskSpace.slot_masks` turns an individual into one.

Masking the output of a conv that an InstanceNorm (affine=False) follows gives an exactly zero
channel after the norm, so a masked forward computes what the slim network computes.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import cast

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


def _sliced(conv: nn.Conv2d | nn.ConvTranspose2d, in_idx: torch.Tensor | None,
            out_idx: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The kept slices of a conv's weight and bias (new tensors, detached)."""
    assert conv.bias is not None  # every conv of the upstream ResNet has a bias
    weight, bias = conv.weight.detach(), conv.bias.detach()
    # Conv2d weights are [out, in, k, k]; ConvTranspose2d weights are [in, out, k, k].
    out_dim, in_dim = (1, 0) if isinstance(conv, nn.ConvTranspose2d) else (0, 1)
    if out_idx is not None:
        weight = weight.index_select(out_dim, out_idx.to(weight.device))
        bias = bias.index_select(0, out_idx.to(bias.device))
    if in_idx is not None:
        weight = weight.index_select(in_dim, in_idx.to(weight.device))
    return weight, bias.clone() if out_idx is None else bias


def slim_state_dict(generator: ResnetGenerator, mask: SlotMask
                    ) -> tuple[GeneratorWidths, dict[str, torch.Tensor]]:
    """The widths and the state dict (upstream keys, kept slices) of the generator that
    ``mask`` slims ``generator`` to, without building it."""
    idx = kept_indices(generator, mask)
    w = generator.widths
    widths = GeneratorWidths(
        len(idx["first"]), len(idx["down1"]), len(idx["stream"]),
        tuple(len(idx[f"inner{b}"]) for b in range(w.n_blocks)), len(idx["up1"]),
        len(idx["up2"]), w.input_nc, w.output_nc)
    plan: list[tuple[str, str | None, str | None]] = [
        ("first", None, "first"), ("down1", "first", "down1"),
            ("stream", "down1", "stream")]
    for b in range(w.n_blocks):
        plan += [(f"inner{b}", "stream", f"inner{b}"), (f"stream.{b}", f"inner{b}", "stream")]
    plan += [("up1", "stream", "up1"), ("up2", "up1", "up2"), ("last", "up2", None)]
    names = {module: name for name, module in generator.named_modules()}
    convs = generator.slot_convs()
    state = {}
    for conv, in_slot, out_slot in plan:
        key = names[convs[conv]]
        state[f"{key}.weight"], state[f"{key}.bias"] = _sliced(
            cast(nn.Conv2d, convs[conv]), idx[in_slot] if in_slot else None,
            idx[out_slot] if out_slot else None)
    return widths, state


def slim(generator: ResnetGenerator, mask: SlotMask) -> ResnetGenerator:
    """A new, physically smaller generator keeping the channels where ``mask`` is 1,
    initialised from the kept weight slices of ``generator`` (same key names, smaller shapes,
    same device and dtype, in the same train/eval mode)."""
    widths, state = slim_state_dict(generator, mask)
    with torch.device("meta"):  # no random init: every weight comes from the slices
        small = ResnetGenerator(widths=widths, use_dropout=generator.use_dropout)
    small.load_state_dict(state, assign=True)
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


# -- any architecture: a mask space's bits (ResNet or traced) ------------------------------
def _group_keeps(space, bits: Sequence[int]) -> list[list[bool]]:
    """Per group, keep/drop of every channel (a bit of a group of block b covers b channels)."""
    return [[bool(b) for b in bits[g.offset:g.stop] for _ in range(g.block)]
            for g in space.groups]


def _conv_indices(term, keeps: list[list[bool]]) -> tuple[torch.Tensor | None,
                                                          torch.Tensor | None]:
    """Kept input-channel and output-channel indices of a traced conv (None: all)."""
    ins = [i for i, (g, j) in enumerate(zip(term.in_groups, term.in_index))
           if g < 0 or keeps[g][j]]
    in_idx = None if len(ins) == len(term.in_groups) or term.depthwise \
        else torch.tensor(ins, dtype=torch.long)  # depthwise: weight [C, 1, k, k]
    out_idx = None
    if term.out_group >= 0:
        out_idx = torch.tensor([j for j, k in enumerate(keeps[term.out_group]) if k],
                               dtype=torch.long)
    return in_idx, out_idx


def _slice(tensor: torch.Tensor | None, dim: int, index: torch.Tensor | None):
    if tensor is None or index is None:
        return tensor
    return tensor.detach().index_select(dim, index.to(tensor.device))


def traced_state_dict(generator: nn.Module, space, bits: Sequence[int]
                      ) -> dict[str, torch.Tensor]:
    """The kept slices of every conv's and norm's tensors (weights, biases, running
    statistics) of ``generator`` under the traced ``space``'s mask ``bits``; keys as in
    ``generator.state_dict()``. Conv2d weights are ``[out, in, k, k]`` (depthwise ``[C, 1, k,
    k]``, sliced along C), ConvTranspose2d ``[in, out, k, k]``; norms are sliced along their
    channels (a GroupNorm's in whole norm-groups, as its group's blocks)."""
    space._check(bits)
    if not space.is_valid(bits):
        raise ValueError("the mask keeps fewer channels than a group's minimum (or none)")
    keeps = _group_keeps(space, bits)
    modules = dict(generator.named_modules())
    state: dict[str, torch.Tensor] = {}
    for term in space.convs:
        conv = modules[term.name]
        in_idx, out_idx = _conv_indices(term, keeps)
        out_dim, in_dim = (1, 0) if term.transposed else (0, 1)
        state[f"{term.name}.weight"] = _slice(_slice(conv.weight, out_dim, out_idx), in_dim,
                                              in_idx)
        if conv.bias is not None:
            state[f"{term.name}.bias"] = _slice(conv.bias, 0, out_idx)
    for term in space.norms:
        norm = modules[term.name]
        index = None if term.group < 0 else torch.tensor(
            [j for j, k in enumerate(keeps[term.group]) if k], dtype=torch.long)
        for key in ("weight", "bias", "running_mean", "running_var"):
            tensor = getattr(norm, key, None)
            if tensor is not None:
                state[f"{term.name}.{key}"] = _slice(tensor, 0, index)
    return state


def slim_bits(generator: nn.Module, space, bits: Sequence[int]) -> nn.Module:
    """The physically smaller network that ``bits`` of ``space`` slims ``generator`` to,
    initialised from the kept weight slices (same class and module names, smaller layers,
    same device, dtype and train/eval mode; its parameters are trainable). Any architecture:
    for the ResNet's own space it is :func:`slim` of the space's slot masks."""
    if space.layout != "traced":
        return slim(cast(ResnetGenerator, generator), space.slot_masks(bits))
    import copy
    state = traced_state_dict(generator, space, bits)
    keeps = _group_keeps(space, bits)
    small = copy.deepcopy(generator)
    modules = dict(small.named_modules())
    for term in space.convs:
        conv = modules[term.name]
        conv.weight = nn.Parameter(state[f"{term.name}.weight"].clone())
        if conv.bias is not None:
            conv.bias = nn.Parameter(state[f"{term.name}.bias"].clone())
        w = conv.weight.shape
        conv.out_channels, conv.in_channels = (w[1], w[0]) if term.transposed else (w[0], w[1])
        if term.depthwise:
            conv.in_channels = conv.groups = w[0]
    for term in space.norms:
        norm = modules[term.name]
        for key in ("weight", "bias"):
            if getattr(norm, key, None) is not None:
                setattr(norm, key, nn.Parameter(state[f"{term.name}.{key}"].clone()))
        for key in ("running_mean", "running_var"):
            if getattr(norm, key, None) is not None:
                setattr(norm, key, state[f"{term.name}.{key}"].clone())
        channels = term.channels if term.group < 0 else sum(keeps[term.group])
        if isinstance(norm, nn.GroupNorm):
            # whole norm-groups are kept (a block per bit), so the channels per group stay
            norm.num_groups = channels * norm.num_groups // norm.num_channels
            norm.num_channels = channels
        else:
            norm.num_features = channels
    return small.train(generator.training)


@contextlib.contextmanager
def masked_bits(generator: nn.Module, space, bits: Sequence[int]) -> Iterator[nn.Module]:
    """Within the ``with`` block ``generator`` computes what the slim network of ``bits``
    computes, without copying it. Traced spaces: every conv's pruned *input* channels are
    multiplied by 0 (pre-forward hooks), which removes exactly their contribution whatever
    norms or paddings lie between (an affine norm would turn a zeroed conv output into its
    bias). The ResNet's space: :func:`masked` of the slot masks."""
    if space.layout != "traced":
        with masked(cast(ResnetGenerator, generator), space.slot_masks(bits)) as net:
            yield net
        return
    space._check(bits)
    keeps = _group_keeps(space, bits)
    modules = dict(generator.named_modules())
    param = next(generator.parameters())
    handles = []
    try:
        for term in space.convs:
            if all(g < 0 or keeps[g][j] for g, j in zip(term.in_groups, term.in_index)):
                continue
            scale = torch.tensor([1.0 if g < 0 or keeps[g][j] else 0.0
                                  for g, j in zip(term.in_groups, term.in_index)],
                                 device=param.device, dtype=param.dtype).view(1, -1, 1, 1)

            def pre_hook(module, inputs, scale=scale):
                return (inputs[0] * scale, *inputs[1:])

            handles.append(modules[term.name].register_forward_pre_hook(pre_hook))
        yield generator
    finally:
        for handle in handles:
            handle.remove()

"""Turn a mask into a physically smaller generator (:func:`slim`), or apply it on the fly
(:func:`masked`): one path for every generator, through its mask space's convs and norms.

A mask is a flat 0/1 list over a :class:`MaskSpace` (1 = keep).
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn

from ..core.maskspace import MaskSpace
from .groups import space_of
from .layers import channel_dims

if TYPE_CHECKING:
    from ..core.terms import ConvTerm

_OptTensor = TypeVar("_OptTensor", torch.Tensor, None)


def _group_keeps(space: MaskSpace, bits: Sequence[int]) -> list[list[bool]]:
    """Per group, keep/drop of every channel (a bit of a group of block b covers b channels)."""
    return [[bool(b) for b in bits[g.offset:g.stop] for _ in range(g.block)]
            for g in space.groups]


def _conv_indices(term: ConvTerm, keeps: list[list[bool]]) -> tuple[torch.Tensor | None,
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


def _slice(tensor: _OptTensor, dim: int, index: torch.Tensor | None) -> _OptTensor:
    if tensor is None or index is None:
        return tensor
    return tensor.detach().index_select(dim, index.to(tensor.device))


def check_mask(generator: nn.Module, space: MaskSpace, bits: Sequence[int]) -> None:
    """ValueError (one line) unless ``bits`` is a valid mask of ``space`` and ``space``
    describes ``generator``'s convs."""
    space._check(bits)
    for g in space.groups:
        kept = sum(bits[g.offset:g.stop])
        if kept == 0:
            raise ValueError(f"the mask keeps no channel of group {g.name!r}; a layer needs "
                             "at least one")
        if kept < g.min_keep:
            raise ValueError(f"the mask keeps {kept} channels of group {g.name!r}, fewer "
                             f"than its minimum {g.min_keep}")
    if not space.matches(generator):
        raise ValueError(f"the mask space does not describe this {type(generator).__name__}: "
                         "its convs or their channels differ")


def kept_state_dict(generator: nn.Module, space: MaskSpace, bits: Sequence[int]
                    ) -> dict[str, torch.Tensor]:
    """The kept slices of every conv's and norm's tensors (weights, biases, running
    statistics) of ``generator`` under ``space``'s mask ``bits``; keys as in
    ``generator.state_dict()``. Conv2d weights are ``[out, in, k, k]`` (depthwise ``[C, 1, k,
    k]``, sliced along C), ConvTranspose2d ``[in, out, k, k]``; norms are sliced along their
    channels (a GroupNorm's in whole norm-groups, as its group's blocks), your own layers'
    declared tensors along their ``channel_dims``."""
    check_mask(generator, space, bits)
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
    for norm_term in space.norms:
        norm = modules[norm_term.name]
        index = _kept_index(norm_term.group, keeps)
        for key in ("weight", "bias", "running_mean", "running_var"):
            tensor = getattr(norm, key, None)
            if tensor is not None:
                state[f"{norm_term.name}.{key}"] = _slice(tensor, 0, index)
    for layer_term in space.terms.layers:
        layer = modules[layer_term.name]
        index = _kept_index(layer_term.group, keeps)
        for key, dim in (channel_dims(layer) or {}).items():
            state[f"{layer_term.name}.{key}"] = _slice(getattr(layer, key), dim, index)
    return state


def _kept_index(group: int, keeps: list[list[bool]]) -> torch.Tensor | None:
    """Kept channel indices of a group (None for -1: a layer never pruned)."""
    if group < 0:
        return None
    return torch.tensor([j for j, k in enumerate(keeps[group]) if k], dtype=torch.long)


def _space_and_bits(generator: nn.Module, bits: Sequence[int],
                    space: MaskSpace | None) -> tuple[MaskSpace, list[int]]:
    return space or space_of(generator), [int(b) for b in bits]


def slim(generator: nn.Module, bits: Sequence[int],
         space: MaskSpace | None = None) -> nn.Module:
    """The physically smaller network that ``bits`` (a flat 0/1 mask of ``space``) slims
    ``generator`` to, initialised from the kept weight slices: same class and module names
    (upstream state-dict keys), smaller layers, same device, dtype and train/eval mode; its
    parameters are trainable. ``space`` defaults to :func:`~.groups.space_of`
    ``(generator)``, traced on the smallest image it runs on (ValueError, one line, when it
    runs on none: give the space)."""
    space, bits = _space_and_bits(generator, bits, space)
    state = kept_state_dict(generator, space, bits)
    keeps = _group_keeps(space, bits)
    # Copy the module tree without the tensors about to be replaced by their slices.
    originals = {**dict(generator.named_parameters()), **dict(generator.named_buffers())}
    placeholder = torch.empty(0, device="meta")
    memo = {id(originals[key]): placeholder for key in state if key in originals}
    small = copy.deepcopy(generator, memo)
    for module in small.modules():  # slimmed inside ``masked``: the copy drops its hooks
        for hook_id in [k for k, h in module._forward_pre_hooks.items()
                        if isinstance(h, _Zero)]:
            del module._forward_pre_hooks[hook_id]
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
    for norm_term in space.norms:
        norm = modules[norm_term.name]
        for key in ("weight", "bias"):
            if getattr(norm, key, None) is not None:
                setattr(norm, key, nn.Parameter(state[f"{norm_term.name}.{key}"].clone()))
        for key in ("running_mean", "running_var"):
            if getattr(norm, key, None) is not None:
                setattr(norm, key, state[f"{norm_term.name}.{key}"].clone())
        channels = norm_term.channels if norm_term.group < 0 else sum(keeps[norm_term.group])
        if isinstance(norm, nn.GroupNorm):
            # whole norm-groups are kept (a block per bit), so the channels per group stay
            norm.num_groups = channels * norm.num_groups // norm.num_channels
            norm.num_channels = channels
        else:
            norm.num_features = channels
    for layer_term in space.terms.layers:
        layer, original = modules[layer_term.name], generator.get_submodule(layer_term.name)
        for key in channel_dims(layer) or {}:
            value, was = state[f"{layer_term.name}.{key}"].clone(), getattr(original, key)
            setattr(layer, key, nn.Parameter(value, was.requires_grad)
                    if isinstance(was, nn.Parameter) else value)
        count = getattr(type(layer), "channel_count", None)
        if isinstance(count, str):
            setattr(layer, count, layer_term.channels if layer_term.group < 0
                    else sum(keeps[layer_term.group]))
    return small.train(generator.training)


@contextlib.contextmanager
def masked(generator: nn.Module, bits: Sequence[int],
           space: MaskSpace | None = None) -> Iterator[nn.Module]:
    """Within the ``with`` block ``generator`` computes what :func:`slim` of the same mask
    computes (to float rounding), without copying it: every conv's pruned *input* channels are
    multiplied by 0 (pre-forward hooks), which removes exactly their contribution whatever
    norms or paddings lie between (an affine norm would turn a zeroed conv output into its
    bias). The hooks are removed on exit, even after an error. ``bits`` and ``space`` as in
    :func:`slim`."""
    space, bits = _space_and_bits(generator, bits, space)
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
            handles.append(modules[term.name].register_forward_pre_hook(_Zero(scale)))
        yield generator
    finally:
        for handle in handles:
            handle.remove()


class _Zero:
    """``masked``'s pre-forward hook: multiplies a conv's input channels by ``scale``
    (``[1, C, 1, 1]`` of 0 and 1)."""

    def __init__(self, scale: torch.Tensor) -> None:
        self.scale = scale

    def __call__(self, _module: nn.Module, inputs: tuple) -> tuple:
        return (inputs[0] * self.scale, *inputs[1:])

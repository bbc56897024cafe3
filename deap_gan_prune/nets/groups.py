"""Channel groups of any convolutional generator, discovered from its traced graph.

Torch-Pruning's ``DependencyGraph`` traces one forward pass (through autograd, so Python
control flow is fine) and couples every layer whose channels must be removed together:
a conv's output channels, the norms after it, the convs that read them (at the right offset
after a concatenation) and every other conv whose output is added to them (a residual
stream). :func:`trace_terms` turns those groups into :class:`SpaceTerms` (a :class:`MaskSpace`
holds them; :func:`space_of` and :func:`trace_space` build one): a pure-Python
description (module names, channel maps, per-layer size coefficients) that the operators, the
slimming and the files use without touching the graph again.

Supported layers: Conv2d and ConvTranspose2d (``groups=1``), depthwise Conv2d (``groups ==
in_channels == out_channels``, e.g. MobileNet's 3x3 before a pointwise 1x1: its input and output
channels are one channel group, so pruning a channel removes its filter too), BatchNorm2d,
InstanceNorm2d (with or without affine weights), GroupNorm, activations, dropout, paddings,
up-sampling, residual additions, concatenations along channels. Other grouped convolutions
(``1 < groups < in_channels``, or a depth multiplier > 1) are refused with a one-line
:class:`TracingError` naming the layer. A layer of yours that holds per-channel tensors is
traced when it declares them (``channel_dims``, :mod:`.layers`). The convs whose output
reaches the network's output are never pruned.

GroupNorm with ``c > 1`` channels per norm-group mixes those channels' statistics, so they are
pruned in whole norm-groups: the channel group it normalises gets ``block = c``
(:class:`~deap_gan_prune.maskspace.ChannelGroup`), one bit per block of ``c`` consecutive
channels. The operators stay as they are (pure Python, bits are bits) and every bit pattern is
valid; the slimming expands a bit to its ``c`` channels and sets ``num_groups`` to the kept
norm-groups, so the kept groups' statistics, and the output, are unchanged (masked == slim).
A channel group that feeds GroupNorms of different channels-per-group is kept whole (no common
block), as is a group with no writer conv (a depthwise conv reading the image) and a group
read through a pixel-shuffle or pixel-unshuffle of features (which turns ``r*r`` channels
into one at ``r`` times the size, or back).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from ..core.maskspace import Layout, MaskSpace
from ..core.terms import ConvTerm, LayerTerm, NormTerm, SpaceTerms
from .counting import example_input as example_input_of
from .layers import channel_dims

CONVS = (nn.Conv2d, nn.ConvTranspose2d)
NORMS = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)
#: Layers that act on every channel alone (or hold no channel-wise state).
CHANNELWISE = (nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.ELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh,
               nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Softplus, nn.Identity, nn.Dropout,
               nn.Dropout2d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d,
               nn.ConstantPad2d, nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d,
               nn.PixelShuffle, nn.Sequential, nn.ModuleList, nn.ModuleDict)


class TracingError(ValueError):
    """A generator whose channel groups cannot be discovered; one line naming the layer."""


def check_layers(model: nn.Module) -> None:
    """Refuse a model with a layer the channel tracing does not support (one line naming it).

    Containers of any class are fine; a leaf layer must be a conv, a norm or channel-wise."""
    for name, module in model.named_modules():
        if isinstance(module, CONVS):
            if module.groups != 1 and not _is_depthwise(module):
                raise TracingError(f"layer {name!r} ({type(module).__name__}, groups="
                                   f"{module.groups}, {module.in_channels} in, "
                                   f"{module.out_channels} out) is not supported: only plain "
                                   "(groups=1) and depthwise (groups == in == out) Conv2d can "
                                   "be pruned channel by channel")
            continue
        if isinstance(module, NORMS + CHANNELWISE):
            continue
        try:
            declared = channel_dims(module)
        except ValueError as exc:
            raise TracingError(f"layer {name!r}: {exc}") from None
        if declared is not None:
            tensors = _own_tensors(module)
            for key, dim in declared.items():
                t = tensors.get(key)
                if t is None or not -t.dim() <= dim < t.dim():
                    raise TracingError(f"layer {name!r} ({type(module).__name__}) declares "
                                       f"channel_dims[{key!r}] = {dim}, but "
                                       + ("has no such parameter or buffer" if t is None
                                          else f"{key!r} has shape {tuple(t.shape)}"))
            continue
        if any(True for _ in module.children()):
            if any(True for _ in module.parameters(recurse=False)):
                raise TracingError(f"layer {name or type(module).__name__!r} "
                                   f"({type(module).__name__}) holds its own parameters: "
                                   "not supported by channel tracing unless it declares "
                                   "which follow its channels (channel_dims)")
            continue  # a container (a block class of the user's)
        if isinstance(module, nn.PReLU) and module.num_parameters == 1:
            continue
        if not any(True for _ in module.parameters()) and not any(True for _ in
                                                                  module.buffers()):
            continue  # a parameter-free layer of the user's (e.g. a custom activation)
        raise TracingError(f"layer {name!r} ({type(module).__name__}) is not supported by "
                           "channel tracing: use convolutions, norms and channel-wise layers, "
                           "or declare which tensors follow its channels (channel_dims)")


def _writers_of(fn: Any, by_weight: Mapping[int, nn.Module]) -> set[nn.Module]:
    """The convs whose outputs reach the autograd node ``fn`` through non-conv operations."""
    found, seen, stack = set(), set(), [fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if type(fn).__name__.startswith("ConvolutionBackward"):
            for nxt, _ in fn.next_functions:
                if nxt is not None and id(getattr(nxt, "variable", None)) in by_weight:
                    found.add(by_weight[id(nxt.variable)])
            continue
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return found


def _shuffled_writers(fn: Any, by_weight: Mapping[int, nn.Module]) -> set[nn.Module]:
    """The convs whose outputs reach ``fn`` through a pixel (un)shuffle, which moves channels
    to pixels or back: their groups cannot be pruned channel by channel."""
    found, seen, stack = set(), set(), [fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen or type(fn).__name__.startswith("ConvolutionBackward"):
            continue
        seen.add(fn)
        if "PixelShuffleBackward" in type(fn).__name__ or \
                "PixelUnshuffleBackward" in type(fn).__name__:
            found |= _writers_of(fn, by_weight)
            continue
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return found


def writers(model: nn.Module, example: torch.Tensor
            ) -> tuple[set[nn.Module], dict[nn.Module, set[nn.Module]], set[nn.Module]]:
    """The convs whose output reaches the network's output, and for every norm (and every
    layer declaring ``channel_dims``) the convs that write its input (walking the autograd
    graph back; robust to in-place activations); third, the convs whose outputs are read
    through a pixel (un)shuffle (:func:`_shuffled_writers`)."""
    by_weight = {id(m.weight): m for m in model.modules() if isinstance(m, CONVS)}
    norm_inputs: dict[nn.Module, object] = {}
    conv_inputs: list[object] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(module, inputs, output):
        if isinstance(module, CONVS):
            conv_inputs.append(inputs[0].grad_fn)
            return
        norm_inputs[module] = inputs[0].grad_fn
        if not isinstance(module, NORMS) and (
                not isinstance(output, torch.Tensor) or output.shape[1] != inputs[0].shape[1]):
            raise TracingError(f"layer {names[module]!r} ({type(module).__name__}) declares "
                               "channel_dims but does not keep its channel count: build it "
                               "from convolutions")

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, NORMS + CONVS) or channel_dims(m) is not None]
    try:
        with torch.enable_grad():
            out = model(example)
    except (RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TracingError(f"{type(model).__name__} does not run on a "
                           f"{tuple(example.shape)} example ({first[:100]}): a larger image "
                           "size may be needed") from None
    finally:
        for h in handles:
            h.remove()
    if not isinstance(out, torch.Tensor):
        raise TracingError(f"{type(model).__name__} returns {type(out).__name__}, not one "
                           "tensor: not supported by channel tracing")
    outputs = _writers_of(out.grad_fn, by_weight)
    if not outputs:
        raise TracingError(f"{type(model).__name__}: no convolution reaches the output")
    shuffled: set[nn.Module] = set()
    for fn in [*conv_inputs, *norm_inputs.values(), out.grad_fn]:
        shuffled |= _shuffled_writers(fn, by_weight)
    return outputs, {n: _writers_of(fn, by_weight) for n, fn in norm_inputs.items()}, shuffled


def _positions(model: nn.Module, example: torch.Tensor) -> dict[nn.Module, tuple[int, int]]:
    """(input, output) spatial positions of every conv at the example's size."""
    sizes: dict[nn.Module, tuple[int, int]] = {}

    def hook(module, inputs, output):
        sizes[module] = (inputs[0].shape[-2] * inputs[0].shape[-1],
                         output.shape[-2] * output.shape[-1])

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, CONVS)]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return sizes


def _as_ints(idxs: Iterable[Any]) -> list[int]:
    return [int(getattr(i, "idx", i)) for i in idxs]


def trace_terms(model: nn.Module, example: torch.Tensor) -> SpaceTerms:
    """The channel groups of ``model`` for inputs like ``example`` (``[1, C, H, W]``), with
    the convs and norms they touch (a mask space is ``MaskSpace(terms)``; :func:`trace_space`
    builds it).

    Groups are ordered by their first conv in ``model.modules()`` order and named after it
    (e.g. ``"encoder.0"``). A copy of the model is traced (in eval mode, with in-place
    activations made out-of-place); the model itself is untouched.
    Raises :class:`TracingError` (one line) for an unsupported layer or coupling.
    """
    try:
        import torch_pruning as tp
    except ImportError:  # pragma: no cover - an install dependency
        raise TracingError("channel tracing needs torch-pruning: pip install torch-pruning") \
            from None
    check_layers(model)
    model = _traceable_copy(model)
    try:
        param = next(model.parameters())
        example = example[:1].to(param.device, param.dtype)
        outputs, norm_writers, shuffled = writers(model, example)
        positions = _positions(model, example)
        names = {m: n for n, m in model.named_modules()}
        declared = {m: dims for m in model.modules() if (dims := channel_dims(m)) is not None}
        unwrapped = [(p, dims[key] % p.dim()) for m, dims in declared.items()
                     for key, p in m.named_parameters(recurse=False) if key in dims]
        try:
            with torch.enable_grad():  # the tracer follows autograd, also inside no_grad
                graph = tp.DependencyGraph().build_dependency(
                    model, example_inputs=example, unwrapped_parameters=unwrapped or None)
        except Exception as exc:  # the tracer raises many types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise TracingError(f"{type(model).__name__}: the dependency graph could not be "
                               f"traced ({first[:120]}); functional in-place operations "
                               "(x.relu_(), inplace=True in F.*) are a known cause") from None
        convs = [m for m in model.modules() if isinstance(m, CONVS)]
        group_of: dict[nn.Module, int] = {}       # writer conv -> group index
        readers: dict[nn.Module, dict[int, tuple[int, int]]] = {c: {} for c in convs}
        norm_group: dict[nn.Module, int] = {}
        specs: list[tuple[str, int]] = []
        fixed: set[int] = set()
        for conv in convs:
            if conv in outputs or conv in group_of:
                continue
            pruner = graph.get_pruner_of_module(conv)
            group = graph.get_pruning_group(conv, pruner.prune_out_channels,
                                            idxs=list(range(conv.out_channels)))
            gi = len(specs)
            specs.append((names[conv], conv.out_channels))
            for item in group.items:
                target, handler = item.dep.target.module, item.dep.handler.__name__
                idxs, roots = _as_ints(item.idxs), _as_ints(item.root_idxs)
                if isinstance(target, CONVS) and handler == "prune_out_channels":
                    if target in outputs:
                        fixed.add(gi)  # coupled with the output: kept whole
                    group_of[target] = gi
                elif isinstance(target, CONVS):
                    for i, r in zip(idxs, roots):
                        readers[target][i] = (gi, r)
                elif isinstance(target, NORMS):
                    continue  # found below from the autograd graph (in-place ops hide them)
                elif isinstance(target, nn.Module) and any(True for _ in target.parameters()) \
                        and not isinstance(target, nn.PReLU) and target not in declared:
                    raise TracingError(f"layer {names.get(target, type(target).__name__)!r} "
                                       f"({type(target).__name__}) is coupled with channel "
                                       f"group {names[conv]!r}: not supported")
        for conv in convs:  # a depthwise conv reads the very channels it writes
            if _is_depthwise(conv) and conv in group_of:
                readers[conv] = {i: (group_of[conv], i) for i in range(conv.in_channels)}
        for gi in range(len(specs)):
            if all(_is_depthwise(c) for c, g in group_of.items() if g == gi):
                fixed.add(gi)  # no writer but depthwise convs: the input image's channels
        fixed |= {group_of[c] for c in shuffled if c in group_of}  # pixel-shuffled: whole
        blocks: dict[int, set[int]] = {}
        for norm, convs_in in norm_writers.items():
            groups_in = {group_of.get(c, -1) for c in convs_in}
            if len(groups_in) > 1:
                raise TracingError(f"layer {names[norm]!r} ({type(norm).__name__}) normalises "
                                   "channels of several groups (a concatenation): not "
                                   "supported")
            gi = groups_in.pop() if groups_in else -1
            if gi >= 0 and gi not in fixed and specs[gi][1] != _channels(norm):
                raise TracingError(f"layer {names[norm]!r} has {_channels(norm)} "
                                   f"channels but follows group {specs[gi][0]!r} of "
                                   f"{specs[gi][1]}: not supported")
            norm_group[norm] = gi
            if gi >= 0 and isinstance(norm, nn.GroupNorm):
                blocks.setdefault(gi, set()).add(norm.num_channels // norm.num_groups)
        for gi, sizes in blocks.items():
            if len(sizes) > 1:
                fixed.add(gi)  # GroupNorms of different channels per group: kept whole
        # Groups kept whole leave the search: their channels count as fixed ones.
        new_index: dict[int, int] = {}
        kept_specs: list[tuple[str, int]] = []
        for gi, spec in enumerate(specs):
            if gi not in fixed:
                new_index[gi] = len(kept_specs)
                kept_specs.append(spec)
        remap = lambda gi: new_index.get(gi, -1)  # noqa: E731
        readers = {c: {i: (remap(g), r) for i, (g, r) in reads.items()}
                   for c, reads in readers.items()}
        conv_terms = [_conv_term(c, names[c], remap(group_of.get(c, -1)), readers[c],
                                 kept_specs, positions[c]) for c in convs]
        norm_terms = [NormTerm(names[n], remap(norm_group.get(n, -1)), _channels(n),
                               n.weight is not None, getattr(n, "running_mean", None)
                               is not None)
                      for n in model.modules() if isinstance(n, NORMS)]
        layer_terms = [LayerTerm(names[m], remap(norm_group.get(m, -1)), _channels(m),
                                 sum(p.numel() // p.shape[dims[k]] for k, p in
                                     m.named_parameters(recurse=False) if k in dims))
                       for m, dims in declared.items()]
        counted = sum(t.full_parameters() for t in conv_terms) + \
            sum(t.full_parameters() for t in norm_terms) + \
            sum(t.full_parameters() for t in layer_terms)
        constant = sum(p.numel() for p in model.parameters()) - counted
        terms = SpaceTerms(
            tuple(kept_specs), tuple(conv_terms), tuple(norm_terms),
            (int(example.shape[-2]), int(example.shape[-1])), int(example.shape[1]),
            constant_parameters=constant, fixed=tuple(specs[g][0] for g in sorted(fixed)),
            blocks={specs[g][0]: max(b) for g, b in blocks.items() if g not in fixed},
            layers=tuple(layer_terms))
    finally:
        del model
    return terms


def trace_space(model: nn.Module, example: torch.Tensor,
                min_keep: int | Mapping[str, int] = 1) -> MaskSpace:
    """The mask space of ``model`` for inputs like ``example`` (``[1, C, H, W]``), its groups
    traced by :func:`trace_terms` (:class:`TracingError`, one line, for an unsupported
    layer)."""
    return MaskSpace(trace_terms(model, example), min_keep)


def space_of(generator: nn.Module, example_input: torch.Tensor | None = None,
             layout: Layout = "independent") -> MaskSpace:
    """The mask space of any ``generator``, traced on the first image of ``example_input``
    (``[N, C, H, W]``; MACs are counted at its size and scaled by the pixel ratio), or
    without one on the smallest image it runs on (:func:`~.counting.example_input`).
    ``layout="tied"`` merges every residual stream with its blocks' inner widths
    (:meth:`MaskSpace.tied`). ValueError (one line) for a network that runs on no small
    image: give it an example."""
    if layout not in ("independent", "tied"):
        raise ValueError(f"unknown layout {layout!r}: use 'independent' or 'tied'")
    if example_input is None:
        try:
            example_input = example_input_of(generator)
        except ValueError as exc:
            raise ValueError(f"space_of: {exc}; give an example input [1, C, H, W]") from None
    return trace_space(generator, example_input[:1]).with_layout(layout)


def _traceable_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with in-place activations made out-of-place (the same
    numbers; in-place ops hide layers from the traced graph)."""
    import copy
    model = copy.deepcopy(model).eval().requires_grad_(True)  # a frozen network traces too
    for m in model.modules():
        if getattr(m, "inplace", False) is True:
            setattr(m, "inplace", False)  # noqa: B010 (any module class with the flag)
    return model


def _is_depthwise(conv: nn.Module) -> bool:
    """A depthwise Conv2d: ``groups == in_channels == out_channels`` (more than one)."""
    return isinstance(conv, nn.Conv2d) and not isinstance(conv, nn.ConvTranspose2d) and \
        1 < conv.groups == conv.in_channels == conv.out_channels


def _own_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters and buffers a module holds itself (not its children's), by name."""
    return {**dict(module.named_parameters(recurse=False)),
            **dict(module.named_buffers(recurse=False))}


def _channels(layer: nn.Module) -> int:
    """The channels of a norm, or of a layer declaring ``channel_dims`` (which must agree)."""
    if isinstance(layer, nn.GroupNorm):
        return layer.num_channels
    if isinstance(layer, NORMS):
        return int(cast(nn.modules.batchnorm._NormBase, layer).num_features)
    tensors = _own_tensors(layer)
    sizes = {key: tensors[key].shape[dim] for key, dim in (channel_dims(layer) or {}).items()}
    if len(set(sizes.values())) != 1:
        raise TracingError(f"layer {type(layer).__name__}: its channel_dims give different "
                           f"channel counts {sizes}")
    return int(next(iter(sizes.values())))


def _conv_term(conv: nn.Conv2d | nn.ConvTranspose2d, name: str, out_group: int,
               reads: dict[int, tuple[int, int]], specs: Sequence[tuple[str, int]],
               positions: tuple[int, int]) -> ConvTerm:
    """The conv's description: its output group, and for every input channel the group and
    channel it reads (-1 and its own index for channels of no group, e.g. the image)."""
    in_groups = tuple(reads.get(i, (-1, i))[0] for i in range(conv.in_channels))
    in_index = tuple(j if g >= 0 else i for i, (g, j) in
                     enumerate(reads.get(i, (-1, i)) for i in range(conv.in_channels)))
    for gi in set(in_groups) - {-1}:
        seen = sorted(j for g, j in zip(in_groups, in_index) if g == gi)
        size = specs[gi][1]
        if len(seen) % size or seen != sorted(list(range(size)) * (len(seen) // size)):
            raise TracingError(f"layer {name!r} reads part of channel group "
                               f"{specs[gi][0]!r}: not supported")
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return ConvTerm(name, isinstance(conv, nn.ConvTranspose2d), k, conv.bias is not None,
                    out_group, conv.out_channels, in_groups, in_index, positions[0],
                    positions[1], _is_depthwise(conv))


"""Which channels of a generator can be pruned, grouped so that each group is removed together.

A *group* is a set of output channels that share one keep/drop bit per channel: the residual
stream, for example, is written by the second down conv and by every block's second conv, and
read by the first transposed conv, so one bit drops that channel everywhere. A mask space lays
the groups end to end into the flat 0/1 list that a DEAP individual holds.

Pure Python (no torch), so operators that use it run wherever DEAP runs.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from .terms import ConvTerm, LayerTerm, NormTerm, SpaceTerms, term_dict
from .widths import GeneratorWidths, MacConvention

Layout = Literal["independent", "tied", "traced"]
SizeMeasure = Literal["parameters", "macs"]
#: A size function: the size of the network whose groups keep ``counts`` bits (group order),
#: non-decreasing in every count, e.g. a latency model's predicted milliseconds
#: (:class:`~deap_gan_prune.nets.latency_model.LatencyModel`). Its ``name`` attribute, if
#: any, names it in messages.
SizeFunction = Callable[[Sequence[int]], float]
#: What a budget is measured in: "parameters", "macs" (closed forms) or a size function.
Measure = str | SizeFunction


def measure_name(measure: Measure) -> str:
    """``measure`` as messages name it: its text, or a size function's ``name``."""
    if isinstance(measure, str):
        return measure
    return str(getattr(measure, "name", getattr(measure, "__name__", "size")))


@dataclass(frozen=True)
class ChannelGroup:
    """Channels pruned together: ``size`` bits at ``offset`` in the individual, controlling the
    width slots ``slots`` (see :class:`GeneratorWidths`), never fewer than ``min_keep`` kept.
    ``block``: channels per bit (1, or a GroupNorm's channels per norm-group in a traced
    space: each bit keeps or removes ``block`` consecutive channels)."""

    name: str
    offset: int
    size: int
    slots: tuple[str, ...]
    min_keep: int = 1
    block: int = 1

    @property
    def channels(self) -> int:
        """Channels of the group (``size * block``)."""
        return self.size * self.block

    @property
    def stop(self) -> int:
        return self.offset + self.size


class MaskSpace:
    """The prunable channel groups of a generator, laid end to end into the flat 0/1 list
    that a DEAP individual holds; sizes are closed forms of the kept counts (below).

    One representation for every generator, as Torch-Pruning's groups: the groups with the
    convs and norms they touch (:class:`SpaceTerms`). Traced from any network's graph by
    :meth:`from_module` (:func:`~deap_gan_prune.nets.groups.trace_space`), or, for the upstream
    ResNet, written from its ``widths`` without tracing: ``MaskSpace(widths, layout)``
    (``layout="independent"``, the default: first, down1, stream, each block's inner width,
    up1, up2, 2,944 bits for ngf 64 / 9 blocks; ``"tied"``: the released code's layout, one mask
    shared by the stream and every block's inner width, 640 bits; tracing the ResNet gives the
    same groups, tested). The ResNet's space keeps its ``widths`` as a view of the groups
    (:meth:`widths_of`); other spaces have ``widths`` None. The last
    conv is never pruned. ``min_keep``: the least number of channels (bits) kept per group (an
    int for all groups or a mapping by group name). ``dropout``: the ResNet's blocks have
    dropout (their second conv is ``conv_block.6``).

    Sizes: parameters = constant + Σ_conv (k·in·out + bias·out) + Σ_norm 2·C (affine)
    + Σ_layer p·C (your own layers, ``p`` parameters per channel), where
    ``in``, ``out`` and ``C`` are fixed or a group's count (``in`` a sum over the groups a conv
    reads); MACs = Σ_conv k·in·out·positions with the positions counted at ``example_size``
    and scaled by the pixel ratio (a depthwise conv counts k·out; a transposed conv at its
    output positions, or its input positions with ``convention="real"``).
    """

    def __init__(self, widths: GeneratorWidths | None = None, layout: Layout = "independent",
                 min_keep: int | Mapping[str, int] = 1, *, terms: SpaceTerms | None = None,
                 dropout: bool = False) -> None:
        if (widths is None) == (terms is None):
            raise ValueError("MaskSpace: give the ResNet's widths or the traced terms")
        if widths is not None:
            if layout not in ("independent", "tied"):
                raise ValueError(f"unknown layout {layout!r}: use 'independent' or 'tied'")
            terms = resnet_terms(widths, layout, dropout)
        else:
            layout = "traced"
        assert terms is not None
        self.widths = widths
        self.layout: Layout = layout
        self.dropout = bool(dropout)
        self.terms = terms
        self.convs, self.norms = terms.convs, terms.norms
        self.example_size = terms.example_size
        self.input_nc, self.constant_parameters = terms.input_nc, terms.constant_parameters
        self.fixed = terms.fixed
        groups, offset = [], 0
        for name, channels in terms.specs:
            block = int((terms.blocks or {}).get(name, 1))
            if block < 1 or channels % block:
                raise ValueError(f"group {name!r}: {channels} channels are not whole blocks "
                                 f"of {block}")
            size = int(channels) // block
            keep = min_keep if isinstance(min_keep, int) else min_keep.get(name, 1)
            if not 0 <= keep <= size:
                raise ValueError(f"min_keep {keep} for group {name!r} is outside 0..{size}")
            slots = tuple((terms.slots or {}).get(name, (name,)))
            groups.append(ChannelGroup(name, offset, size, slots, keep, block))
            offset += size
        self.groups: tuple[ChannelGroup, ...] = tuple(groups)
        self.n_bits = offset
        self._by_name = {g.name: g for g in self.groups}
        self._forms = [(c, c.in_form()) for c in self.convs]

    def __repr__(self) -> str:
        if self.widths is None:
            return f"MaskSpace(traced, {len(self.groups)} groups, {self.n_bits} bits)"
        return (f"MaskSpace({self.layout}, {len(self.groups)} groups, {self.n_bits} bits, "
                f"widths={self.widths})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaskSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.layout, self.n_bits, tuple(g.name for g in self.groups)))

    def __getstate__(self) -> dict:
        return self.to_dict()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(MaskSpace.from_dict(state).__dict__)

    def group(self, name: str) -> ChannelGroup:
        return self._by_name[name]

    @property
    def boundaries(self) -> list[int]:
        """Offsets where a group starts, plus ``n_bits`` (so cuts between groups are the
        inner entries)."""
        return [g.offset for g in self.groups] + [self.n_bits]

    # -- conversions ---------------------------------------------------------------------
    def full(self) -> list[int]:
        """The mask that keeps every channel."""
        return [1] * self.n_bits

    def _check(self, bits: Sequence[int]) -> None:
        if len(bits) != self.n_bits:
            raise ValueError(f"a mask of this space has {self.n_bits} bits, got {len(bits)}")

    def split(self, bits: Sequence[int]) -> dict[str, list[int]]:
        """Per-group 0/1 lists of a flat mask."""
        self._check(bits)
        return {g.name: [int(b) for b in bits[g.offset:g.stop]] for g in self.groups}

    def join(self, group_masks: Mapping[str, Sequence[int]]) -> list[int]:
        """The flat mask from per-group 0/1 lists (missing groups are kept whole)."""
        unknown = set(group_masks) - set(self._by_name)
        if unknown:
            raise KeyError(f"unknown groups {sorted(unknown)}")
        bits: list[int] = []
        for g in self.groups:
            part = list(group_masks.get(g.name, [1] * g.size))
            if len(part) != g.size:
                raise ValueError(f"group {g.name!r} has {g.size} channels, got {len(part)}")
            bits += [int(b) for b in part]
        return bits

    def slot_masks(self, bits: Sequence[int]) -> dict[str, list[int]]:
        """Per-width-slot 0/1 lists (each group's mask under every slot it controls; a traced
        group is its own slot)."""
        masks = {}
        for name, part in self.split(bits).items():
            for slot in self._by_name[name].slots:
                masks[slot] = part
        return masks

    def from_slot_masks(self, slot_masks: Mapping[str, Sequence[int]]) -> list[int]:
        """The flat mask from per-slot 0/1 lists (missing slots kept whole; the slots of one
        group must agree)."""
        slots = {slot: g for g in self.groups for slot in g.slots}
        unknown = set(slot_masks) - set(slots)
        if unknown:
            raise KeyError(f"unknown width slots {sorted(unknown)}")
        parts: dict[str, list[int]] = {}
        for slot, part in slot_masks.items():
            g = slots[slot]
            part = [int(b) for b in part]
            if len(part) != g.size:
                raise ValueError(f"mask for {slot!r} has {len(part)} entries, the layer has "
                                 f"{g.size}")
            if parts.setdefault(g.name, part) != part:
                raise ValueError(f"the slots of group {g.name!r} ({', '.join(g.slots)}) are "
                                 "tied: give them one mask")
        return self.join(parts)

    def kept(self, bits: Sequence[int]) -> dict[str, int]:
        """Bits kept per group."""
        return {name: sum(part) for name, part in self.split(bits).items()}

    def widths_of(self, bits: Sequence[int]) -> GeneratorWidths:
        """Widths of the ResNet that ``bits`` slims to (a group kept at 0 counts as 0
        channels, which no real network can have: such masks are invalid). TypeError for a
        space without widths (not the upstream ResNet)."""
        if self.widths is None:
            raise TypeError("a traced mask space has no ResNet widths; use kept() or size()")
        values = {slot: sum(m) for slot, m in self.slot_masks(bits).items()}
        inner = tuple(values[f"inner{b}"] for b in range(self.widths.n_blocks))
        w = self.widths
        return _unchecked_widths(
            values["first"], values["down1"], values["stream"], inner, values["up1"],
            values["up2"], w.input_nc, w.output_nc)

    def is_valid(self, bits: Sequence[int]) -> bool:
        """True when every group keeps at least its ``min_keep`` channels (and at least one)."""
        return all(sum(bits[g.offset:g.stop]) >= max(g.min_keep, 1) for g in self.groups)

    # -- size ----------------------------------------------------------------------------
    def size_function(self, measure: Measure = "parameters",
                      image_size: int | tuple[int, int] = 256,
                      convention: str = "output") -> SizeFunction:
        """Size in ``measure`` of the network whose groups keep the given counts:
        :meth:`size_of_counts` bound to ``measure`` ("parameters" or "macs", checked now),
        or ``measure`` itself when it is a size function."""
        if callable(measure):
            return measure
        if measure not in ("parameters", "macs"):
            raise ValueError(f"unknown size measure {measure!r}: use 'parameters' or 'macs'")
        if measure == "macs" and convention not in ("output", "real"):
            raise ValueError(f"unknown MAC convention {convention!r}: use 'output' or 'real'")
        return functools.partial(self.size_of_counts, measure=cast(SizeMeasure, measure),
                                 image_size=image_size,
                                 convention=cast(MacConvention, convention))

    def size_of_counts(self, counts: Sequence[int], measure: SizeMeasure = "parameters",
                       image_size: int | tuple[int, int] = 256,
                       convention: MacConvention = "output") -> int:
        """Parameters, or MACs at ``image_size`` pixels (``convention`` as in
        :func:`~deap_gan_prune.nets.widths.count_macs`), of the network whose groups keep
        ``counts[g]`` bits (``counts[g] * block`` channels; group order)."""
        counts = [int(c) * g.block for c, g in zip(counts, self.groups)]
        if measure == "parameters":
            total = self.constant_parameters
            for c, (fixed, per) in self._forms:
                out = c.out_channels if c.out_group < 0 else counts[c.out_group]
                ins = 1 if c.depthwise else fixed + sum(m * counts[g] for g, m in per.items())
                total += c.kernel * ins * out
                total += out if c.bias else 0
            for n in self.norms:
                if n.affine:
                    total += 2 * (n.channels if n.group < 0 else counts[n.group])
            for t in self.terms.layers:
                total += t.per_channel * (t.channels if t.group < 0 else counts[t.group])
            return int(total)
        if measure != "macs":
            raise ValueError(f"unknown size measure {measure!r}: use 'parameters' or 'macs'")
        if convention not in ("output", "real"):
            raise ValueError(f"unknown MAC convention {convention!r}: use 'output' or 'real'")
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        scale = h * w / (self.example_size[0] * self.example_size[1])
        macs = 0.0
        for c, (fixed, per) in self._forms:
            out = c.out_channels if c.out_group < 0 else counts[c.out_group]
            positions = c.in_positions if c.transposed and convention == "real" \
                else c.out_positions
            ins = 1 if c.depthwise else fixed + sum(m * counts[g] for g, m in per.items())
            macs += c.kernel * ins * out * positions * scale
        return round(macs)

    def size(self, bits: Sequence[int], measure: SizeMeasure = "parameters",
             image_size: int | tuple[int, int] = 256,
             convention: MacConvention = "output") -> int:
        """Parameters, or MACs at ``image_size`` pixels, of the network ``bits`` slims to."""
        return self.size_of_counts(list(self.kept(bits).values()), measure, image_size,
                                   convention)

    def size_ratio(self, bits: Sequence[int], measure: SizeMeasure = "parameters",
                   image_size: int | tuple[int, int] = 256,
                   convention: MacConvention = "output") -> float:
        """``size(bits) / size(full())``: 1.0 for the unpruned generator."""
        return (self.size(bits, measure, image_size, convention)
                / self.size(self.full(), measure, image_size, convention))

    def matches(self, generator: Any) -> bool:
        """True when ``generator`` has every conv of this space with its channels."""
        modules = dict(generator.named_modules())
        for c in self.convs:
            m = modules.get(c.name)
            if m is None or getattr(m, "out_channels", None) != c.out_channels or \
                    getattr(m, "in_channels", None) != len(c.in_groups):
                return False
        return True

    @classmethod
    def from_module(cls, model: Any, example_input: Any = None, layout: Layout = "independent",
                    min_keep: int | Mapping[str, int] = 1) -> MaskSpace:
        """The mask space of any generator: the upstream
        :class:`~deap_gan_prune.nets.models.ResnetGenerator`'s from its widths (``layout``
        independent or tied), any other's traced on ``example_input`` (``[1, C, H, W]``; see
        :mod:`deap_gan_prune.nets.groups`)."""
        from .models import ResnetGenerator  # torch is only needed here
        if isinstance(model, ResnetGenerator):
            return cls(model.widths, layout, min_keep, dropout=model.use_dropout)
        if layout != "independent":
            raise ValueError(f"layout {layout!r} is for the upstream ResnetGenerator; a "
                             f"{type(model).__name__} gets the traced groups")
        if example_input is None:
            raise ValueError(f"MaskSpace.from_module: a {type(model).__name__} needs an "
                             "example input [1, C, H, W] to trace")
        return trace_space(model, example_input,
                           min_keep if isinstance(min_keep, int) else 1)

    def to_dict(self) -> dict:
        min_keep = {g.name: g.min_keep for g in self.groups}
        if self.widths is not None:
            return {"widths": self.widths.to_dict(), "layout": self.layout,
                    "min_keep": min_keep, "n_bits": self.n_bits,
                    **({"dropout": True} if self.dropout else {})}
        t = self.terms
        blocks = {g.name: g.block for g in self.groups if g.block > 1}
        return {"layout": "traced", "n_bits": self.n_bits,
                "groups": [[g.name, g.channels] for g in self.groups],
                **({"blocks": blocks} if blocks else {}),
                "min_keep": min_keep,
                "example_size": list(t.example_size), "input_nc": t.input_nc,
                "constant_parameters": t.constant_parameters, "fixed": list(t.fixed),
                "convs": [term_dict(c) for c in t.convs],
                "norms": [asdict(n) for n in t.norms],
                **({"layers": [asdict(n) for n in t.layers]} if t.layers else {})}

    @classmethod
    def from_dict(cls, d: Mapping) -> MaskSpace:
        if d.get("layout") == "traced":
            terms = SpaceTerms(tuple((name, int(size)) for name, size in d["groups"]),
                               tuple(ConvTerm(**c) for c in d["convs"]),
                               tuple(NormTerm(**n) for n in d["norms"]),
                               (int(d["example_size"][0]), int(d["example_size"][1])),
                               int(d["input_nc"]), int(d["constant_parameters"]),
                               tuple(d.get("fixed", ())), d.get("blocks"),
                               layers=tuple(LayerTerm(**n) for n in d.get("layers", ())))
            return cls(terms=terms, min_keep=dict(d["min_keep"]))
        return cls(GeneratorWidths.from_dict(d["widths"]), d["layout"], dict(d["min_keep"]),
                   dropout=bool(d.get("dropout", False)))


def resnet_terms(widths: GeneratorWidths, layout: Layout = "independent",
                 dropout: bool = False) -> SpaceTerms:
    """The upstream ResNet's groups, convs and norms written from its widths (what tracing it
    gives), with its module names; positions counted at 4x4 pixels (exact for every image
    size divisible by 4). ``layout="tied"`` makes the stream and every block's inner width one
    group (they must be equal)."""
    w, nb = widths, widths.n_blocks
    if layout == "tied" and any(m != w.stream for m in w.inner):
        raise ValueError("the tied layout needs every block's inner width equal to the "
                         f"stream width ({w.stream}); got {list(w.inner)}")
    inner = [f"inner{b}" for b in range(nb)]
    names = ["first", "down1", "stream", *([] if layout == "tied" else inner), "up1", "up2"]
    index = {n: i for i, n in enumerate(names)}
    group = {**index, **(dict.fromkeys(inner, index["stream"]) if layout == "tied" else {})}
    width = {"first": w.first, "down1": w.down1, "stream": w.stream, "up1": w.up1,
             "up2": w.up2, **dict(zip(inner, w.inner))}

    def conv(name: str, reads: str | None, writes: str | None, kernel: int, positions: int,
             in_positions: int | None = None, transposed: bool = False) -> ConvTerm:
        n_in = w.input_nc if reads is None else width[reads]
        out = w.output_nc if writes is None else width[writes]
        in_groups = (-1,) * n_in if reads is None else (group[reads],) * n_in
        return ConvTerm(name, transposed, kernel, True, -1 if writes is None else group[writes],
                        out, in_groups, tuple(range(n_in)),
                        positions if in_positions is None else in_positions, positions)

    second = 6 if dropout else 5
    convs = [conv("model.1", None, "first", 49, 16, 100),
             conv("model.4", "first", "down1", 9, 4, 16),
             conv("model.7", "down1", "stream", 9, 1, 4)]
    norms = [NormTerm("model.2", group["first"], w.first, False, False),
             NormTerm("model.5", group["down1"], w.down1, False, False),
             NormTerm("model.8", group["stream"], w.stream, False, False)]
    for b in range(nb):
        block = f"model.{10 + b}.conv_block"
        convs += [conv(f"{block}.1", "stream", inner[b], 9, 1, 9),
                  conv(f"{block}.{second}", inner[b], "stream", 9, 1, 9)]
        norms += [NormTerm(f"{block}.2", group[inner[b]], w.inner[b], False, False),
                  NormTerm(f"{block}.{second + 1}", group["stream"], w.stream, False, False)]
    convs += [conv(f"model.{10 + nb}", "stream", "up1", 9, 4, 1, transposed=True),
              conv(f"model.{13 + nb}", "up1", "up2", 9, 16, 4, transposed=True),
              conv(f"model.{17 + nb}", "up2", None, 49, 16, 100)]
    norms += [NormTerm(f"model.{11 + nb}", group["up1"], w.up1, False, False),
              NormTerm(f"model.{14 + nb}", group["up2"], w.up2, False, False)]
    slots = {"stream": ("stream", *inner)} if layout == "tied" else {}
    return SpaceTerms(tuple((n, width[n]) for n in names), tuple(convs), tuple(norms), (4, 4),
                      w.input_nc, slots=slots)


def trace_space(model: Any, example: Any, min_keep: int = 1) -> MaskSpace:
    """The channel groups of any ``model`` for inputs like ``example`` (``[1, C, H, W]``),
    discovered from its traced graph (:func:`~deap_gan_prune.nets.groups.trace_terms`;
    :class:`~deap_gan_prune.nets.groups.TracingError`, one line, for an unsupported layer)."""
    from .groups import trace_terms  # torch is only needed here
    return MaskSpace(terms=trace_terms(model, example), min_keep=min_keep)


def space_of(generator: Any, example_input: Any = None, layout: Layout = "independent"
             ) -> MaskSpace:
    """The default mask space of ``generator`` (:meth:`MaskSpace.from_module`); a traced space
    needs ``example_input`` (a batch of images: the first is used)."""
    return MaskSpace.from_module(generator, None if example_input is None
                                 else example_input[:1], layout)


def _unchecked_widths(*args: Any) -> GeneratorWidths:
    """GeneratorWidths without the >= 1 check (sizes of invalid masks still count)."""
    w = object.__new__(GeneratorWidths)
    names = ("first", "down1", "stream", "inner", "up1", "up2", "input_nc", "output_nc")
    for name, value in zip(names, args):
        object.__setattr__(w, name, value)
    return w

"""Which channels of a generator can be pruned, grouped so that each group is removed together.

A *group* is a set of output channels that share one keep/drop bit per channel: the residual
stream, for example, is written by the second down conv and by every block's second conv, and
read by the first transposed conv, so one bit drops that channel everywhere. A mask space lays
the groups end to end into the flat 0/1 list that a DEAP individual holds.

Pure Python (no torch), so operators that use it run wherever DEAP runs.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .widths import GeneratorWidths, MacConvention, count_macs, count_parameters

Layout = Literal["independent", "tied", "traced"]
SizeMeasure = Literal["parameters", "macs"]


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
    """The prunable channel groups of a ResNet generator of widths ``widths``.

    ``layout="independent"`` (default): first, down1, stream, each block's inner width, up1,
    up2 (2,944 bits for ngf 64 / 9 blocks). ``layout="tied"``: the released code's layout, one
    mask shared by the stream and every block's inner width (640 bits). The last conv is never
    pruned. ``min_keep`` is the least number of channels kept per group (an int for all groups or
    a mapping by group name).
    """

    def __init__(self, widths: GeneratorWidths, layout: Layout = "independent",
                 min_keep: int | Mapping[str, int] = 1) -> None:
        if layout not in ("independent", "tied"):
            raise ValueError(f"unknown layout {layout!r}: use 'independent' or 'tied'")
        self.widths = widths
        self.layout: Layout = layout
        inner_slots = tuple(f"inner{b}" for b in range(widths.n_blocks))
        if layout == "tied":
            if any(m != widths.stream for m in widths.inner):
                raise ValueError("the tied layout needs every block's inner width equal to the "
                                 f"stream width ({widths.stream}); got {list(widths.inner)}")
            spec = [("first", ("first",)), ("down1", ("down1",)),
                    ("stream", ("stream", *inner_slots)), ("up1", ("up1",)), ("up2", ("up2",))]
        else:
            spec = [("first", ("first",)), ("down1", ("down1",)), ("stream", ("stream",)),
                    *((s, (s,)) for s in inner_slots), ("up1", ("up1",)), ("up2", ("up2",))]
        groups, offset = [], 0
        for name, slots in spec:
            size = widths.slot(slots[0])
            keep = min_keep if isinstance(min_keep, int) else min_keep.get(name, 1)
            if not 0 <= keep <= size:
                raise ValueError(f"min_keep {keep} for group {name!r} is outside 0..{size}")
            groups.append(ChannelGroup(name, offset, size, slots, keep))
            offset += size
        self.groups: tuple[ChannelGroup, ...] = tuple(groups)
        self.n_bits = offset
        self._by_name = {g.name: g for g in self.groups}

    def __repr__(self) -> str:
        return (f"MaskSpace({self.layout}, {len(self.groups)} groups, {self.n_bits} bits, "
                f"widths={self.widths})")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, MaskSpace) and self.widths == other.widths
                and self.layout == other.layout and self.groups == other.groups)

    def __getstate__(self) -> dict:
        return {"widths": self.widths, "layout": self.layout,
                "min_keep": {g.name: g.min_keep for g in self.groups}}

    def __setstate__(self, state: dict) -> None:
        MaskSpace.__init__(self, state["widths"], state["layout"], state["min_keep"])

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
        """Per-width-slot 0/1 lists (what :func:`deap_gan_prune.slim` takes)."""
        masks = {}
        for name, part in self.split(bits).items():
            for slot in self._by_name[name].slots:
                masks[slot] = part
        return masks

    def kept(self, bits: Sequence[int]) -> dict[str, int]:
        """Channels kept per group."""
        return {name: sum(part) for name, part in self.split(bits).items()}

    def widths_of(self, bits: Sequence[int]) -> GeneratorWidths:
        """Widths of the generator that ``bits`` slims to (a group kept at 0 counts as 0
        channels, which no real network can have: such masks are invalid)."""
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
    def size(self, bits: Sequence[int], measure: SizeMeasure = "parameters",
             image_size: int = 256, convention: MacConvention = "output") -> int:
        """Parameters, or MACs at ``image_size`` pixels, of the generator ``bits`` slims to."""
        w = self.widths_of(bits)
        if measure == "parameters":
            return count_parameters(w)
        if measure == "macs":
            return count_macs(w, image_size, convention)
        raise ValueError(f"unknown size measure {measure!r}: use 'parameters' or 'macs'")

    def size_of_counts(self, counts: Sequence[int], measure: SizeMeasure = "parameters",
                       image_size: int | tuple[int, int] = 256,
                       convention: MacConvention = "output") -> int:
        """Size of the network whose groups keep ``counts[i]`` channels (group order)."""
        values = {slot: int(c) for g, c in zip(self.groups, counts) for slot in g.slots}
        inner = tuple(values[f"inner{b}"] for b in range(self.widths.n_blocks))
        w = _unchecked_widths(values["first"], values["down1"], values["stream"], inner,
                              values["up1"], values["up2"], self.widths.input_nc,
                              self.widths.output_nc)
        if measure == "parameters":
            return count_parameters(w)
        if measure == "macs":
            return count_macs(w, image_size, convention)
        raise ValueError(f"unknown size measure {measure!r}: use 'parameters' or 'macs'")

    def matches(self, generator: Any) -> bool:
        """True when this space describes ``generator``'s channels."""
        return getattr(generator, "widths", None) == self.widths

    @classmethod
    def from_module(cls, model: Any, example_input: Any = None, layout: Layout = "independent",
                    min_keep: int | Mapping[str, int] = 1) -> MaskSpace:
        """The mask space of any generator: today's layout for a
        :class:`~deap_gan_prune.nets.models.ResnetGenerator` (``layout`` independent or tied), else
        the channel groups discovered from the graph traced on ``example_input``
        (``[1, C, H, W]``; see :mod:`deap_gan_prune.nets.groups`)."""
        from .models import ResnetGenerator  # torch is only needed here
        if isinstance(model, ResnetGenerator):
            return cls(model.widths, layout, min_keep)
        if layout != "independent":
            raise ValueError(f"layout {layout!r} is for the upstream ResnetGenerator; a "
                             f"{type(model).__name__} gets the traced groups")
        if example_input is None:
            raise ValueError(f"MaskSpace.from_module: a {type(model).__name__} needs an "
                             "example input [1, C, H, W] to trace")
        from .groups import trace_space
        return trace_space(model, example_input,
                           min_keep if isinstance(min_keep, int) else 1)

    def size_ratio(self, bits: Sequence[int], measure: SizeMeasure = "parameters",
                   image_size: int = 256, convention: MacConvention = "output") -> float:
        """``size(bits) / size(full())``: 1.0 for the unpruned generator."""
        return (self.size(bits, measure, image_size, convention)
                / self.size(self.full(), measure, image_size, convention))

    def to_dict(self) -> dict:
        return {"widths": self.widths.to_dict(), "layout": self.layout,
                "min_keep": {g.name: g.min_keep for g in self.groups}, "n_bits": self.n_bits}

    @classmethod
    def from_dict(cls, d: Mapping) -> MaskSpace:
        if d.get("layout") == "traced":
            return TracedMaskSpace.from_dict(d)
        return cls(GeneratorWidths.from_dict(d["widths"]), d["layout"], dict(d["min_keep"]))


def space_of(generator: Any, example_input: Any = None, layout: Layout = "independent"
             ) -> MaskSpace:
    """The default mask space of ``generator`` (:meth:`MaskSpace.from_module`); a traced space
    needs ``example_input`` (a batch of images: the first is used)."""
    return MaskSpace.from_module(generator, None if example_input is None
                                 else example_input[:1], layout)


def _unchecked_widths(*args) -> GeneratorWidths:
    """GeneratorWidths without the >= 1 check (sizes of invalid masks still count)."""
    w = object.__new__(GeneratorWidths)
    names = ("first", "down1", "stream", "inner", "up1", "up2", "input_nc", "output_nc")
    for name, value in zip(names, args):
        object.__setattr__(w, name, value)
    return w


# -- spaces of any architecture (traced) ---------------------------------------------------
@dataclass(frozen=True)
class ConvTerm:
    """One conv of a traced network: ``name`` (module path), ``kernel`` (kh*kw), whether it
    has a bias and is transposed, ``out_group`` (index of the group its outputs belong to, -1
    when never pruned) of ``out_channels``; per input channel the group it reads
    (``in_groups``, -1 for a fixed channel) and the channel within it (``in_index``); spatial
    ``in_positions`` / ``out_positions`` (H*W) at the traced example's size. ``depthwise``: a
    depthwise conv (``groups == in == out``, weight ``[C, 1, kh, kw]``), whose input and output
    channels are the same group."""

    name: str
    transposed: bool
    kernel: int
    bias: bool
    out_group: int
    out_channels: int
    in_groups: tuple[int, ...]
    in_index: tuple[int, ...]
    in_positions: int
    out_positions: int
    depthwise: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_groups", tuple(self.in_groups))
        object.__setattr__(self, "in_index", tuple(self.in_index))

    def in_form(self) -> tuple[int, dict[int, int]]:
        """Input channels as ``fixed + Σ_g m_g * count_g``: ``(fixed, {g: m_g})``."""
        fixed, per = 0, dict[int, int]()
        for g, j in zip(self.in_groups, self.in_index):
            if g < 0:
                fixed += 1
            elif j == 0:  # every channel of a group is read equally often
                per[g] = per.get(g, 0) + 1
        return fixed, per

    def full_parameters(self) -> int:
        per_out = 1 if self.depthwise else len(self.in_groups)
        return per_out * self.out_channels * self.kernel + \
            (self.out_channels if self.bias else 0)


@dataclass(frozen=True)
class NormTerm:
    """One norm of a traced network: ``name``, the ``group`` its channels belong to (-1 when
    never pruned), ``channels``, whether it has affine weights (2 parameters per channel) and
    running statistics."""

    name: str
    group: int
    channels: int
    affine: bool
    stats: bool

    def full_parameters(self) -> int:
        return 2 * self.channels if self.affine else 0


class TracedMaskSpace(MaskSpace):
    """The channel groups of any generator, discovered from its traced graph
    (:meth:`MaskSpace.from_module`); each group is its own slot. Pure Python and JSON-able: it
    holds module names and channel maps, not modules.

    Sizes are closed forms of the kept counts ``c_g``: parameters = constant + Σ_conv
    (k·in·out + bias·out) + Σ_norm 2·C (affine), where ``in``, ``out`` and ``C`` are fixed or a
    group's count (``in`` a sum over the groups a conv reads); MACs = Σ_conv k·in·out·positions
    with the positions measured at the traced size and scaled by the pixel ratio (a depthwise
    conv counts k·out). ``specs``: ``(name, channels)`` per group; ``blocks``: channels per
    bit by group name (default 1; see :class:`ChannelGroup`). Bits, :meth:`kept` and the
    ``counts`` of :meth:`size_of_counts` are in bits; sizes multiply them by the block.
    """

    def __init__(self, specs: Sequence[tuple[str, int]], convs: Sequence[ConvTerm],
                 norms: Sequence[NormTerm], example_size: Sequence[int], input_nc: int, *,
                 constant_parameters: int = 0, min_keep: int | Mapping[str, int] = 1,
                 fixed: Sequence[str] = (), blocks: Mapping[str, int] | None = None) -> None:
        # No widths: a traced space's sizes come from its terms (widths_of raises).
        self.widths = None  # type: ignore[assignment]
        self.layout = "traced"
        self.convs, self.norms = tuple(convs), tuple(norms)
        self.example_size = (int(example_size[0]), int(example_size[1]))
        self.input_nc, self.constant_parameters = int(input_nc), int(constant_parameters)
        self.fixed = tuple(fixed)
        groups, offset = [], 0
        for name, channels in specs:
            block = int((blocks or {}).get(name, 1))
            if block < 1 or channels % block:
                raise ValueError(f"group {name!r}: {channels} channels are not whole blocks "
                                 f"of {block}")
            size = int(channels) // block
            keep = min_keep if isinstance(min_keep, int) else min_keep.get(name, 1)
            if not 0 <= keep <= size:
                raise ValueError(f"min_keep {keep} for group {name!r} is outside 0..{size}")
            groups.append(ChannelGroup(name, offset, size, (name,), keep, block))
            offset += size
        self.groups = tuple(groups)
        self.n_bits = offset
        self._by_name = {g.name: g for g in self.groups}
        self._forms = [(c, c.in_form()) for c in self.convs]

    def __repr__(self) -> str:
        return f"TracedMaskSpace({len(self.groups)} groups, {self.n_bits} bits)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TracedMaskSpace) and self.to_dict() == other.to_dict()

    def __getstate__(self) -> dict:
        return self.to_dict()

    def __setstate__(self, state: dict) -> None:
        other = TracedMaskSpace.from_dict(state)
        self.__dict__.update(other.__dict__)

    def slot_masks(self, bits: Sequence[int]) -> dict[str, list[int]]:
        """Per-group 0/1 lists (each group is its own slot)."""
        return self.split(bits)

    def widths_of(self, bits: Sequence[int]):
        raise TypeError("a traced mask space has no ResNet widths; use kept() or size()")

    def matches(self, generator: Any) -> bool:
        """True when ``generator`` has every conv of this space with the traced channels."""
        modules = dict(generator.named_modules())
        for c in self.convs:
            m = modules.get(c.name)
            if m is None or getattr(m, "out_channels", None) != c.out_channels or \
                    getattr(m, "in_channels", None) != len(c.in_groups):
                return False
        return True

    def size_of_counts(self, counts: Sequence[int], measure: SizeMeasure = "parameters",
                       image_size: int | tuple[int, int] = 256,
                       convention: MacConvention = "output") -> int:
        """Parameters, or MACs at ``image_size`` pixels (``convention`` as in
        :func:`~deap_gan_prune.nets.widths.count_macs`), of the network whose groups keep
        ``counts[g]`` bits (``counts[g] * block`` channels)."""
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
        return int(round(macs))

    def size(self, bits: Sequence[int], measure: SizeMeasure = "parameters",
             image_size: int | tuple[int, int] = 256,
             convention: MacConvention = "output") -> int:
        return self.size_of_counts(list(self.kept(bits).values()), measure, image_size,
                                   convention)

    def to_dict(self) -> dict:
        blocks = {g.name: g.block for g in self.groups if g.block > 1}
        return {"layout": "traced", "n_bits": self.n_bits,
                "groups": [[g.name, g.channels] for g in self.groups],
                **({"blocks": blocks} if blocks else {}),
                "min_keep": {g.name: g.min_keep for g in self.groups},
                "example_size": list(self.example_size), "input_nc": self.input_nc,
                "constant_parameters": self.constant_parameters, "fixed": list(self.fixed),
                "convs": [_term_dict(c) for c in self.convs],
                "norms": [asdict(n) for n in self.norms]}

    @classmethod
    def from_dict(cls, d: Mapping) -> TracedMaskSpace:
        return cls([(name, size) for name, size in d["groups"]],
                   [ConvTerm(**c) for c in d["convs"]], [NormTerm(**n) for n in d["norms"]],
                   d["example_size"], d["input_nc"],
                   constant_parameters=d["constant_parameters"], min_keep=dict(d["min_keep"]),
                   fixed=d.get("fixed", ()), blocks=d.get("blocks"))


def _term_dict(c: ConvTerm) -> dict:
    d = asdict(c)
    d["in_groups"], d["in_index"] = list(c.in_groups), list(c.in_index)
    if not c.depthwise:
        del d["depthwise"]  # files of plain convs read as before
    return d

"""Which channels of a generator can be pruned, grouped so that each group is removed together.

A *group* is a set of output channels that share one keep/drop bit per channel: the residual
stream, for example, is written by the second down conv and by every block's second conv, and
read by the first transposed conv, so one bit drops that channel everywhere. A mask space lays
the groups end to end into the flat 0/1 list that a DEAP individual holds.

Pure Python (no torch), so operators that use it run wherever DEAP runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

from .widths import GeneratorWidths, MacConvention, count_macs, count_parameters

Layout = Literal["independent", "tied"]
SizeMeasure = Literal["parameters", "macs"]


@dataclass(frozen=True)
class ChannelGroup:
    """Channels pruned together: ``size`` bits at ``offset`` in the individual, controlling the
    width slots ``slots`` (see :class:`GeneratorWidths`), never fewer than ``min_keep`` kept."""

    name: str
    offset: int
    size: int
    slots: tuple[str, ...]
    min_keep: int = 1

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
        self.widths, self.layout = widths, layout
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
        self.__init__(state["widths"], state["layout"], state["min_keep"])

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

    def size_ratio(self, bits: Sequence[int], measure: SizeMeasure = "parameters",
                   image_size: int = 256, convention: MacConvention = "output") -> float:
        """``size(bits) / size(full())``: 1.0 for the unpruned generator."""
        return (self.size(bits, measure, image_size, convention)
                / self.size(self.full(), measure, image_size, convention))

    def to_dict(self) -> dict:
        return {"widths": self.widths.to_dict(), "layout": self.layout,
                "min_keep": {g.name: g.min_keep for g in self.groups}, "n_bits": self.n_bits}

    @classmethod
    def from_dict(cls, d: Mapping) -> "MaskSpace":
        return cls(GeneratorWidths.from_dict(d["widths"]), d["layout"], dict(d["min_keep"]))


def _unchecked_widths(*args) -> GeneratorWidths:
    """GeneratorWidths without the >= 1 check (sizes of invalid masks still count)."""
    w = object.__new__(GeneratorWidths)
    names = ("first", "down1", "stream", "inner", "up1", "up2", "input_nc", "output_nc")
    for name, value in zip(names, args):
        object.__setattr__(w, name, value)
    return w

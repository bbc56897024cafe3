"""Which channels of a generator can be pruned, grouped so that each group is removed together.

A *group* is a set of output channels that share one keep/drop bit per channel: the residual
stream, for example, is written by the second down conv and by every block's second conv, and
read by the first transposed conv, so one bit drops that channel everywhere. A mask space lays
the groups end to end into the flat 0/1 list that a DEAP individual holds.

Pure Python (no torch), so operators that use it run wherever DEAP runs; the groups of a
network are traced on the torch side (:func:`~deap_gan_prune.nets.groups.space_of`).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, cast

from .terms import ConvTerm, LayerTerm, NormTerm, SpaceTerms, term_dict
from .widths import GeneratorWidths, MacConvention

#: "independent": every traced group; "tied": each residual stream merged with its blocks'
#: inner widths (:meth:`MaskSpace.tied`, the released code's layout for the ResNet).
Layout = Literal["independent", "tied"]
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
    """Channels pruned together: ``size`` bits at ``offset`` in the individual, never fewer
    than ``min_keep`` kept. ``members``: the traced groups it stands for (itself, or those
    merged into it by :meth:`MaskSpace.merged`). ``block``: channels per bit (1, or a
    GroupNorm's channels per norm-group: each bit keeps or removes ``block`` consecutive
    channels)."""

    name: str
    offset: int
    size: int
    members: tuple[str, ...]
    min_keep: int = 1
    block: int = 1

    @property
    def channels(self) -> int:
        """Channels of the group (``size * block``)."""
        return self.size * self.block

    @property
    def stop(self) -> int:
        return self.offset + self.size


def allowed_counts(group: ChannelGroup, round_to: int = 1) -> list[int]:
    """The kept-bit counts ``group`` may have when kept channels come in multiples of
    ``round_to`` (Torch-Pruning's ``round_to``: 4, 8 or 16 for vector units), ascending:
    every count of at least ``max(min_keep, 1)`` bits whose channels are a multiple, and the
    whole group (``round_to`` 1: every count from the minimum up)."""
    if not isinstance(round_to, int) or round_to < 1:
        raise ValueError(f"round_to must be a whole number >= 1, got {round_to!r}")
    need = max(group.min_keep, 1)
    step = round_to // math.gcd(round_to, group.block)
    counts = [k for k in range(step, group.size, step) if k >= need]
    return [*counts, group.size]


def round_count(allowed: Sequence[int], count: float,
                direction: Literal["nearest", "down"] = "nearest") -> int:
    """The count of ``allowed`` (a group's :func:`allowed_counts`, ascending) nearest to
    ``count`` (ties down), or the largest at most ``count`` (``direction="down"``; the
    smallest allowed when none is)."""
    below = [k for k in allowed if k <= count + 1e-9]
    if direction == "down" or not below:
        return below[-1] if below else allowed[0]
    above = [k for k in allowed if k > count + 1e-9]
    if above and above[0] - count < count - below[-1]:
        return above[0]
    return below[-1]


class MaskSpace:
    """The prunable channel groups of a generator, laid end to end into the flat 0/1 list
    that a DEAP individual holds; sizes are closed forms of the kept counts (below).

    One representation for every generator, as Torch-Pruning's groups: the groups with the
    convs and norms they touch (:class:`SpaceTerms`), traced from the network's graph
    (:func:`~deap_gan_prune.nets.groups.space_of`), in the order of the first conv writing
    each (for the upstream ResNet: first, down1, stream, each block's inner width, up1, up2;
    2,944 bits for ngf 64 / 9 blocks). :meth:`tied` merges each residual stream with its
    blocks' inner widths (the released code's 640-bit ResNet layout). The convs whose output
    reaches the network's output are never pruned. ``min_keep``: the least number of bits
    kept per group (an int for all groups or a mapping by group name).

    Sizes: parameters = constant + Σ_conv (k·in·out + bias·out) + Σ_norm 2·C (affine)
    + Σ_layer p·C (your own layers, ``p`` parameters per channel), where
    ``in``, ``out`` and ``C`` are fixed or a group's count (``in`` a sum over the groups a conv
    reads); MACs = Σ_conv k·in·out·positions with the positions counted at ``example_size``
    and scaled by the pixel ratio (a depthwise conv counts k·out; a transposed conv at its
    output positions, or its input positions with ``convention="real"``).
    """

    def __init__(self, terms: SpaceTerms, min_keep: int | Mapping[str, int] = 1) -> None:
        if not isinstance(terms, SpaceTerms):
            raise ValueError(f"MaskSpace takes the SpaceTerms of a traced network, got "
                             f"{type(terms).__name__} (trace one with nets.groups.space_of)")
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
            members = tuple((terms.members or {}).get(name, (name,)))
            groups.append(ChannelGroup(name, offset, size, members, keep, block))
            offset += size
        self.groups: tuple[ChannelGroup, ...] = tuple(groups)
        self.n_bits = offset
        self._by_name = {g.name: g for g in self.groups}
        self._forms = [(c, c.in_form()) for c in self.convs]

    def __repr__(self) -> str:
        return f"MaskSpace({len(self.groups)} groups, {self.n_bits} bits)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaskSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.n_bits, tuple(g.name for g in self.groups)))

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

    def with_min_keep(self, min_keep: int | Mapping[str, int]) -> MaskSpace:
        """The same groups with other minimums (``min_keep`` as in the constructor)."""
        return MaskSpace(self.terms, min_keep)

    # -- merging groups ------------------------------------------------------------------
    def merged(self, names: Sequence[str]) -> MaskSpace:
        """The space with the groups ``names`` (equal channels and blocks) as one group: one
        bit keeps or drops channel ``j`` of every one of them. It takes the place and name of
        the first of them in bit order; its ``min_keep`` is the largest of theirs."""
        unknown = set(names) - set(self._by_name)
        if unknown or not names:
            raise ValueError(f"merged: unknown groups {sorted(unknown)}" if unknown
                             else "merged: no groups given")
        chosen = sorted({self._by_name[n] for n in names}, key=lambda g: g.offset)
        if len({(g.size, g.block) for g in chosen}) > 1:
            raise ValueError("merged groups need equal widths; got " + ", ".join(
                f"{g.name!r} {g.channels}" for g in chosen))
        index = {g.name: i for i, g in enumerate(self.groups)}
        head = chosen[0]
        into = {index[g.name]: index[head.name] for g in chosen}
        order = [i for i in range(len(self.groups)) if i not in into or into[i] == i]
        new = {old: order.index(into.get(old, old)) for old in range(len(self.groups))}
        new[-1] = -1
        t = self.terms
        members = {g.name: g.members for g in self.groups if g.members != (g.name,)}
        members[head.name] = tuple(m for g in chosen for m in g.members)
        min_keep = {g.name: g.min_keep for g in self.groups}
        min_keep[head.name] = max(g.min_keep for g in chosen)
        terms = replace(
            t, specs=tuple(t.specs[i] for i in order),
            convs=tuple(replace(c, out_group=new[c.out_group],
                                in_groups=tuple(new[g] for g in c.in_groups)) for c in t.convs),
            norms=tuple(replace(n, group=new[n.group]) for n in t.norms),
            layers=tuple(replace(n, group=new[n.group]) for n in t.layers),
            blocks={n: b for n, b in (t.blocks or {}).items() if n in min_keep and
                    all(n != g.name for g in chosen[1:])} or None,
            members=members)
        return MaskSpace(terms, {n: k for n, k in min_keep.items()
                                 if all(n != g.name for g in chosen[1:])})

    def residual_blocks(self) -> list[tuple[str, ...]]:
        """Each residual stream (a group written by several convs) with the groups of its
        blocks' inner widths (written only by convs reading only the stream, read only by
        convs writing it), stream first: what :meth:`tied` merges."""
        writers: dict[int, list[ConvTerm]] = {}
        readers: dict[int, list[ConvTerm]] = {}
        for c in self.convs:
            writers.setdefault(c.out_group, []).append(c)
            for g in set(c.in_groups) - {-1}:
                readers.setdefault(g, []).append(c)
        found = []
        for s, group in enumerate(self.groups):
            if len(writers.get(s, ())) < 2:
                continue
            inner = [g.name for i, g in enumerate(self.groups) if i != s and readers.get(i)
                     and all(set(c.in_groups) == {s} for c in writers.get(i, ()))
                     and all(c.out_group == s for c in readers[i])]
            if inner:
                found.append((group.name, *inner))
        return found

    def tied(self) -> MaskSpace:
        """The released code's layout: every residual stream and its blocks' inner widths
        one group (:meth:`residual_blocks`; their widths must be equal). ValueError for a
        network without residual blocks."""
        ties = self.residual_blocks()
        if not ties:
            raise ValueError("the tied layout needs residual blocks; this network has none "
                             "(use layout 'independent')")
        space = self
        for names in ties:
            widths = [space.group(n).channels for n in names]
            if len(set(widths)) > 1:
                raise ValueError(f"the tied layout needs every block's inner width equal to "
                                 f"the stream width ({widths[0]}); got {widths[1:]}")
            space = space.merged(names)
        return space

    def with_layout(self, layout: Layout) -> MaskSpace:
        """This space (``"independent"``) or :meth:`tied` (``"tied"``)."""
        if layout not in ("independent", "tied"):
            raise ValueError(f"unknown layout {layout!r}: use 'independent' or 'tied'")
        return self if layout == "independent" else self.tied()

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

    def member_masks(self, bits: Sequence[int]) -> dict[str, list[int]]:
        """Per traced group 0/1 lists: each group's mask under every member it stands for
        (:meth:`merged`), so a mask of a tied space reads in the independent one."""
        return {m: part for name, part in self.split(bits).items()
                for m in self._by_name[name].members}

    def from_member_masks(self, member_masks: Mapping[str, Sequence[int]]) -> list[int]:
        """The flat mask from per-member 0/1 lists (missing members kept whole; the members
        of one group must agree)."""
        owner = {m: g for g in self.groups for m in g.members}
        unknown = set(member_masks) - set(owner)
        if unknown:
            raise KeyError(f"unknown groups {sorted(unknown)}")
        parts: dict[str, list[int]] = {}
        for member, part in member_masks.items():
            g = owner[member]
            part = [int(b) for b in part]
            if len(part) != g.size:
                raise ValueError(f"mask for {member!r} has {len(part)} entries, the group has "
                                 f"{g.size}")
            if parts.setdefault(g.name, part) != part:
                raise ValueError(f"the members of group {g.name!r} ({', '.join(g.members)}) "
                                 "are merged: give them one mask")
        return self.join(parts)

    def kept(self, bits: Sequence[int]) -> dict[str, int]:
        """Bits kept per group."""
        return {name: sum(part) for name, part in self.split(bits).items()}

    def _resnet_convs(self) -> list[str] | None:
        """Names of the convs writing first, down1, stream, every block's inner width, up1,
        up2 and the image, when this is the space of an upstream ResNet (its module names);
        else None."""
        names = [c.name for c in self.convs]
        nb = (len(names) - 6) // 2
        for second in (5, 6):  # the block's second conv: conv_block.6 with dropout
            blocks = [f"model.{10 + b}.conv_block.{i}" for b in range(nb) for i in (1, second)]
            upstream = ["model.1", "model.4", "model.7", *blocks, f"model.{10 + nb}",
                        f"model.{13 + nb}", f"model.{17 + nb}"]
            if names == upstream:
                return [*upstream[:3], *blocks[::2], *upstream[-3:]]
        return None

    @property
    def widths(self) -> GeneratorWidths | None:
        """The upstream ResNet's widths (:meth:`widths_of` the full mask); None for a space
        of another network."""
        return None if self._resnet_convs() is None else self.widths_of(self.full())

    def widths_of(self, bits: Sequence[int]) -> GeneratorWidths:
        """Widths of the upstream ResNet that ``bits`` slims to (a group kept at 0 counts as
        0 channels, which no real network can have: such masks are invalid). TypeError for
        the space of another network."""
        names = self._resnet_convs()
        if names is None:
            raise TypeError("widths_of: not the space of an upstream ResnetGenerator; use "
                            "kept() or size()")
        self._check(bits)
        counts = [sum(bits[g.offset:g.stop]) * g.block for g in self.groups]
        out = {c.name: c.out_channels if c.out_group < 0 else counts[c.out_group]
               for c in self.convs}
        first, down1, stream, *inner, up1, up2, last = (out[n] for n in names)
        return _unchecked_widths(first, down1, stream, tuple(inner), up1, up2, self.input_nc,
                                 last)

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
        """Parameters, or MACs at ``image_size`` (H, W) pixels, of the network whose groups
        keep ``counts[g]`` bits (``counts[g] * block`` channels; group order). MACs count the
        convolutions only; ``convention="output"`` counts a transposed conv at its output
        positions (GAN Compression, CAT, OMGD), ``"real"`` at its input positions (the
        arithmetic really done, ``torch.utils.flop_counter``'s FLOPs / 2)."""
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

    def to_dict(self) -> dict:
        """The JSON form (``masks.json``'s "spaces" entries)."""
        t = self.terms
        blocks = {g.name: g.block for g in self.groups if g.block > 1}
        members = {g.name: list(g.members) for g in self.groups if g.members != (g.name,)}
        return {"n_bits": self.n_bits,
                "groups": [[g.name, g.channels] for g in self.groups],
                **({"blocks": blocks} if blocks else {}),
                **({"members": members} if members else {}),
                "min_keep": {g.name: g.min_keep for g in self.groups},
                "example_size": list(t.example_size), "input_nc": t.input_nc,
                "constant_parameters": t.constant_parameters, "fixed": list(t.fixed),
                "convs": [term_dict(c) for c in t.convs],
                "norms": [asdict(n) for n in t.norms],
                **({"layers": [asdict(n) for n in t.layers]} if t.layers else {})}

    @classmethod
    def from_dict(cls, d: Mapping) -> MaskSpace:
        """The space :meth:`to_dict` wrote; also a 0.1.0 file's upstream ResNet (its widths
        and layout), whose groups were named after the widths."""
        if "widths" in d:
            space = cls(_resnet_terms_0_1(d)).with_layout(d["layout"])
            return space.with_min_keep(dict(zip([g.name for g in space.groups],
                                                d["min_keep"].values())))
        terms = SpaceTerms(tuple((name, int(size)) for name, size in d["groups"]),
                           tuple(ConvTerm(**c) for c in d["convs"]),
                           tuple(NormTerm(**n) for n in d["norms"]),
                           (int(d["example_size"][0]), int(d["example_size"][1])),
                           int(d["input_nc"]), int(d["constant_parameters"]),
                           tuple(d.get("fixed", ())), d.get("blocks"),
                           {k: tuple(v) for k, v in d.get("members", {}).items()} or None,
                           tuple(LayerTerm(**n) for n in d.get("layers", ())))
        return cls(terms, dict(d["min_keep"]))


def _resnet_terms_0_1(d: Mapping) -> SpaceTerms:
    """The independent terms of a 0.1.0 file's upstream ResNet, from its ``widths`` (what
    tracing it gives, positions at 4x4 pixels)."""
    w = GeneratorWidths.from_dict(dict(d["widths"]))
    nb, second = w.n_blocks, 6 if d.get("dropout") else 5
    blocks = [f"model.{10 + b}.conv_block." for b in range(nb)]
    specs = [("model.1", w.first), ("model.4", w.down1), ("model.7", w.stream),
             *((f"{k}1", m) for k, m in zip(blocks, w.inner)),
             (f"model.{10 + nb}", w.up1), (f"model.{13 + nb}", w.up2)]
    up1, up2 = 3 + nb, 4 + nb  # rows: name, group read, group written, kernel, positions
    rows = [("model.1", -1, 0, 49, 100, 16), ("model.4", 0, 1, 9, 16, 4),
            ("model.7", 1, 2, 9, 4, 1)]
    rows += [r for b, k in enumerate(blocks)
             for r in ((f"{k}1", 2, 3 + b, 9, 9, 1), (f"{k}{second}", 3 + b, 2, 9, 9, 1))]
    rows += [(specs[up1][0], 2, up1, 9, 1, 4), (specs[up2][0], up1, up2, 9, 4, 16),
             (f"model.{17 + nb}", up2, -1, 49, 100, 16)]
    width = [c for _, c in specs]
    convs = tuple(ConvTerm(name, name in (specs[up1][0], specs[up2][0]), k, True, out,
                           w.output_nc if out < 0 else width[out], (reads,) * n,
                           tuple(range(n)), i, o)
                  for name, reads, out, k, i, o in rows
                  for n in [w.input_nc if reads < 0 else width[reads]])
    def norm(conv: str) -> str:  # the instance norm right after a conv
        head, _, i = conv.rpartition(".")
        return f"{head}.{int(i) + 1}"
    norms = tuple(NormTerm(norm(name), out, width[out], False, False)
                  for name, _, out, *_ in rows[:-1])
    return SpaceTerms(tuple(specs), convs, norms, (4, 4), w.input_nc)


def _unchecked_widths(*args: Any) -> GeneratorWidths:
    """GeneratorWidths without the >= 1 check (sizes of invalid masks still count)."""
    w = object.__new__(GeneratorWidths)
    names = ("first", "down1", "stream", "inner", "up1", "up2", "input_nc", "output_nc")
    for name, value in zip(names, args):
        object.__setattr__(w, name, value)
    return w

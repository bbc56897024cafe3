"""What a mask space knows of its network: every conv and norm with the channel groups it
writes and reads (pure Python, JSON-able; module names and channel maps, not modules)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass


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


@dataclass(frozen=True)
class LayerTerm:
    """One layer of yours that declares ``channel_dims`` (:mod:`.layers`): ``name``, the
    ``group`` its channels belong to (-1 when never pruned), ``channels`` and the parameters
    it holds per channel (``per_channel``; e.g. 2 * n_styles for a conditional norm)."""

    name: str
    group: int
    channels: int
    per_channel: int

    def full_parameters(self) -> int:
        return self.per_channel * self.channels


@dataclass(frozen=True)
class SpaceTerms:
    """What a mask space knows of its network: the groups ``specs`` (``(name, channels)``, in
    bit order), every conv and norm (:class:`ConvTerm`, :class:`NormTerm`: module names and
    channel maps), the size ``example_size`` (H, W) their positions were counted at, the
    image channels ``input_nc``, the parameters no group changes (``constant_parameters``),
    the groups kept whole (``fixed``, not in ``specs``) and the channels per bit of block
    groups (``blocks``, by name; 1 when absent); ``layers``: your own layers
    (:class:`LayerTerm`). ``members``: the groups merged into a group
    (:meth:`~deap_gan_prune.core.maskspace.MaskSpace.merged`), by name; a group is its own
    member when absent."""

    specs: tuple[tuple[str, int], ...]
    convs: tuple[ConvTerm, ...]
    norms: tuple[NormTerm, ...]
    example_size: tuple[int, int]
    input_nc: int
    constant_parameters: int = 0
    fixed: tuple[str, ...] = ()
    blocks: Mapping[str, int] | None = None
    members: Mapping[str, tuple[str, ...]] | None = None
    layers: tuple[LayerTerm, ...] = ()


def term_dict(c: ConvTerm) -> dict:
    """A conv's JSON form (lists for its channel maps; plain convs omit ``depthwise``)."""
    d = asdict(c)
    d["in_groups"], d["in_index"] = list(c.in_groups), list(c.in_index)
    if not c.depthwise:
        del d["depthwise"]  # files of plain convs read as before
    return d

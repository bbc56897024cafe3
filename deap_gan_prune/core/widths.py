"""Per-layer widths of a CycleGAN ResNet generator (the upstream network's view of a mask:
:meth:`~deap_gan_prune.core.maskspace.MaskSpace.widths_of`). Pure Python (no torch); sizes are
the mask space's (:meth:`~deap_gan_prune.core.maskspace.MaskSpace.size`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

#: How a transposed conv's MACs are counted: at its "output" positions or its "real" (input)
#: positions.
MacConvention = Literal["output", "real"]

#: Names of the width slots, in the order they appear in the network.
SLOTS_HEAD = ("first", "down1", "stream")
SLOTS_TAIL = ("up1", "up2")


@dataclass(frozen=True)
class GeneratorWidths:
    """Output channels of every prunable convolution of a ResNet generator.

    ``first``: the 7x7 input conv; ``down1``: the first stride-2 conv; ``stream``: the
    residual stream (second down conv, every block's second conv, input of ``up1``);
    ``inner``: each residual block's inner width (one entry per block); ``up1``, ``up2``: the
    two transposed convs. ``input_nc``/``output_nc`` are image channels (never pruned).
    """

    first: int
    down1: int
    stream: int
    inner: tuple[int, ...]
    up1: int
    up2: int
    input_nc: int = 3
    output_nc: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "inner", tuple(int(m) for m in self.inner))
        for name in self.slot_names():
            if self.slot(name) < 1:
                raise ValueError(f"width {name!r} must be >= 1, got {self.slot(name)}")

    @classmethod
    def default(cls, ngf: int = 64, n_blocks: int = 9, input_nc: int = 3,
                output_nc: int = 3) -> GeneratorWidths:
        """The upstream widths: ngf, 2ngf, 4ngf (stream and every inner), 2ngf, ngf."""
        return cls(ngf, 2 * ngf, 4 * ngf, (4 * ngf,) * n_blocks, 2 * ngf, ngf,
                   input_nc, output_nc)

    @property
    def n_blocks(self) -> int:
        return len(self.inner)

    def slot_names(self) -> list[str]:
        """Names of every width slot: first, down1, stream, inner0..inner{n-1}, up1, up2."""
        return [*SLOTS_HEAD, *(f"inner{b}" for b in range(self.n_blocks)), *SLOTS_TAIL]

    def slot(self, name: str) -> int:
        """Width of one slot by name (``inner3`` is block 3's inner width)."""
        if name.startswith("inner"):
            return self.inner[int(name[5:])]
        return getattr(self, name)

    def with_slots(self, values: dict[str, int]) -> GeneratorWidths:
        """A copy with some slots replaced, e.g. ``{"stream": 64, "inner2": 8}``."""
        inner = list(self.inner)
        plain = {}
        for name, value in values.items():
            if name.startswith("inner"):
                inner[int(name[5:])] = int(value)
            else:
                plain[name] = int(value)
        return replace(self, inner=tuple(inner), **plain)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["inner"] = list(self.inner)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GeneratorWidths:
        return cls(**{**d, "inner": tuple(d["inner"])})

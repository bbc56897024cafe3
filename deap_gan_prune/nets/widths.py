"""Per-layer widths of a CycleGAN ResNet generator, and their closed-form size.

Pure Python (no torch): the operators and the size-budget repair use it to price a mask
without building a network.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

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


def count_parameters(w: GeneratorWidths) -> int:
    """Parameters (weights and biases) of a generator of these widths."""
    c1, c2, c3, c4, c5 = w.first, w.down1, w.stream, w.up1, w.up2
    n = (49 * w.input_nc + 1) * c1 + (9 * c1 + 1) * c2 + (9 * c2 + 1) * c3
    n += sum((9 * c3 + 1) * m + (9 * m + 1) * c3 for m in w.inner)
    n += (9 * c3 + 1) * c4 + (9 * c4 + 1) * c5 + (49 * c5 + 1) * w.output_nc
    return n


def count_macs(w: GeneratorWidths, size: int | tuple[int, int] = 256,
               convention: MacConvention = "output") -> int:
    """Multiply-accumulates of the convolutions for one image of ``size`` (H, W) pixels.

    ``convention="output"`` counts a transposed conv at its output positions (GAN Compression,
    CAT, OMGD); ``"real"`` counts the arithmetic really done (input positions), as
    ``torch.utils.flop_counter`` does (its FLOPs / 2). Biases and norms are not counted.
    H and W must be divisible by 4.
    """
    h, wd = (size, size) if isinstance(size, int) else size
    if h % 4 or wd % 4:
        raise ValueError(f"image size {h}x{wd} must be divisible by 4")
    full, half, quarter = h * wd, h * wd // 4, h * wd // 16
    c1, c2, c3, c4, c5 = w.first, w.down1, w.stream, w.up1, w.up2
    macs = 49 * w.input_nc * c1 * full + 9 * c1 * c2 * half + 9 * c2 * c3 * quarter
    macs += sum(2 * 9 * c3 * m * quarter for m in w.inner)
    up1_positions, up2_positions = (half, full) if convention == "output" else (quarter, half)
    if convention not in ("output", "real"):
        raise ValueError(f"unknown MAC convention {convention!r}: use 'output' or 'real'")
    macs += 9 * c3 * c4 * up1_positions + 9 * c4 * c5 * up2_positions
    macs += 49 * c5 * w.output_nc * full
    return macs


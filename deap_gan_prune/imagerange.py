"""The value range a generator takes its images in (and gives them back in).

The library reads pixels as ``[0, 1]`` floats and hands a generator its images in the range
the generator was trained on: ``[-1, 1]`` (upstream CycleGAN; the default), ``[0, 1]``
(many torchvision-style networks), any ``[low, high]``, or per-channel ``(x - mean) / std``
as ``torchvision.transforms.Normalize`` does. The generator's outputs are read back in the
same range. One :class:`InputRange` describes it; it is written as text:

- ``-1,1`` (the default), ``0,1``, or any ``LOW,HIGH`` with LOW < HIGH;
- ``mean=M[,M,M];std=S[,S,S]``: one value for every channel or one per channel, e.g.
  ``mean=0.485,0.456,0.406;std=0.229,0.224,0.225``.

Files that describe a generator (masks JSON, slim sidecar JSON, ONNX metadata) record it
under the key :data:`RANGE_KEY` as that text; a file without the key means ``-1,1``.

The metrics, plots and image writers of the library compute on images in ``[-1, 1]``:
:meth:`InputRange.to_signed` maps a generator's images there (the identity, the very same
tensor, for the default range, so the default gives the numbers it always gave).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

#: the key under which files record a generator's input range
RANGE_KEY = "input_range"
#: the option that names it on the command line
OPTION = "--input-range"
DEFAULT_TEXT = "-1,1"


def _number(text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{OPTION} {whole}: {text.strip()!r} is not a number (use -1,1, "
                         "0,1, LOW,HIGH or mean=M,...;std=S,...)") from None
    if not math.isfinite(value):
        raise ValueError(f"{OPTION} {whole}: {text.strip()!r} is not a finite number")
    return value


def _shown(value: float) -> str:
    return f"{value + 0.0:g}"  # + 0.0: no "-0"


@dataclass(frozen=True)
class InputRange:
    """Images in the generator's range are ``(pixels01 - mean) / std``, channel by channel
    (one value for all channels, or one per channel). ``-1,1`` is mean 0.5, std 0.5;
    ``0,1`` is mean 0, std 1. Build one with :meth:`parse`."""

    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)

    def __post_init__(self) -> None:
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        if not mean or (len(mean) != len(std) and 1 not in (len(mean), len(std))):
            raise ValueError(f"{OPTION}: mean and std need one value or one per channel, "
                             f"got {len(mean)} and {len(std)}")
        if not all(math.isfinite(v) for v in mean + std) or not all(s > 0 for s in std):
            raise ValueError(f"{OPTION}: mean must be finite and std finite and above 0")

    # -- text ------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str | None) -> InputRange:
        """``-1,1``, ``0,1``, ``LOW,HIGH`` or ``mean=...;std=...`` (None: the default);
        a one-line ValueError naming ``--input-range`` otherwise."""
        if text is None:
            return DEFAULT_RANGE
        whole = str(text).strip()
        spaced = whole.replace(" ", "")
        if spaced.lower().startswith(("mean=", "std=")):
            parts = dict(p.split("=", 1) for p in spaced.lower().split(";") if "=" in p)
            if set(parts) != {"mean", "std"} or spaced.count(";") != 1:
                raise ValueError(f"{OPTION} {whole}: write mean=M[,M,M];std=S[,S,S]")
            mean = tuple(_number(v, whole) for v in parts["mean"].split(","))
            std = tuple(_number(v, whole) for v in parts["std"].split(","))
            if any(s <= 0 for s in std):
                raise ValueError(f"{OPTION} {whole}: std must be above 0")
            if len(mean) != len(std) and 1 not in (len(mean), len(std)):
                raise ValueError(f"{OPTION} {whole}: mean and std need one value or as many "
                                 "values each")
            return cls(mean, std)
        bounds = spaced.split(",")
        if len(bounds) != 2:
            raise ValueError(f"{OPTION} {whole}: expected LOW,HIGH such as -1,1 or 0,1, or "
                             "mean=M,...;std=S,...")
        low, high = (_number(b, whole) for b in bounds)
        if not low < high:
            raise ValueError(f"{OPTION} {whole}: LOW must be below HIGH")
        return cls.from_bounds(low, high)

    @classmethod
    def from_bounds(cls, low: float, high: float) -> InputRange:
        """Pixels ``[0, 1]`` mapped linearly onto ``[low, high]``."""
        if low == -1.0 and high == 1.0:
            return DEFAULT_RANGE
        return cls((-low / (high - low),), (1.0 / (high - low),))

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(low, high)`` when one mean and std serve every channel, else None."""
        if len(self.mean) != 1 or len(self.std) != 1:
            return None
        return -self.mean[0] / self.std[0], (1.0 - self.mean[0]) / self.std[0]

    @property
    def text(self) -> str:
        """The text :meth:`parse` reads back to this range (``-1,1``, ``0,1``, ...)."""
        bounds = self.bounds
        if bounds is not None:
            short = f"{_shown(bounds[0])},{_shown(bounds[1])}"
            if InputRange.parse(short) == self:
                return short
        return (f"mean={','.join(repr(v + 0.0) for v in self.mean)};"
                f"std={','.join(repr(v) for v in self.std)}")

    def __str__(self) -> str:
        return self.text

    @property
    def is_default(self) -> bool:
        """True for ``-1,1``, the range the library computes in."""
        return self == DEFAULT_RANGE

    # -- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """``{"input_range": text}``, the entry files record."""
        return {RANGE_KEY: self.text}

    @classmethod
    def from_dict(cls, record: Mapping | None) -> InputRange:
        """The range a file's record holds under ``input_range`` (text, or a mapping with
        ``mean`` and ``std``); a record without it (or None) means ``-1,1``."""
        value = None if record is None else record.get(RANGE_KEY)
        if value is None:
            return DEFAULT_RANGE
        if isinstance(value, Mapping):
            try:
                return cls(tuple(value["mean"]), tuple(value["std"]))
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{RANGE_KEY}: needs mean and std (missing {exc})") from None
        if not isinstance(value, str):
            raise ValueError(f"{RANGE_KEY}: expected text such as \"0,1\", got {value!r}")
        return cls.parse(value)

    # -- tensors ---------------------------------------------------------------------------
    def _view(self, values: tuple[float, ...], x: torch.Tensor) -> torch.Tensor | float:
        if len(values) == 1:
            return values[0]
        channels = x.shape[-3] if x.dim() >= 3 else None
        if channels != len(values):
            raise ValueError(f"{OPTION} {self.text}: {len(values)} channel values for images "
                             f"of {channels} channels")
        return torch.tensor(values, dtype=x.dtype, device=x.device).view(-1, 1, 1)

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels in ``[0, 1]`` (``[..., C, H, W]``) → the generator's range."""
        if self.is_default:
            return pixels * 2.0 - 1.0
        return (pixels - self._view(self.mean, pixels)) / self._view(self.std, pixels)

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in the generator's range → pixels in ``[0, 1]`` (not clamped)."""
        if self.is_default:
            return (images + 1.0) / 2.0
        return images * self._view(self.std, images) + self._view(self.mean, images)

    def from_uint8(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (``[..., C, H, W]``, any integer or float type holding 0..255) → float32
        in the generator's range; for the default range exactly ``x / 127.5 - 1``."""
        x = pixels.float()
        if self.is_default:
            return x.div(127.5).sub(1.0)
        return self.encode(x.div(255.0))

    def to_signed(self, images: torch.Tensor) -> torch.Tensor:
        """Images in the generator's range → ``[-1, 1]``, the range the library's metrics,
        plots and writers take; the default range gives ``images`` itself."""
        if self.is_default:
            return images
        return self.decode(images) * 2.0 - 1.0

    def from_signed(self, images: torch.Tensor) -> torch.Tensor:
        """Images in ``[-1, 1]`` → the generator's range; the default gives ``images``."""
        if self.is_default:
            return images
        return self.encode((images + 1.0) / 2.0)


DEFAULT_RANGE = InputRange()
UNIT_RANGE = InputRange((0.0,), (1.0,))


def resolve(explicit: InputRange | None,
            recorded: Iterable[tuple[str, InputRange]]) -> InputRange:
    """The range to use: ``explicit`` (the user's), else the one the ``recorded`` files
    (``(name, range)`` pairs) agree on, else ``-1,1``. An explicit range another file
    recorded differently, or two files that disagree, give a one-line ValueError naming
    both."""
    recorded = list(recorded)
    if explicit is not None:
        for name, value in recorded:
            if value != explicit:
                raise ValueError(f"{OPTION} {explicit.text} conflicts with {RANGE_KEY} "
                                 f"{value.text} recorded in {name}")
        return explicit
    if not recorded:
        return DEFAULT_RANGE
    first_name, first = recorded[0]
    for name, value in recorded[1:]:
        if value != first:
            raise ValueError(f"{first_name} records {RANGE_KEY} {first.text} but {name} "
                             f"records {value.text}; give {OPTION}")
    return first

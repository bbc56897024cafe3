"""A latency model of ResNet generators: per-layer latency measured once, predicted per mask.

The generator is a chain of layer *units* (a convolution with its padding, instance norm and
activation): ``first`` (7x7, image → first), ``down1`` and ``down2`` (3x3 stride 2),
``block`` (3x3 at a quarter of the resolution; each residual block runs it twice: stream →
inner and inner → stream), ``up1`` and ``up2`` (transposed 3x3 stride 2) and ``last`` (7x7 →
image). Each unit's latency is measured on the target device at a grid of input and output
widths (1 to the full width) into a :class:`LatencyTable`; the latency of a slim generator is
predicted as the sum of its units' latencies, interpolated bilinearly between measured
widths, plus a constant overhead (the full network's measured latency minus its predicted
sum: adds, the final tanh, dispatch).

Tables are JSON, keyed by device, threads, image size, batch, torch version and the full
widths (:func:`latency_key`); :func:`latency_table` reuses a saved table or measures one.
Measured values are made monotone in both widths (running maximum), so predictions never
fall when a channel is added.
"""
from __future__ import annotations

import bisect
import json
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..files import atomic_write_json
from .frozen import borrowed
from .maskspace import MaskSpace
from .widths import GeneratorWidths

FORMAT = "deap_gan_prune/latency-table"
VERSION = 1
#: Shares of a full width at which units are measured (1 and the full width always are).
GRID_SHARES = (1 / 16, 1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1.0)
UNITS = ("first", "down1", "down2", "block", "up1", "up2", "last")


def _norm_relu(channels: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.InstanceNorm2d(channels, affine=False)]
    return layers + [nn.ReLU(True)] if relu else layers


def unit_module(unit: str, c_in: int, c_out: int) -> nn.Module:
    """The layers of one unit at widths ``c_in`` → ``c_out`` (random weights), as in
    :class:`ResnetGenerator`."""
    if unit in ("first", "last"):
        conv = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, c_out, 7)]
        return nn.Sequential(*conv, *(_norm_relu(c_out) if unit == "first" else [nn.Tanh()]))
    if unit in ("down1", "down2"):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), *_norm_relu(c_out))
    if unit == "block":
        return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3), *_norm_relu(c_out))
    if unit in ("up1", "up2"):
        return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1,
                                                output_padding=1), *_norm_relu(c_out))
    raise ValueError(f"unknown layer unit {unit!r}: use one of {UNITS}")


def unit_input_size(unit: str, image_size: int) -> int:
    """Spatial size (pixels per side) of a unit's input for images of ``image_size``."""
    return {"first": image_size, "down1": image_size, "down2": image_size // 2,
            "block": image_size // 4, "up1": image_size // 4, "up2": image_size // 2,
            "last": image_size}[unit]


def generator_units(w: GeneratorWidths) -> list[tuple[str, int, int]]:
    """``(unit, c_in, c_out)`` of every unit a generator of widths ``w`` runs, in order."""
    units = [("first", w.input_nc, w.first), ("down1", w.first, w.down1),
             ("down2", w.down1, w.stream)]
    for m in w.inner:
        units += [("block", w.stream, m), ("block", m, w.stream)]
    return units + [("up1", w.stream, w.up1), ("up2", w.up1, w.up2),
                    ("last", w.up2, w.output_nc)]


def unit_ranges(w: GeneratorWidths) -> dict[str, tuple[int, int]]:
    """The largest input and output width of each unit for a full generator of widths ``w``
    (the block unit covers both of a block's convs)."""
    block = max(w.stream, *w.inner)
    return {"first": (w.input_nc, w.first), "down1": (w.first, w.down1),
            "down2": (w.down1, w.stream), "block": (block, block), "up1": (w.stream, w.up1),
            "up2": (w.up1, w.up2), "last": (w.up2, w.output_nc)}


def grid_widths(full: int, shares: Sequence[float] = GRID_SHARES) -> list[int]:
    """Widths measured for a slot of ``full`` channels: 1, ``full`` and the rounded shares."""
    return sorted({1, full, *(max(1, round(s * full)) for s in shares if s * full >= 1)})


def _interpolate(grid: Sequence[int], x: float) -> tuple[int, int, float]:
    """Indices ``(i, j)`` and weight ``t`` of ``x`` between ``grid[i]`` and ``grid[j]``
    (clamped to the grid's ends)."""
    if x <= grid[0] or len(grid) == 1:
        return 0, 0, 0.0
    if x >= grid[-1]:
        return len(grid) - 1, len(grid) - 1, 0.0
    j = bisect.bisect_right(grid, x)
    i = j - 1
    return i, j, (x - grid[i]) / (grid[j] - grid[i])


@dataclass
class UnitTable:
    """Latency (ms) of one unit measured at input widths ``c_in`` × output widths ``c_out``;
    ``ms[i][j]`` is at ``c_in[i]``, ``c_out[j]``."""

    c_in: list[int]
    c_out: list[int]
    ms: list[list[float]]

    def monotone(self) -> UnitTable:
        """A copy made non-decreasing in both widths (running maximum along each axis)."""
        ms = [list(row) for row in self.ms]
        for i in range(1, len(ms)):
            ms[i] = [max(a, b) for a, b in zip(ms[i], ms[i - 1])]
        for row in ms:
            for j in range(1, len(row)):
                row[j] = max(row[j], row[j - 1])
        return UnitTable(list(self.c_in), list(self.c_out), ms)

    def predict(self, c_in: float, c_out: float) -> float:
        """Latency (ms) at these widths, bilinear between measured widths."""
        i0, i1, s = _interpolate(self.c_in, c_in)
        j0, j1, t = _interpolate(self.c_out, c_out)
        m = self.ms
        return ((1 - s) * ((1 - t) * m[i0][j0] + t * m[i0][j1])
                + s * ((1 - t) * m[i1][j0] + t * m[i1][j1]))


def device_name(device: str | torch.device) -> str:
    """``"cpu"``, or ``"cuda:<GPU name>"`` (tables are per kind of device, not per index)."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return device.type


def latency_key(widths: GeneratorWidths, image_size: int, device: str | torch.device = "cpu",
                threads: int | None = None, batch: int = 1) -> dict:
    """What a table is valid for: device, CPU threads, image size, batch, torch version and
    the full widths. ``threads`` None: torch's current thread count."""
    return {"device": device_name(device),
            "threads": int(threads or torch.get_num_threads()), "image_size": int(image_size),
            "batch": int(batch), "torch": torch.__version__, "widths": widths.to_dict()}


@dataclass
class LatencyTable:
    """Measured unit latencies for one :func:`latency_key`; predicts a generator's latency
    (ms per batch) from its widths."""

    key: dict
    units: dict[str, UnitTable]
    overhead_ms: float = 0.0
    full_ms: float | None = None
    settings: dict = field(default_factory=dict)

    @property
    def widths(self) -> GeneratorWidths:
        return GeneratorWidths.from_dict(self.key["widths"])

    def layer_ms(self, widths: GeneratorWidths) -> list[float]:
        """Predicted latency (ms) of every unit of a generator of ``widths``, in order."""
        return [self.units[u].predict(a, b) for u, a, b in generator_units(widths)]

    def predict(self, widths: GeneratorWidths) -> float:
        """Predicted latency (ms) of a generator of these widths (at most the full ones)."""
        return max(sum(self.layer_ms(widths)) + self.overhead_ms, 1e-6)

    def predict_mask(self, space: MaskSpace, bits: Sequence[int]) -> float:
        """Predicted latency (ms) of the generator ``bits`` slims to."""
        return self.predict(space.widths_of(bits))

    def ratio(self, widths: GeneratorWidths) -> float:
        """Predicted latency relative to the full generator's."""
        return self.predict(widths) / self.predict(self.widths)

    def to_dict(self) -> dict:
        return {"key": self.key, "overhead_ms": self.overhead_ms, "full_ms": self.full_ms,
                "settings": self.settings,
                "units": {u: {"c_in": t.c_in, "c_out": t.c_out, "ms": t.ms}
                          for u, t in self.units.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> LatencyTable:
        try:
            units = {u: UnitTable([int(v) for v in t["c_in"]], [int(v) for v in t["c_out"]],
                                  [[float(v) for v in row] for row in t["ms"]])
                     for u, t in d["units"].items()}
            missing = set(UNITS) - set(units)
            if missing:
                raise ValueError(f"units {sorted(missing)} missing")
            for u, t in units.items():
                if len(t.ms) != len(t.c_in) or any(len(r) != len(t.c_out) for r in t.ms):
                    raise ValueError(f"unit {u}: ms is not {len(t.c_in)}x{len(t.c_out)}")
            return cls(dict(d["key"]), units, float(d["overhead_ms"]),
                       None if d.get("full_ms") is None else float(d["full_ms"]),
                       dict(d.get("settings", {})))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a latency table (missing or bad {exc})") from None


def time_ms(run, repeats: int, warmup: int, device: torch.device) -> float:
    """Median wall-clock milliseconds of ``run()`` over ``repeats`` calls after ``warmup``."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def module_ms(module: nn.Module, x: torch.Tensor, repeats: int, warmup: int) -> float:
    """Median milliseconds of ``module(x)`` under ``torch.inference_mode``, the module on
    ``x``'s device in eval mode for the timing (given back on its device, in its mode)."""
    def run():
        with torch.inference_mode():
            module(x)
    with borrowed(module, device=x.device, training=False):
        return time_ms(run, repeats, warmup, x.device)


def measure_latency_table(widths: GeneratorWidths, image_size: int = 256,
                          device: str | torch.device = "cpu", threads: int | None = None, *,
                          batch: int = 1, repeats: int = 7, warmup: int = 2,
                          shares: Sequence[float] = GRID_SHARES, seed: int = 0
                          ) -> LatencyTable:
    """Measure every unit of a generator of full ``widths`` at ``grid_widths`` of its input
    and output widths (image channels stay fixed; median of ``repeats`` runs after
    ``warmup``, batch ``batch``, images of ``image_size`` pixels) on ``device`` with
    ``threads`` CPU threads (default: torch's current count; restored afterwards), then the
    full network for the overhead."""
    if image_size <= 0 or image_size % 4:
        raise ValueError(f"image size {image_size} must be a positive multiple of 4")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    device = torch.device(device)
    key = latency_key(widths, image_size, device, threads, batch)
    previous = torch.get_num_threads()
    torch.set_num_threads(key["threads"])
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            units = {}
            for unit, (full_in, full_out) in unit_ranges(widths).items():
                size = unit_input_size(unit, image_size)
                c_in = [full_in] if unit == "first" else grid_widths(full_in, shares)
                c_out = [full_out] if unit == "last" else grid_widths(full_out, shares)
                ms = [[module_ms(unit_module(unit, a, b),
                                 torch.rand(batch, a, size, size, device=device), repeats,
                                 warmup) for b in c_out] for a in c_in]
                units[unit] = UnitTable(c_in, c_out, ms).monotone()
            from .models import ResnetGenerator
            net = ResnetGenerator(widths=widths)
            x = torch.rand(batch, widths.input_nc, image_size, image_size, device=device)
            full_ms = module_ms(net, x, repeats, warmup)
    finally:
        torch.set_num_threads(previous)
    table = LatencyTable(key, units, 0.0, full_ms,
                         {"repeats": repeats, "warmup": warmup, "shares": list(shares)})
    table.overhead_ms = full_ms - sum(table.layer_ms(widths))
    return table


def read_latency_tables(path: str | os.PathLike) -> list[LatencyTable]:
    """Every table saved in ``path`` (ValueError naming the file if it is not a table file)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable latency table file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a latency table file (no format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: latency table version {data.get('version')!r} is not "
                         f"supported (this library reads version {VERSION})")
    try:
        return [LatencyTable.from_dict(t) for t in data["tables"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a damaged latency table file ({exc})") from None


def save_latency_table(table: LatencyTable, path: str | os.PathLike) -> Path:
    """Add ``table`` to the file ``path`` (replacing one with the same key), atomically."""
    path = Path(path)
    tables = read_latency_tables(path) if path.exists() else []
    tables = [t for t in tables if t.key != table.key] + [table]
    atomic_write_json(path, {"format": FORMAT, "version": VERSION,
                             "tables": [t.to_dict() for t in tables]})
    return path


def find_latency_table(path: str | os.PathLike, key: Mapping) -> LatencyTable | None:
    """The table saved in ``path`` for ``key`` (:func:`latency_key`), or None."""
    if not Path(path).exists():
        return None
    wanted = json.loads(json.dumps(dict(key)))
    return next((t for t in read_latency_tables(path) if t.key == wanted), None)


def latency_table(path: str | os.PathLike | None, widths: GeneratorWidths, image_size: int,
                  device: str | torch.device = "cpu", threads: int | None = None,
                  **options) -> LatencyTable:
    """The table for this generator, image size, device and threads: read from ``path`` when
    it holds one with the same key, else measured (:func:`measure_latency_table` with
    ``options``) and added to ``path`` (None: not saved)."""
    key = latency_key(widths, image_size, device, threads, options.get("batch", 1))
    found = find_latency_table(path, key) if path is not None else None
    if found is not None:
        return found
    table = measure_latency_table(widths, image_size, device, threads, **options)
    if path is not None:
        save_latency_table(table, path)
    return table

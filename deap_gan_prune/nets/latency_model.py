"""A latency model of any generator on the runtime it is deployed to: per-conv lookup tables
measured at sampled widths, each at the conv's own resolution, predicted per mask.

Every conv of a mask space (:class:`~.terms.ConvTerm`) is measured as a *probe*: a small
module of the conv with the parameter-free layer that feeds it (a padding, an up-sampling) and
the norm and activations that directly consume its output, built at a grid of kept input and
output widths and run on an input of the conv's own spatial size at the image size (read off
one run of the full network). Convs with the same signature (layer settings, full widths,
resolution, probe layers) share one :class:`ConvTable`. Runtimes (:data:`RUNTIMES`):
``torch`` (eager, CPU), ``onnx`` (ONNX Runtime's CPU provider in float: each probe exported
with ``torch.onnx.export``), ``onnx-int8`` (quantized as ``export --int8`` quantizes: QDQ,
int8 weights per channel, uint8 activations, the layers without an integer kernel left in
float) and ``cuda`` (eager, on the GPU).

A slim network's latency (ms per batch) is predicted as ``scale`` times the sum of its convs'
table values, bilinear between measured widths, plus a constant ``overhead_ms`` (what the probes
leave out or count differently: additions, concatenations, functional activations, the
runtime's dispatch, caches shared by the whole network); both are fitted by least squares to
measured networks: the full one and two uniform ones (half and a fifth of the MACs). Tables are
made monotone and the scale is positive, so predictions never fall when a channel is added.

Models are JSON (:meth:`LatencyModel.to_dict`), cached in a file keyed by machine, runtime,
threads, image size, batch, library, torch and ONNX Runtime versions and a hash of the mask
space (:func:`latency_key`); :func:`latency_model_for` reuses a cached model or measures one.
"""
from __future__ import annotations

import bisect
import copy
import hashlib
import io
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import torch
from torch import nn

from .._version import __version__
from ..core.maskspace import MaskSpace
from ..core.terms import ConvTerm
from ..files import atomic_write_json
from .frozen import borrowed
from .groups import space_of

Runtime = Literal["torch", "onnx", "onnx-int8", "cuda"]
RUNTIMES: tuple[str, ...] = ("torch", "onnx", "onnx-int8", "cuda")
FORMAT = "deap_gan_prune/latency-model"
VERSION = 2
#: Shares of a full width at which convs are measured (the least and the full width always are).
GRID_SHARES = (1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1.0)
#: MAC ratios of the uniform networks measured beside the full one to calibrate.
CALIBRATION_SHARES = (0.5, 0.2)
_ONNX_OPSET = 17


# -- keys --------------------------------------------------------------------------------
def machine_name(runtime: str = "torch") -> str:
    """The processor a model is valid for: the GPU's name for ``cuda``, else the CPU model
    (``/proc/cpuinfo``, or ``platform``)."""
    if runtime == "cuda":
        return f"cuda:{torch.cuda.get_device_name()}"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def space_hash(space: MaskSpace) -> str:
    """A hash of what a mask space says of the network's layers and groups (not its
    ``min_keep``, which does not change any latency)."""
    d = dict(space.to_dict())
    d.pop("min_keep", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _check_runtime(runtime: str) -> Runtime:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown latency runtime {runtime!r}: use one of "
                         f"{', '.join(RUNTIMES)}")
    if runtime == "cuda" and not torch.cuda.is_available():
        raise ValueError("the latency runtime 'cuda' needs a GPU (torch.cuda.is_available() "
                         "is False)")
    return cast(Runtime, runtime)


def _onnxruntime_version(runtime: str) -> str | None:
    if not runtime.startswith("onnx"):
        return None
    import onnxruntime
    return str(onnxruntime.__version__)


def latency_key(space: MaskSpace, image_size: int, runtime: str = "torch",
                threads: int | None = None, batch: int = 1) -> dict:
    """What a model is valid for: machine, runtime, CPU threads (default: torch's current
    count), image size (pixels per side), batch, library, torch and ONNX Runtime versions and
    :func:`space_hash`."""
    runtime = _check_runtime(runtime)
    return {"machine": machine_name(runtime), "runtime": runtime,
            "threads": int(threads or torch.get_num_threads()), "image_size": int(image_size),
            "batch": int(batch), "library": __version__, "torch": torch.__version__,
            "onnxruntime": _onnxruntime_version(runtime), "space": space_hash(space)}


# -- tables ------------------------------------------------------------------------------
def grid_counts(low: int, full: int, shares: Sequence[float] = GRID_SHARES) -> list[int]:
    """Widths measured between ``low`` and ``full`` channels: both ends and the rounded
    shares of ``full`` above ``low``."""
    return sorted({low, full, *(round(s * full) for s in shares if low < round(s * full) < full)})


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
class ConvTable:
    """Latency (ms) of one probe measured at input widths ``c_in`` × output widths
    ``c_out``; ``ms[i][j]`` is at ``c_in[i]``, ``c_out[j]`` (a depthwise conv's ``c_in`` is
    ``[0]``: its input width is its output width). ``signature``: what the probe was."""

    signature: str
    c_in: list[int]
    c_out: list[int]
    ms: list[list[float]]

    def monotone(self) -> ConvTable:
        """A copy made non-decreasing in both widths (running maximum along each axis)."""
        ms = [list(row) for row in self.ms]
        for i in range(1, len(ms)):
            ms[i] = [max(a, b) for a, b in zip(ms[i], ms[i - 1])]
        for row in ms:
            for j in range(1, len(row)):
                row[j] = max(row[j], row[j - 1])
        return ConvTable(self.signature, list(self.c_in), list(self.c_out), ms)

    def predict(self, c_in: float, c_out: float) -> float:
        """Latency (ms) at these widths, bilinear between measured widths."""
        i0, i1, s = _interpolate(self.c_in, c_in)
        j0, j1, t = _interpolate(self.c_out, c_out)
        m = self.ms
        return ((1 - s) * ((1 - t) * m[i0][j0] + t * m[i0][j1])
                + s * ((1 - t) * m[i1][j0] + t * m[i1][j1]))

    def to_dict(self) -> dict:
        return {"signature": self.signature, "c_in": self.c_in, "c_out": self.c_out,
                "ms": self.ms}

    @classmethod
    def from_dict(cls, d: Mapping) -> ConvTable:
        table = cls(str(d["signature"]), [int(v) for v in d["c_in"]],
                    [int(v) for v in d["c_out"]], [[float(v) for v in row] for row in d["ms"]])
        if not table.c_in or not table.c_out or len(table.ms) != len(table.c_in) or \
                any(len(r) != len(table.c_out) for r in table.ms):
            raise ValueError(f"a table's ms is not {len(table.c_in)}x{len(table.c_out)}")
        if table.c_in != sorted(set(table.c_in)) or table.c_out != sorted(set(table.c_out)):
            raise ValueError("a table's widths are not increasing")
        return table


@dataclass(frozen=True)
class ConvUse:
    """One conv of the network in the model: its ``table`` (index), input width ``fixed +
    Σ per_group[g] * count_g`` (bits kept per group), output width ``out_block *
    count[out_group]`` (or ``out_channels`` when ``out_group`` is -1), ``depthwise``, and the
    output ``positions`` (batch × H × W at the image size)."""

    table: int
    fixed: int
    per_group: dict[int, int]
    out_group: int
    out_channels: int
    out_block: int
    depthwise: bool
    positions: int

    def widths(self, counts: Sequence[int]) -> tuple[int, int]:
        """Input and output channels at group ``counts`` (bits kept per group)."""
        out = self.out_channels if self.out_group < 0 else self.out_block * counts[self.out_group]
        c_in = out if self.depthwise else \
            self.fixed + sum(m * counts[g] for g, m in self.per_group.items())
        return c_in, out

    def to_dict(self) -> dict:
        return {"table": self.table, "fixed": self.fixed,
                "per_group": [[g, m] for g, m in sorted(self.per_group.items())],
                "out_group": self.out_group, "out_channels": self.out_channels,
                "out_block": self.out_block, "depthwise": self.depthwise,
                "positions": self.positions}

    @classmethod
    def from_dict(cls, d: Mapping) -> ConvUse:
        return cls(int(d["table"]), int(d["fixed"]),
                   {int(g): int(m) for g, m in d["per_group"]}, int(d["out_group"]),
                   int(d["out_channels"]), int(d["out_block"]), bool(d["depthwise"]),
                   int(d["positions"]))


@dataclass
class LatencyModel:
    """Per-conv tables of one :func:`latency_key`; predicts the latency (ms per batch) of the
    network a mask slims to. ``groups``: bits per group of the mask space, in order;
    ``calibration``: the measured networks (group counts and ms) ``scale`` and
    ``overhead_ms`` were fitted on."""

    key: dict
    groups: list[int]
    convs: list[ConvUse]
    tables: list[ConvTable]
    scale: float = 1.0
    overhead_ms: float = 0.0
    calibration: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def matches(self, space: MaskSpace) -> bool:
        """True when the model was measured for this mask space."""
        return self.key.get("space") == space_hash(space)

    def counts(self, bits: Sequence[int]) -> list[int]:
        """Bits kept per group of a flat mask."""
        if len(bits) != sum(self.groups):
            raise ValueError(f"a mask of this latency model has {sum(self.groups)} bits, "
                             f"got {len(bits)}")
        out, offset = [], 0
        for size in self.groups:
            out.append(sum(int(b) for b in bits[offset:offset + size]))
            offset += size
        return out

    def layer_ms(self, counts: Sequence[int]) -> list[float]:
        """Predicted latency (ms) of every conv's probe at group ``counts``, in order."""
        return [self.tables[c.table].predict(*c.widths(counts)) for c in self.convs]

    def predict_counts(self, counts: Sequence[int]) -> float:
        """Predicted latency (ms per batch) at group ``counts`` (bits kept per group)."""
        return max(self.scale * sum(self.layer_ms(counts)) + self.overhead_ms, 1e-6)

    #: how budgets and messages name this size function
    name: ClassVar[str] = "latency"

    def __call__(self, counts: Sequence[int]) -> float:
        """:meth:`predict_counts`: the model is a size function, so a latency budget goes
        wherever a size measure does (``repairBudget``, ``uniform_counts``,
        ``mutMoveChannels``)."""
        return self.predict_counts(counts)

    def predict(self, bits: Sequence[int]) -> float:
        """Predicted latency (ms per batch) of the network ``bits`` slims to."""
        return self.predict_counts(self.counts(bits))

    def ratio(self, bits: Sequence[int]) -> float:
        """Predicted latency relative to the full network's."""
        return self.predict(bits) / self.predict_counts(self.groups)

    def hash(self) -> str:
        """A hash of the whole model (its key, tables and calibration)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict:
        return {"key": self.key, "groups": self.groups,
                "convs": [c.to_dict() for c in self.convs],
                "tables": [t.to_dict() for t in self.tables],
                "scale": self.scale, "overhead_ms": self.overhead_ms,
                "calibration": self.calibration, "settings": self.settings}

    @classmethod
    def from_dict(cls, d: Mapping) -> LatencyModel:
        """The model of :meth:`to_dict` (ValueError, one line, for anything else)."""
        try:
            tables = [ConvTable.from_dict(t) for t in d["tables"]]
            convs = [ConvUse.from_dict(c) for c in d["convs"]]
            groups = [int(g) for g in d["groups"]]
            key = d["key"]
            if not isinstance(key, Mapping):
                raise ValueError("its key is not a mapping")
            for c in convs:
                if not 0 <= c.table < len(tables):
                    raise ValueError(f"a conv refers to table {c.table} of {len(tables)}")
                if any(not 0 <= g < len(groups) for g in [*c.per_group, c.out_group]
                       if g != -1):
                    raise ValueError("a conv refers to a group the model does not have")
            calibration = [dict(p) for p in d.get("calibration", [])]
            scale = float(d["scale"])
            if not scale > 0:
                raise ValueError(f"its scale {scale} is not positive")
            return cls(dict(key), groups, convs, tables, scale, float(d["overhead_ms"]),
                       calibration, dict(d.get("settings", {})))
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"not a latency model (missing or bad {exc})") from None


# -- timing ------------------------------------------------------------------------------
def time_ms(run: Callable[[], object], repeats: int, warmup: int,
            device: torch.device | str = "cpu") -> float:
    """Median wall-clock milliseconds of ``run()`` over ``repeats`` calls after ``warmup``
    (on ``cuda``, waiting for the GPU after each)."""
    cuda = torch.device(device).type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
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


def time_round_robin(runs: Sequence[Callable[[], object]], repeats: int, warmup: int,
                     device: torch.device | str = "cpu") -> list[float]:
    """Median wall-clock milliseconds of each of ``runs``, one call of each per round (the
    order alternating), ``warmup`` rounds first: every one sees the same machine load and,
    as a layer inside a network does, caches that the others used last."""
    cuda = torch.device(device).type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    times: list[list[float]] = [[] for _ in runs]
    for r in range(warmup + repeats):
        for i in (range(len(runs)) if r % 2 == 0 else reversed(range(len(runs)))):
            start = time.perf_counter()
            runs[i]()
            sync()
            if r >= warmup:
                times[i].append(time.perf_counter() - start)
    return [1e3 * statistics.median(t) for t in times]


def module_ms(module: nn.Module, x: torch.Tensor, repeats: int, warmup: int) -> float:
    """Median milliseconds of ``module(x)`` under ``torch.inference_mode``, the module on
    ``x``'s device in eval mode for the timing (given back on its device, in its mode)."""
    def run():
        with torch.inference_mode():
            module(x)
    with borrowed(module, device=x.device, training=False):
        return time_ms(run, repeats, warmup, x.device)


def onnx_bytes(module: nn.Module, example: torch.Tensor, opset: int = _ONNX_OPSET) -> bytes:
    """``module`` (on the CPU, eval mode) exported to ONNX at ``example``'s shape (input
    ``input``, output ``output``; the exporter the library's ``export`` uses)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer,  # type: ignore[arg-type]
                          dynamo=False, opset_version=opset, input_names=["input"],
                          output_names=["output"], do_constant_folding=True)
    return buffer.getvalue()


def int8_bytes(float_model: bytes, example: torch.Tensor) -> bytes:
    """A float ONNX model quantized as ``export --int8`` quantizes (pre-processed, QDQ, int8
    weights per channel, uint8 activations, the layers ONNX Runtime has no integer kernel for
    left in float with their weights stored as int8), calibrated on ``example`` (min-max: the
    ranges do not change the speed)."""
    import onnx

    from ..quantization import Int8Config, _quantization, _quantize, _quiet, onnx_kernels

    config = Int8Config(calibration="minmax")
    calibration = example.detach().cpu().float().numpy()
    with tempfile.TemporaryDirectory() as tmp:
        plain, prepared = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "prepared.onnx")
        target, cache = os.path.join(tmp, "int8.onnx"), os.path.join(tmp, "calibration.json")
        Path(plain).write_bytes(float_model)
        with _quiet():
            _quantization().quant_pre_process(plain, prepared, skip_symbolic_shape=True)
        _quantize(prepared, target, calibration, config, [], cache)
        nodes = {n.name for n in onnx.load(prepared).graph.node}
        kept = [name for name in onnx_kernels(target)["float_layers"] if name in nodes]
        if kept:
            _quantize(prepared, target, calibration, config, kept, cache)
        return Path(target).read_bytes()


def runner(module: nn.Module, example: torch.Tensor, runtime: str = "torch",
           threads: int | None = None) -> Callable[[], object]:
    """A function that runs ``module`` once on ``example`` on ``runtime`` (a copy of the
    module in eval mode; ``threads``: ONNX Runtime's intra-op threads, default 1 — torch's
    threads are the caller's to set). For ``cuda`` it waits for the GPU."""
    runtime = _check_runtime(runtime)
    model = copy.deepcopy(module).float().eval()
    if runtime in ("torch", "cuda"):
        device = torch.device("cuda" if runtime == "cuda" else "cpu")
        model, x = model.to(device), example.to(device)
        sync = torch.cuda.synchronize if runtime == "cuda" else (lambda: None)

        def run_torch() -> object:
            with torch.inference_mode():
                out = model(x)
            sync()
            return out
        return run_torch
    from ..export import import_onnxruntime
    ort = import_onnxruntime()
    x = example.detach().cpu().float()
    data = onnx_bytes(model.cpu(), x)
    if runtime == "onnx-int8":
        data = int8_bytes(data, x)
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or 1)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    feed = {"input": x.numpy()}
    return lambda: session.run(None, feed)


# -- probes ------------------------------------------------------------------------------
@dataclass
class _Call:
    name: str
    module: nn.Module
    input: Any
    output: Any
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


def _leaf_calls(net: nn.Module, x: torch.Tensor) -> list[_Call]:
    """Every leaf module's first call, in order, on one run of ``net`` on ``x``."""
    calls: list[_Call] = []
    seen: set[str] = set()
    handles = []

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, inputs: tuple, output: Any) -> None:
            if name in seen or not inputs or not isinstance(inputs[0], torch.Tensor) or \
                    not isinstance(output, torch.Tensor):
                return
            seen.add(name)
            calls.append(_Call(name, module, inputs[0], output, tuple(inputs[0].shape),
                               tuple(output.shape)))
        return record
    for name, module in net.named_modules():
        if not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch.inference_mode():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _agnostic(module: nn.Module) -> bool:
    """A layer without parameters or buffers (works at any channel count)."""
    return not any(True for _ in module.parameters()) and \
        not any(True for _ in module.buffers())


def _resized_norm(norm: nn.Module, channels: int) -> nn.Module | None:
    """A fresh norm like ``norm`` for ``channels`` channels (None for a kind not known)."""
    if isinstance(norm, nn.GroupNorm):
        per = norm.num_channels // norm.num_groups
        return nn.GroupNorm(max(1, channels // per), channels, norm.eps, norm.affine)
    if isinstance(norm, nn.modules.batchnorm._NormBase):
        return type(norm)(channels, norm.eps, norm.momentum, norm.affine,
                          norm.track_running_stats)
    return None


def _resized_conv(conv: nn.Module, c_in: int, c_out: int, depthwise: bool) -> nn.Module:
    """A copy of ``conv`` (same kernel, stride, padding, dilation) at ``c_in`` → ``c_out``
    channels with random weights."""
    c = cast(nn.Conv2d, copy.deepcopy(conv))
    groups = c_out if depthwise else (
        c.groups if c.groups > 1 and c_in % c.groups == 0 and c_out % c.groups == 0 else 1)
    c_in = c_out if depthwise else c_in
    kernel = tuple(c.weight.shape[2:])
    shape = (c_in, c_out // groups, *kernel) if isinstance(conv, nn.ConvTranspose2d) \
        else (c_out, c_in // groups, *kernel)
    c.weight = nn.Parameter(0.05 * torch.randn(shape))
    if c.bias is not None:
        c.bias = nn.Parameter(torch.zeros(c_out))
    c.in_channels, c.out_channels, c.groups = c_in, c_out, groups
    return c


@dataclass
class _Probe:
    """A conv with the layer feeding it (``pre``) and those consuming it (``post``)."""

    conv: nn.Module
    pre: nn.Module | None
    post: list[nn.Module]
    in_size: tuple[int, ...]
    depthwise: bool

    def build(self, c_in: int, c_out: int) -> nn.Sequential:
        layers = [] if self.pre is None else [copy.deepcopy(self.pre)]
        layers.append(_resized_conv(self.conv, c_in, c_out, self.depthwise))
        for m in self.post:
            layers.append(_resized_norm(m, c_out) or copy.deepcopy(m))
        return nn.Sequential(*layers).eval()

    def signature(self, full_in: int, full_out: int) -> str:
        parts = [repr(self.conv), f"in {full_in} out {full_out} at {list(self.in_size)}",
                 "pre " + repr(self.pre), *("post " + repr(m) for m in self.post)]
        return " | ".join(p.replace("\n", " ") for p in parts)


def _probes(net: nn.Module, space: MaskSpace, x: torch.Tensor
            ) -> tuple[dict[str, _Probe], dict[str, int]]:
    """The probe of every conv of ``space`` and its output positions (batch × H × W), read off
    one run of ``net`` on ``x``."""
    calls = _leaf_calls(net, x)
    at = {c.name: i for i, c in enumerate(calls)}
    norms = {n.name for n in space.norms}
    used: set[int] = set()
    probes, positions = {}, {}
    for term in space.convs:
        if term.name not in at:
            raise ValueError(f"conv {term.name!r} of the mask space did not run on the example")
        i = at[term.name]
        call = calls[i]
        pre = None
        if i > 0 and i - 1 not in used and calls[i - 1].output is call.input and \
                _agnostic(calls[i - 1].module) and \
                calls[i - 1].in_shape[1] == calls[i - 1].out_shape[1]:
            pre, in_size = calls[i - 1].module, calls[i - 1].in_shape[2:]
            used.add(i - 1)
        else:
            in_size = call.in_shape[2:]
        post, current, k = [], call.output, i + 1
        while k < len(calls) and k not in used and calls[k].input is current:
            m = calls[k].module
            resizable = calls[k].name in norms and _resized_norm(m, 1) is not None
            if not (resizable or (_agnostic(m) and calls[k].out_shape == calls[k].in_shape)):
                break
            post.append(m)
            used.add(k)
            current, k = calls[k].output, k + 1
        probes[term.name] = _Probe(call.module, pre, post, in_size, term.depthwise)
        positions[term.name] = call.out_shape[0] * call.out_shape[2] * call.out_shape[3]
    return probes, positions


def _in_form(term: ConvTerm, blocks: Sequence[int]) -> tuple[int, dict[int, int]]:
    fixed, per = term.in_form()
    return fixed, {g: m * blocks[g] for g, m in per.items()}


# -- measuring ---------------------------------------------------------------------------
def _progress(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


@dataclass(frozen=True)
class LatencyTiming:
    """How :func:`measure_latency_model` times a network: images a run (``batch``, part of
    the model's :func:`latency_key`), the median of ``repeats`` runs after ``warmup``
    unmeasured ones, each conv at :func:`grid_counts` of ``shares`` of its widths, probe
    weights and inputs drawn under ``seed``."""

    batch: int = 1
    repeats: int = 5
    warmup: int = 2
    shares: tuple[float, ...] = GRID_SHARES
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch <= 0:
            raise ValueError(f"batch {self.batch} must be positive")
        if self.repeats < 1 or self.warmup < 0:
            raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {self.repeats}, "
                             f"{self.warmup}")
        object.__setattr__(self, "shares", tuple(self.shares))


def measure_latency_model(generator: nn.Module, image_size: int = 256,
                          runtime: str = "torch", threads: int | None = None, *,
                          space: MaskSpace | None = None,
                          timing: LatencyTiming = LatencyTiming(),
                          progress: bool = True) -> LatencyModel:
    """Measure the latency model of ``generator`` (any network its mask space ``space``
    describes; default :func:`space_of` traced on an image of ``image_size``) on ``runtime``
    with ``threads`` CPU threads (torch's and ONNX Runtime's; default torch's current count,
    restored afterwards), ``timing.batch`` images a run: every distinct probe at
    :func:`grid_counts` of its input and output widths, then the full and the uniform
    networks of :data:`CALIBRATION_SHARES` for :func:`calibrate` (medians of
    ``timing.repeats`` runs after ``timing.warmup``, round-robin over a table's probes and
    over the calibration networks: :func:`time_round_robin`). Random probe weights under
    ``timing.seed``; a progress bar unless ``progress`` is False."""
    from .slimming import slim

    runtime = _check_runtime(runtime)
    batch, repeats, warmup = timing.batch, timing.repeats, timing.warmup
    shares, seed = timing.shares, timing.seed
    if image_size <= 0:
        raise ValueError(f"image size {image_size} and batch {batch} must be positive")
    net = copy.deepcopy(generator).cpu().float().eval()
    input_nc = _input_channels(net, space)
    previous = torch.get_num_threads()
    threads = int(threads or previous)
    device = torch.device("cuda" if runtime == "cuda" else "cpu")
    torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            x = torch.rand(batch, input_nc, image_size, image_size)
            if space is None:
                space = space_of(net, x)
            key = latency_key(space, image_size, runtime, threads, batch)
            probes, positions = _probes(net, space, x)
            blocks = [g.block for g in space.groups]
            tables: list[ConvTable] = []
            index: dict[str, int] = {}
            uses: list[ConvUse] = []
            plans: list[tuple[_Probe, list[int], list[int]]] = []
            for term in space.convs:
                probe = probes[term.name]
                fixed, per = _in_form(term, blocks)
                full_in = fixed + sum(m * space.groups[g].size for g, m in per.items())
                low_in = fixed + sum(per.values())
                out_block = 1 if term.out_group < 0 else blocks[term.out_group]
                if term.out_group < 0:
                    c_out = [term.out_channels]
                else:
                    size = space.groups[term.out_group].size
                    c_out = [out_block * n for n in grid_counts(1, size, shares)]
                c_in = [0] if term.depthwise else grid_counts(low_in, full_in, shares)
                sig = probe.signature(full_in, term.out_channels) + f" | grid {c_in} {c_out}"
                if sig not in index:
                    index[sig] = len(plans)
                    plans.append((probe, c_in, c_out))
                uses.append(ConvUse(index[sig], fixed, per, term.out_group, term.out_channels,
                                    out_block, term.depthwise, positions[term.name]))
            total = sum(len(a) * len(b) for _, a, b in plans) + 1 + len(CALIBRATION_SHARES)
            with _progress(total, progress, f"latency model ({runtime})") as bar:
                for (probe, c_in, c_out), sig in zip(plans, index):
                    runs = []
                    for a in c_in:
                        for b in c_out:
                            shape = (batch, b if probe.depthwise else a, *probe.in_size)
                            runs.append(runner(probe.build(a, b), torch.rand(shape), runtime,
                                               threads))
                    flat = time_round_robin(runs, repeats, warmup, device)
                    del runs
                    ms = [flat[i * len(c_out):(i + 1) * len(c_out)] for i in range(len(c_in))]
                    tables.append(ConvTable(sig, c_in, c_out, ms).monotone())
                    bar.update(len(flat))
                full = space.full()
                masks = [full, *(_uniform(space, share, image_size)
                                 for share in CALIBRATION_SHARES)]
                runs = [runner(net if bits == full else slim(net, bits, space), x, runtime,
                               threads) for bits in masks]
                calibration = [{"counts": list(space.kept(bits).values()), "measured_ms": ms}
                               for bits, ms in zip(masks, time_round_robin(runs, repeats,
                                                                           warmup, device))]
                del runs
                bar.update(len(masks))
    finally:
        torch.set_num_threads(previous)
    model = LatencyModel(key, [g.size for g in space.groups], uses, tables,
                         settings={"repeats": repeats, "warmup": warmup,
                                   "calibration_shares": list(CALIBRATION_SHARES),
                                   "shares": list(shares), "seed": seed})
    calibrate(model, calibration)
    return model


def _input_channels(net: nn.Module, space: MaskSpace | None) -> int:
    """The image channels: the mask space's, else found by running the network
    (:func:`~.counting.image_channels`; a first conv need not read the image)."""
    from .counting import image_channels
    return space.input_nc if space is not None else image_channels(net)


def _uniform(space: MaskSpace, share: float, image_size: int) -> list[int]:
    """The uniform mask at ``share`` of the MACs, or the smallest one when that is below."""
    from ..core.baselines import uniform_mask
    try:
        return uniform_mask(space, share, "macs", image_size)
    except ValueError:
        return [1 if i - g.offset < max(g.min_keep, 1) else 0
                for g in space.groups for i in range(g.offset, g.stop)]


def calibrate(model: LatencyModel, points: Sequence[Mapping]) -> LatencyModel:
    """Fit ``scale`` (positive) and ``overhead_ms`` of ``model`` to measured networks
    ``points`` (each ``{"counts": bits kept per group, "measured_ms": ms}``): least squares
    of ``measured = scale * table sum + overhead`` over two or more, the overhead alone (scale
    1) over one or when the fitted scale is not positive; then record them."""
    sums = [sum(model.layer_ms(p["counts"])) for p in points]
    measured = [float(p["measured_ms"]) for p in points]
    scale = 1.0
    if len(points) >= 2:
        mean_t, mean_m = statistics.fmean(sums), statistics.fmean(measured)
        spread = sum((t - mean_t) ** 2 for t in sums)
        if spread > 0:
            fitted = sum((t - mean_t) * (m - mean_m) for t, m in zip(sums, measured)) / spread
            scale = fitted if fitted > 0 else 1.0
    model.scale = scale
    model.overhead_ms = statistics.fmean(m - scale * t for m, t in zip(measured, sums))
    model.calibration = [{"counts": [int(c) for c in p["counts"]],
                          "measured_ms": float(p["measured_ms"])} for p in points]
    return model


# -- cache files -------------------------------------------------------------------------
def read_latency_models(path: str | os.PathLike) -> list[LatencyModel]:
    """Every model saved in ``path`` (ValueError, one line naming the file, for anything that
    is not a latency model file)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable latency model file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a latency model file (no format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: latency model version {data.get('version')!r} is not "
                         f"supported (this library reads version {VERSION})")
    try:
        return [LatencyModel.from_dict(m) for m in data["models"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a damaged latency model file ({exc})") from None


def save_latency_model(model: LatencyModel, path: str | os.PathLike) -> Path:
    """Add ``model`` to the file ``path`` (replacing one with the same key), atomically."""
    path = Path(path)
    models = read_latency_models(path) if path.exists() else []
    models = [m for m in models if m.key != model.key] + [model]
    atomic_write_json(path, {"format": FORMAT, "version": VERSION,
                             "models": [m.to_dict() for m in models]})
    return path


def find_latency_model(path: str | os.PathLike, key: Mapping) -> LatencyModel | None:
    """The model saved in ``path`` for ``key`` (:func:`latency_key`), or None."""
    if not Path(path).exists():
        return None
    wanted = json.loads(json.dumps(dict(key)))
    return next((m for m in read_latency_models(path) if m.key == wanted), None)


def latency_model_for(path: str | os.PathLike | None, generator: nn.Module,
                      image_size: int = 256, runtime: str = "torch",
                      threads: int | None = None, *, space: MaskSpace | None = None,
                      timing: LatencyTiming = LatencyTiming(),
                      progress: bool = True) -> LatencyModel:
    """The latency model of ``generator`` (mask space ``space``, default :func:`space_of`
    traced at ``image_size``) on ``runtime`` with ``threads``: read from the cache file
    ``path`` when it holds one with the same :func:`latency_key`, else measured
    (:func:`measure_latency_model` with ``timing`` and ``progress``) and added to ``path``
    (None: not saved)."""
    if space is None:
        x = torch.zeros(1, _input_channels(generator, None), image_size, image_size)
        with borrowed(generator, device="cpu", training=False):
            space = space_of(generator, x)
    key = latency_key(space, image_size, runtime, threads, timing.batch)
    found = find_latency_model(path, key) if path is not None else None
    if found is not None:
        return found
    model = measure_latency_model(generator, image_size, runtime, threads, space=space,
                                  timing=timing, progress=progress)
    if path is not None:
        save_latency_model(model, path)
    return model

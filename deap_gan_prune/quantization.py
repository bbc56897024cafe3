"""Static int8 quantization of a (slim) generator through ONNX Runtime, checked on images.

:func:`export_int8` writes one ONNX file whose convolutions hold int8 weights (per output
channel) and whose activations are quantized to uint8 from ranges calibrated on sample images
(ONNX Runtime's ``quantize_static``, QDQ format, Percentile calibration by default). Height
and width stay dynamic. Before quantizing, the output channels of every convolution whose only
consumer is an InstanceNorm are rescaled to one spread on the calibration images (the norm
cancels a per-channel scale, so the float model is unchanged), so that one uint8 range serves
the channels alike (``equalize``).

What really runs is read, not assumed: the file is optimised by ONNX Runtime for the CPU and the
optimised graph's operators are counted (:func:`onnx_kernels`): integer kernels
(``QLinearConv``, ``QLinearAdd``, ...) and the compute layers (Conv, ConvTranspose, Gemm,
MatMul) that still run in float, by name.

The check runs the float and int8 files on held-out images and reports PSNR / SSIM of the int8
output to the float output and, when the original generator is given, of both to the original's
output (``loss_db``: how many dB int8 loses to the float network there). With
``keep_float="auto"`` (the default) the layers that ONNX Runtime runs in float anyway (no
integer kernel: ConvTranspose on the CPU) stay in float with their outputs, since quantizing
them only adds rounding; then, while the loss exceeds ``max_loss_db`` (or, without an
original, the PSNR to the float output is below ``min_psnr_db``), more layers are left in float
in order of measured sensitivity. The settings were chosen in ``benchmarks/deploy.py``.

Runs on ONNX Runtime's quantization tools (``onnx`` and ``onnxruntime`` are dependencies).
"""
from __future__ import annotations

import contextlib
import inspect
import io
import logging
import math
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .export import ExportError, cpu_copy, export_onnx, import_onnxruntime, with_onnx_range
from .files import atomic_write, atomic_write_json
from .imagerange import DEFAULT_RANGE, DEFAULT_TEXT, InputRange
from .metrics.fidelity import fidelity_scores

#: ONNX Runtime operators that compute in integers.
INTEGER_KERNELS = frozenset({
    "QLinearConv", "QLinearAdd", "QLinearMul", "QLinearConcat", "QLinearMatMul", "QGemm",
    "QLinearConvTranspose", "ConvInteger", "MatMulInteger", "QLinearLeakyRelu",
    "QLinearSigmoid", "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearReduceMean",
    "QLinearSoftmax", "QLinearWhere", "QLinearResize"})
#: Layers with weights, whose kernel decides the speed.
COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})


@dataclass(frozen=True)
class Int8Config:
    """Settings of :func:`export_int8`.

    ``per_channel``: one weight scale per output channel (else per tensor);
    ``calibration``: how activation ranges are set from the calibration images (ONNX
    Runtime's MinMax, or Percentile: the 0.001 % and 99.999 % points);
    ``equalize``: rescale the channels of convolutions feeding an InstanceNorm first;
    ``keep_float``: ``"auto"`` (leave the most sensitive layers in float until the check
    passes), or the ONNX node names to leave in float (``()``: quantize every layer);
    ``max_loss_db``: allowed PSNR loss to the original's output (with an original);
    ``min_psnr_db``: required PSNR to the float output (without one);
    ``max_float_layers``: at most this many layers left in float by ``"auto"``;
    ``store_int8``: the layers left in float keep their weights as int8 in the file
    (dequantized when loaded; see :func:`store_int8_weights`);
    ``opset``: ONNX opset of the float export.
    """

    per_channel: bool = True
    calibration: Literal["minmax", "percentile"] = "percentile"
    equalize: bool = True
    keep_float: Literal["auto"] | tuple[str, ...] = "auto"
    max_loss_db: float = 0.5
    min_psnr_db: float = 30.0
    max_float_layers: int = 8
    store_int8: bool = True
    opset: int = 17

    def __post_init__(self) -> None:
        if self.keep_float != "auto" and not isinstance(self.keep_float, tuple):
            object.__setattr__(self, "keep_float", tuple(self.keep_float))
        if self.calibration not in ("minmax", "percentile"):
            raise ValueError(f"calibration {self.calibration!r}: use minmax or percentile")
        for name in ("max_loss_db", "min_psnr_db"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} {value}: must be a finite number of dB, 0 or more")
        if self.max_float_layers < 0:
            raise ValueError("max_float_layers must be 0 or more")


@dataclass
class Int8Result:
    """What :func:`export_int8` wrote and measured (also written as JSON beside the file)."""

    path: str
    bytes: int
    float_bytes: int
    int8_weights: int
    kernels: dict
    float_layers: list[str]
    kept_float: list[str]
    check: dict
    config: dict = field(default_factory=dict)
    input_range: str = DEFAULT_TEXT

    def as_dict(self) -> dict:
        return asdict(self)


def _quantization():
    import_onnxruntime()
    try:
        from onnxruntime import quantization
    except ImportError as exc:  # pragma: no cover - onnxruntime without its python tools
        raise ExportError(f"ONNX Runtime's quantization tools are missing: {exc}") from None
    return quantization


def _numpy(images: torch.Tensor, name: str) -> np.ndarray:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] == 0:
        raise ExportError(f"{name}: need images [N, C, H, W] (N >= 1), got "
                          f"{getattr(images, 'shape', type(images).__name__)}")
    return images.detach().float().cpu().contiguous().numpy()


def _session(model: Any, threads: int | None = 1, optimized: str | None = None) -> Any:
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if optimized:
        options.optimized_model_filepath = optimized
    source = str(model) if isinstance(model, (str, os.PathLike)) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_onnx(model: Any, images: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Outputs ``[N, C, H, W]`` of an ONNX file (or ModelProto) on ``images``, in batches."""
    session = _session(model)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: images[i:i + batch_size]})[0]
                           for i in range(0, len(images), batch_size)])


def equalize_norm_inputs(model: Any, images: np.ndarray) -> list[str]:
    """Rescale, in place, the output channels of every Conv / ConvTranspose of ``model`` (an
    ``onnx.ModelProto``) whose only consumer is an InstanceNormalization to one spread on
    ``images`` ``[N, C, H, W]``: each channel whose variance stays far above the norm's
    epsilon is scaled up to the largest standard deviation among them (the norm cancels the
    scale; the output changes only by float rounding). Returns the names of the layers."""
    import onnx
    from onnx import numpy_helper

    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights = {t.name: t for t in model.graph.initializer}
    layers = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")
              and n.input[1] in weights
              and [c.op_type for c in consumers.get(n.output[0], [])] == ["InstanceNormalization"]
              and n.output[0] not in {o.name for o in model.graph.output}
              and not (n.op_type == "ConvTranspose" and _group(n) != 1)]  # [in, out/g, k, k]
    if not layers:
        return []
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for node in layers:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(
            node.output[0], onnx.TensorProto.FLOAT, None))
    session = _session(probe)
    feed = {session.get_inputs()[0].name: images}
    outputs = session.run([n.output[0] for n in layers], feed)
    rescaled = []
    for node, out in zip(layers, outputs):
        norm = consumers[node.output[0]][0]
        eps = next((a.f for a in norm.attribute if a.name == "epsilon"), 1e-5)
        var = out.astype(np.float64).var(axis=(2, 3))  # [N, C]: what the norm divides by
        std = np.sqrt(var.mean(axis=0))
        # channels whose variance is far above the norm's epsilon everywhere are scaled UP
        # to the largest spread (epsilon then matters even less); the others, which epsilon
        # damps, are left alone so that the output stays the same
        steady = var.min(axis=0) > 1e3 * eps
        if not steady.any():
            continue
        scale = np.where(steady, std[steady].max() / np.where(steady, std, 1.0), 1.0)
        axis = 0 if node.op_type == "Conv" else 1
        for position in (1, 2)[:len(node.input) - 1]:
            if node.input[position] not in weights:
                continue
            tensor = weights[node.input[position]]
            value = numpy_helper.to_array(tensor).astype(np.float64)
            shape = [1] * value.ndim
            shape[0 if position == 2 else axis] = -1
            value = (value * scale.reshape(shape)).astype(np.float32)
            tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))
        rescaled.append(node.name)
    return rescaled


def _group(node: Any) -> int:
    return next((a.i for a in node.attribute if a.name == "group"), 1)


def onnx_kernels(path: str | os.PathLike) -> dict:
    """The operators ONNX Runtime's CPU provider really runs for ``path`` (its optimised
    graph): ``{"integer": {op: count}, "float_layers": [names of Conv/ConvTranspose/Gemm/
    MatMul still in float], "ops": {op: count}}``."""
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        optimized = os.path.join(tmp, "optimized.onnx")
        _session(Path(path), optimized=optimized)
        graph = onnx.load(optimized).graph
    ops = Counter(node.op_type for node in graph.node)
    return {"integer": {op: n for op, n in sorted(ops.items()) if op in INTEGER_KERNELS},
            "float_layers": [_exported_name(node.name) for node in graph.node
                             if node.op_type in COMPUTE_OPS],
            "ops": dict(sorted(ops.items()))}


def _exported_name(name: str) -> str:
    """A node's name in the exported graph: ONNX Runtime's blocked-layout (NCHWc) rewrite
    names a convolution after its output tensor, ``<node>_output_0_nchwc``."""
    return name[:-len("_output_0_nchwc")] if name.endswith("_output_0_nchwc") else name


def int8_weight_count(path: str | os.PathLike) -> int:
    """Number of int8 weight values (tensors of two or more dimensions) stored in the ONNX
    file ``path``."""
    import onnx

    return sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and len(t.dims) > 1)


class _Images:
    """A calibration data reader over ``[N, C, H, W]`` images, one at a time."""

    def __init__(self, images: np.ndarray, name: str) -> None:
        self.images, self.name, self.index = images, name, 0

    def get_next(self):
        if self.index >= len(self.images):
            return None
        self.index += 1
        return {self.name: self.images[self.index - 1:self.index]}

    def rewind(self) -> None:
        self.index = 0


def _with_consumers(path: str, names: Sequence[str]) -> list[str]:
    """``names`` and the nodes that read their outputs: a layer stays in float only when its
    output is not quantized either (ONNX Runtime quantizes the float weights of a layer that
    sits between a dequantize and a quantize and runs it as an integer kernel)."""
    import onnx

    if not names:
        return []
    nodes = onnx.load(path).graph.node
    outputs = {o for n in nodes if n.name in names for o in n.output}
    return list(dict.fromkeys([*names, *(n.name for n in nodes
                                         if outputs.intersection(n.input))]))


@contextlib.contextmanager
def _quiet():
    """ONNX Runtime's quantization tools print notes and log warnings to the root logger (e.g.
    that a rank-1 norm weight has no per-channel axis); silenced for the call, then
    restored."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _quantize(source: str, target: str, calibration: np.ndarray, config: Int8Config,
              keep_float: Sequence[str], cache: str) -> None:
    q = _quantization()
    reader = _Images(calibration, "input")
    method = {"minmax": q.CalibrationMethod.MinMax,
              "percentile": q.CalibrationMethod.Percentile}[config.calibration]
    options = {"quant_format": q.QuantFormat.QDQ, "per_channel": config.per_channel,
               "activation_type": q.QuantType.QUInt8, "weight_type": q.QuantType.QInt8,
               "calibrate_method": method,
               "nodes_to_exclude": _with_consumers(source, keep_float) or None}
    if "calibration_cache_path" in inspect.signature(q.quantize_static).parameters:
        options["calibration_cache_path"] = cache  # calibrate once for every trial
    with _quiet():
        q.quantize_static(source, target, reader, **options)
    if keep_float and config.store_int8:
        store_int8_weights(target, keep_float, config.per_channel)


def store_int8_weights(path: str | os.PathLike, names: Sequence[str],
                       per_channel: bool = True) -> list[str]:
    """Store, in place in the ONNX file ``path``, the float weights of the Conv /
    ConvTranspose nodes ``names`` as int8 (symmetric, one scale per output channel when
    ``per_channel``) behind a DequantizeLinear: the layers still compute in float (their
    activations are not quantized), the file holds a quarter of their bytes. Returns the
    names of the nodes changed."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    weights = {t.name: t for t in model.graph.initializer}
    readers = Counter(name for node in model.graph.node for name in node.input)
    changed, added, replaced = [], [], set()
    for node in model.graph.node:
        if (node.name not in names or node.op_type not in ("Conv", "ConvTranspose")
                or node.input[1] not in weights or readers[node.input[1]] != 1):
            continue
        value = numpy_helper.to_array(weights[node.input[1]]).astype(np.float64)
        axis = 1 if node.op_type == "ConvTranspose" else 0
        if node.op_type == "ConvTranspose" and _group(node) != 1:
            continue
        moved = np.moveaxis(value, axis, 0).reshape(value.shape[axis], -1)
        top = np.abs(moved).max(axis=1) if per_channel else np.full(len(moved),
                                                                     np.abs(moved).max())
        scale = np.where(top > 0, top / 127.0, 1.0)
        shape = [1] * value.ndim
        shape[axis] = -1
        quantized = np.clip(np.round(value / scale.reshape(shape)), -127, 127).astype(np.int8)
        base = node.input[1]
        replaced.add(base)
        added += [numpy_helper.from_array(quantized, base + "_int8"),
                  numpy_helper.from_array(scale.astype(np.float32), base + "_int8_scale"),
                  numpy_helper.from_array(np.zeros(len(scale), np.int8), base + "_int8_zero")]
        changed.append((node.name, helper.make_node(
            "DequantizeLinear", [base + "_int8", base + "_int8_scale", base + "_int8_zero"],
            [base], name=base + "_int8_DequantizeLinear", axis=axis)))
    if changed:
        kept = [t for t in model.graph.initializer if t.name not in replaced]
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept + added)
        for _, dequantize in changed:
            model.graph.node.insert(0, dequantize)
        onnx.save(model, str(path))
    return [name for name, _ in changed]


def _check(int8: str, float_out: np.ndarray, images: np.ndarray,
           original_out: np.ndarray | None, input_range: InputRange = DEFAULT_RANGE) -> dict:
    out = run_onnx(int8, images)
    check: dict[str, Any] = {"images": len(images), "image_size": list(images.shape[-2:]),
             "to_float": _scores(out, float_out, input_range)}
    if original_out is not None:
        check["float_to_original"] = _scores(float_out, original_out, input_range)
        check["int8_to_original"] = _scores(out, original_out, input_range)
        check["loss_db"] = (check["float_to_original"]["psnr_db"]
                            - check["int8_to_original"]["psnr_db"])
    return check


def _scores(a: np.ndarray, b: np.ndarray, input_range: InputRange = DEFAULT_RANGE) -> dict:
    scores = fidelity_scores(torch.from_numpy(a), torch.from_numpy(b), input_range)
    return {"psnr_db": scores["psnr_db"], "ssim": scores["ssim"]}


def _passes(check: dict, config: Int8Config) -> bool:
    if "loss_db" in check:
        return check["loss_db"] <= config.max_loss_db
    return check["to_float"]["psnr_db"] >= config.min_psnr_db


def _quality(check: dict) -> float:
    return -check["loss_db"] if "loss_db" in check else check["to_float"]["psnr_db"]


@dataclass(frozen=True)
class _Trial:
    """What every quantization attempt reads: the prepared float file, the settings, the
    calibration images ``[N, C, H, W]`` and their cached ranges; each attempt rewrites the
    int8 file ``path``."""

    prepared: str
    path: str
    calibration: np.ndarray
    config: Int8Config
    cache: str

    def quantize(self, keep_float: Sequence[str]) -> None:
        """Write ``path`` with the layers ``keep_float`` left in float."""
        _quantize(self.prepared, self.path, self.calibration, self.config, keep_float,
                  self.cache)


@dataclass(frozen=True)
class _Reference:
    """What an int8 file is checked against: held-out ``images`` ``[N, C, H, W]``, the float
    file's outputs on them and, with an original generator, its outputs (all in
    ``input_range``)."""

    images: np.ndarray
    float_out: np.ndarray
    original_out: np.ndarray | None
    input_range: InputRange = DEFAULT_RANGE

    def check(self, int8: str) -> dict:
        """The check of the int8 file ``int8`` (:func:`_check`)."""
        return _check(int8, self.float_out, self.images, self.original_out, self.input_range)


def export_int8(generator: torch.nn.Module, path: str | os.PathLike,
                calibration: torch.Tensor, check_images: torch.Tensor,
                original: torch.nn.Module | None = None, config: Int8Config = Int8Config(),
                progress: bool = False, input_range: InputRange = DEFAULT_RANGE) -> Int8Result:
    """Write ``generator`` as a static int8 ONNX file at ``path`` and check it.

    ``calibration``: images ``[N, C, H, W]`` in ``input_range`` (the generator's; default
    [-1, 1], recorded in the file's metadata and its JSON) whose activation ranges set the
    quantization; ``check_images``: held-out images (not in ``calibration``) on which the int8
    file is compared with the float network (and, with ``original``, with the original
    generator's output). Writes ``<path>.json`` with the :class:`Int8Result` beside the file.
    """
    import onnx

    path = Path(path)
    calib, held = _numpy(calibration, "calibration"), _numpy(check_images, "check images")
    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "float.onnx")
        export_onnx(generator, plain, image_size=int(calib.shape[-1]), opset=config.opset,
                    input_range=input_range)
        float_bytes = os.path.getsize(plain)
        float_out = run_onnx(plain, held)
        original_out = None
        if original is not None:  # a CPU copy in eval mode: the caller's module is untouched
            with torch.no_grad():
                original_out = cpu_copy(original)(torch.from_numpy(held)).numpy()
        prepared = os.path.join(tmp, "prepared.onnx")
        with _quiet():
            _quantization().quant_pre_process(plain, prepared, skip_symbolic_shape=True)
        model = onnx.load(prepared)
        if config.equalize:
            equalize_norm_inputs(model, calib)
        onnx.save(model, prepared)
        cache, trial = os.path.join(tmp, "calibration.json"), os.path.join(tmp, "int8.onnx")
        kept: list[str] = [] if config.keep_float == "auto" else list(config.keep_float)
        unknown = sorted(set(kept) - {n.name for n in model.graph.node})
        if unknown:
            raise ExportError(f"keep_float: {path.name} has no ONNX node {unknown[0]!r} "
                              f"(its first nodes: "
                              f"{', '.join(n.name for n in model.graph.node[:6])}, ...)")
        attempt = _Trial(prepared, trial, calib, config, cache)
        reference = _Reference(held, float_out, original_out, input_range)
        attempt.quantize(kept)
        if config.keep_float == "auto":
            # a layer quantized but run in float (no integer kernel) only adds rounding:
            # it stays in float, and so does its output
            nodes = {n.name for n in model.graph.node}
            kept = [name for name in onnx_kernels(trial)["float_layers"] if name in nodes]
            if kept:
                attempt.quantize(kept)
        check = reference.check(trial)
        if config.keep_float == "auto" and not _passes(check, config):
            kept, check = _keep_sensitive(attempt, reference, check, kept, progress)
        kernels = onnx_kernels(trial)
        weights = int8_weight_count(trial)
        data = with_onnx_range(Path(trial).read_bytes(), input_range)
        atomic_write(path, lambda tmp_path: Path(tmp_path).write_bytes(data))
    result = Int8Result(path=str(path), bytes=path.stat().st_size, float_bytes=float_bytes,
                        int8_weights=weights, kernels=kernels,
                        float_layers=kernels["float_layers"], kept_float=kept, check=check,
                        config=asdict(config), input_range=input_range.text)
    atomic_write_json(str(path) + ".json", result.as_dict())
    return result


def _keep_sensitive(attempt: _Trial, reference: _Reference, check: dict, kept: list[str],
                    progress: bool) -> tuple[list[str], dict]:
    """Leave more layers in float (beyond ``kept``), most sensitive first, until the check
    passes: a layer's sensitivity is the quality gained by leaving it in float too."""
    import onnx
    from tqdm.auto import tqdm

    config = attempt.config
    layers = [n.name for n in onnx.load(attempt.prepared).graph.node
              if n.op_type in COMPUTE_OPS and n.name not in kept]
    gains = {}
    for name in tqdm(layers, desc="int8 sensitivity", disable=not progress, leave=False):
        attempt.quantize([*kept, name])
        gains[name] = _quality(reference.check(attempt.path))
    order = sorted(layers, key=lambda name: -gains[name])
    kept = list(kept)
    best = (check, list(kept))
    for name in order[:config.max_float_layers]:
        kept.append(name)
        attempt.quantize(kept)
        check = reference.check(attempt.path)
        if _quality(check) > _quality(best[0]):
            best = (check, list(kept))
        if _passes(check, config):
            return kept, check
    attempt.quantize(best[1])
    return best[1], best[0]

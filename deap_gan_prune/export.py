"""Export a (slim) generator to ONNX or TorchScript, and check the file against eager PyTorch.

- ONNX: opset ``ONNX_OPSET`` (17) by default, TorchScript-based exporter
  (``torch.onnx.export(..., dynamo=False)``), weights inside the one ``.onnx`` file (no
  external data; fine below ONNX's 2 GB limit), input ``"input"`` ``[batch, C, H, W]`` and
  output ``"output"`` ``[batch, C, H, W]`` with a dynamic batch axis and the spatial size fixed
  at export. Checked with ONNX Runtime (``onnx`` and ``onnxruntime`` are dependencies of the
  package). Tested on the upstream ResNet and on generators
  of other classes (affine-InstanceNorm ResNet, three-down-sampling ResNet, pix2pix U-Net with
  BatchNorm and skip concatenations, an interpolation + conv style network).
- TorchScript: ``torch.jit.trace`` of the generator in eval mode (a ResnetGenerator has no
  data-dependent control flow, so the trace is exact and works at any batch and image size).

:func:`verify_export` runs the file and the eager generator on the same seeded random images in
the generator's input range (default [-1, 1]) and returns the largest absolute difference
(expect below 1e-4 in float32).

Both formats record that range (:mod:`deap_gan_prune.imagerange`) as the text ``input_range``:
an ONNX file in its ``metadata_props`` (ONNX Runtime: ``session.get_modelmeta().
custom_metadata_map["input_range"]``), a TorchScript file as the extra file ``input_range``
(``torch.jit.load(path, _extra_files={"input_range": ""})``). A file without it takes [-1, 1].
"""
from __future__ import annotations

import copy
import io
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

from .files import atomic_write
from .imagerange import DEFAULT_RANGE, RANGE_KEY, InputRange
from .nets.counting import image_channels

ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "output"
TOLERANCE = 1e-4
ExportFormat = Literal["onnx", "torchscript"]


class ExportError(ValueError):
    """An export or its check failed; the message is one line naming the file."""


def import_onnxruntime():
    """The ``onnxruntime`` module once ``onnx`` and ``onnxruntime`` both import, else a
    one-line :class:`ExportError` with the install command (an install made with
    ``--no-deps`` lacks them). Called before any work by the commands that export."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
        import onnxruntime
    except ImportError as exc:
        raise ExportError(f"ONNX export needs {exc.name or 'onnx'}, a dependency of "
                          "deap-gan-prune missing here: pip install onnx onnxruntime") from None
    return onnxruntime


def format_of(path: str | os.PathLike) -> ExportFormat:
    """``"onnx"`` for a ``.onnx`` file, else ``"torchscript"`` (``.pt``, ``.ts``, ...)."""
    return "onnx" if Path(path).suffix.lower() == ".onnx" else "torchscript"


def _example(generator: torch.nn.Module, image_size: int, batch_size: int = 1,
             seed: int = 0, input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
    if image_size < 4 or image_size % 4:
        raise ExportError(f"image size {image_size}: must be a positive multiple of 4")
    in_channels = image_channels(generator)
    g = torch.Generator().manual_seed(seed)
    return input_range.from_signed(
        torch.rand(batch_size, in_channels, image_size, image_size, generator=g) * 2 - 1)


def with_onnx_range(model_bytes: bytes, input_range: InputRange) -> bytes:
    """An ONNX model (serialized) with ``input_range`` recorded in its ``metadata_props``
    (any earlier entry replaced)."""
    import onnx
    model = onnx.load_from_string(model_bytes)
    kept = [p for p in model.metadata_props if p.key != RANGE_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = RANGE_KEY, input_range.text
    return model.SerializeToString()


def cpu_copy(generator: torch.nn.Module) -> torch.nn.Module:
    """A float32 copy of ``generator`` on the CPU in eval mode (the original is untouched)."""
    return copy.deepcopy(generator).cpu().float().eval()


def export_onnx(generator: torch.nn.Module, path: str | os.PathLike, image_size: int = 256,
                opset: int = ONNX_OPSET, dynamic_size: bool = True,
                input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Write ``generator`` as one ONNX file (opset ``opset``, traced at ``image_size``; dynamic
    batch axis, and dynamic height and width unless ``dynamic_size`` is False), recording
    ``input_range`` in its metadata. Returns a description: format, path, opset, image_size,
    dynamic_axes, bytes, input_range."""
    if not 9 <= opset <= 20:  # 20: the newest opset of torch's TorchScript-based exporter
        raise ExportError(f"ONNX opset {opset}: use an opset from 9 to 20 (default "
                          f"{ONNX_OPSET})")
    model, path = cpu_copy(generator), Path(path)
    example = _example(model, image_size, input_range=input_range)
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_size else {0: "batch"}

    buffer = io.BytesIO()  # written to disk by Python: a full disk is an OSError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and exporter notes
            torch.onnx.export(model, (example,), buffer,  # type: ignore[arg-type]
                              dynamo=False, opset_version=opset,  # (file objects work)
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
                              external_data=False, do_constant_folding=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"{path}: ONNX export failed: {first[:160]}") from None
    data = with_onnx_range(buffer.getvalue(), input_range)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return {"format": "onnx", "path": str(path), "opset": opset, "image_size": image_size,
            "dynamic_axes": {name: list(axes.values()) for name in (INPUT_NAME, OUTPUT_NAME)},
            "external_data": False, "bytes": path.stat().st_size,
            **input_range.to_dict()}


def export_torchscript(generator: torch.nn.Module, path: str | os.PathLike,
                       image_size: int = 256, input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Write ``generator`` as a traced TorchScript file (traced at ``image_size``; any batch
    and image size run), with ``input_range`` as its extra file ``input_range``. Returns a
    description: format, path, image_size, bytes, input_range."""
    model, path = cpu_copy(generator), Path(path)
    example = _example(model, image_size, input_range=input_range)

    buffer = io.BytesIO()  # torch's C++ writer aborts on a full disk; Python's raises
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(model, example), buffer,
                       _extra_files={RANGE_KEY: input_range.text})
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))
    return {"format": "torchscript", "path": str(path), "image_size": image_size,
            "bytes": path.stat().st_size, **input_range.to_dict()}


def export_generator(generator: torch.nn.Module, path: str | os.PathLike,
                     fmt: ExportFormat | None = None, image_size: int = 256,
                     opset: int = ONNX_OPSET, dynamic_size: bool = True,
                     input_range: InputRange = DEFAULT_RANGE) -> dict:
    """:func:`export_onnx` or :func:`export_torchscript` by ``fmt`` (default: by suffix)."""
    fmt = fmt or format_of(path)
    if fmt == "onnx":
        return export_onnx(generator, path, image_size, opset, dynamic_size, input_range)
    if fmt == "torchscript":
        return export_torchscript(generator, path, image_size, input_range)
    raise ExportError(f"unknown export format {fmt!r}: use 'onnx' or 'torchscript'")


def onnx_session(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session for ``path`` (``threads``: intra-op threads, default ORT's)."""
    ort = import_onnxruntime()
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such ONNX file")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"{path}: ONNX Runtime cannot load it: {first[:160]}") from None


def _onnx_image_size(session: Any) -> int | None:
    dims = session.get_inputs()[0].shape
    return dims[-1] if isinstance(dims[-1], int) else None


@torch.no_grad()
def verify_export(path: str | os.PathLike, generator: torch.nn.Module,
                  image_size: int | None = None, batch_size: int = 2, seed: int = 0,
                  fmt: ExportFormat | None = None,
                  input_range: InputRange = DEFAULT_RANGE) -> float:
    """Largest absolute difference between the exported file and the eager ``generator`` on
    ``batch_size`` seeded random images in ``input_range`` (default [-1, 1]; float32, CPU).

    ``image_size``: for ONNX, default the size fixed in the file (64 when dynamic); for
    TorchScript, default 64.
    ``batch_size`` 2 also checks that the exported batch axis is dynamic (export uses 1).
    """
    fmt, path = fmt or format_of(path), Path(path)
    model = cpu_copy(generator)
    if fmt == "onnx":
        session = onnx_session(path)
        fixed = _onnx_image_size(session)
        if image_size is not None and fixed is not None and image_size != fixed:
            raise ExportError(f"{path}: exported for {fixed}x{fixed} images, asked to check "
                              f"{image_size}x{image_size}")
        x = _example(model, image_size or fixed or 64, batch_size, seed, input_range)
        try:
            exported = torch.from_numpy(session.run(None, {session.get_inputs()[0].name:
                                                           x.numpy()})[0])
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportError(f"{path}: ONNX Runtime failed: {first[:160]}") from None
    elif fmt == "torchscript":
        if not path.is_file():
            raise ExportError(f"{path}: no such TorchScript file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is frozen
                scripted = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportError(f"{path}: not a TorchScript file: {first[:160]}") from None
        x = _example(model, image_size or 64, batch_size, seed, input_range)
        exported = scripted(x)
    else:
        raise ExportError(f"unknown export format {fmt!r}: use 'onnx' or 'torchscript'")
    expected = model(x)
    if exported.shape != expected.shape:
        raise ExportError(f"{path}: output shape {list(exported.shape)} differs from the "
                          f"generator's {list(expected.shape)}")
    return float((exported.float() - expected).abs().max())

"""Apply a generator to a folder of images and write the translations.

The generator is a PyTorch module (any ``.pth`` that :func:`~deap_gan_prune.nets.checkpoints.
load_generator` reads: upstream ResNet, slim, or a ``--generator`` class) or an exported ONNX
file, run on the CPU by ONNX Runtime (:class:`OnnxGenerator`).

Sizes. Without ``size``, every image keeps its own size rounded to the nearest multiple of
``multiple`` (default 4, what a generator with two down-samplings needs; at least
``multiple``): images already at such a size are not resampled at all. With ``size``, every
image is resized to ``size`` x ``size`` (as upstream CycleGAN's test preprocessing). Resizing is
bicubic, as in :mod:`deap_gan_prune.data`. An ONNX file fixes its spatial size at export: its
size is the default and any other ``size`` is refused. The output has the size the generator
was run at.

Files. The images directly in the folder (.jpg, .jpeg, .png, .bmp, .webp, any case) are read
as RGB (one channel for a one-channel generator), in batches of images of equal size, and each
translation is written as ``<stem>.png`` (lossless) into the output folder, atomically.
Unreadable images are skipped with a warning naming them (as :mod:`deap_gan_prune.data`).

Range. Pixels reach the generator in its input range (:mod:`deap_gan_prune.imagerange`;
default [-1, 1]) and its outputs are read back from the same range: an ONNX file's is the one
its metadata records.
"""
from __future__ import annotations

import os
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .configs import setting, validate
from .data import DataError, list_images, read_rgb, readable_images
from .export import ExportError, onnx_session
from .files import atomic_write
from .imagerange import DEFAULT_RANGE, RANGE_KEY, InputRange
from .nets.checkpoints import load_generator
from .nets.counting import image_channels
from .nets.frozen import borrowed
from .outputs import OutputError, check_output_folder


class OnnxGenerator:
    """An exported ONNX generator (see :mod:`deap_gan_prune.export`) called like a module:
    ``gen(x)`` with ``x`` a float tensor ``[N, C, H, W]`` returns the output tensor (CPU).

    ``image_size``: the spatial size fixed in the file (None if it is dynamic);
    ``in_channels``: the image channels it takes (None if dynamic); ``input_range``: the
    range its metadata records (``-1,1`` when none)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        dims = list(first.shape)
        if len(dims) != 4:
            raise ExportError(f"{self.path}: takes a {len(dims)}-d input, not images "
                              "[N, C, H, W]")
        self.in_channels = dims[1] if isinstance(dims[1], int) else None
        fixed = [d if isinstance(d, int) else None for d in dims[2:]]
        self.image_size = fixed[0] if fixed[0] is not None and fixed[0] == fixed[1] else None
        metadata = dict(self.session.get_modelmeta().custom_metadata_map or {})
        try:
            self.input_range = InputRange.from_dict(metadata)
        except ValueError as exc:
            raise ExportError(f"{self.path}: bad {RANGE_KEY} metadata ({exc})") from None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        try:
            out = self.session.run(None, {self.input_name:
                                          x.detach().float().cpu().contiguous().numpy()})[0]
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportError(f"{self.path}: ONNX Runtime failed: {first[:160]}") from None
        return torch.from_numpy(np.asarray(out))


def load_translator(path: str | os.PathLike, device: str | torch.device = "cpu",
                    architecture: dict | None = None) -> torch.nn.Module | OnnxGenerator:
    """The generator in ``path``: an :class:`OnnxGenerator` for a ``.onnx`` file (CPU only;
    another ``device`` is refused), else the PyTorch module of
    :func:`~deap_gan_prune.nets.checkpoints.load_generator` (of class ``architecture`` when
    given) in eval mode on ``device``."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        if torch.device(device).type != "cpu":
            raise ValueError(f"{path}: ONNX files run on the CPU with ONNX Runtime; leave out "
                             f"--device {device}")
        if architecture is not None:
            raise ValueError(f"{path}: an ONNX file holds its network; leave out --generator")
        return OnnxGenerator(path)
    return load_generator(path, device, architecture)


def channels_of(generator: torch.nn.Module | OnnxGenerator) -> int:
    """Image channels ``generator`` takes (3 when an ONNX file leaves it dynamic)."""
    if isinstance(generator, OnnxGenerator):
        return generator.in_channels or 3
    return image_channels(generator)


def rounded_size(width: int, height: int, multiple: int = 4) -> tuple[int, int]:
    """``(width, height)`` each rounded to the nearest multiple of ``multiple`` (halves up),
    at least ``multiple``."""
    def one(n: int) -> int:
        return max(multiple, (n + multiple // 2) // multiple * multiple)
    return one(width), one(height)


@dataclass(frozen=True)
class TranslateConfig:
    """Settings of :func:`translate_folder`.

    ``size``: resize every image to ``size`` x ``size`` pixels (a positive multiple of
    ``multiple``); None keeps each image's size rounded to a multiple of ``multiple`` (an ONNX
    file's fixed size for an :class:`OnnxGenerator`). ``batch_size``: images a forward pass
    (of one size). ``input_range``: the generator's (None: the one an ONNX file records, else
    [-1, 1]).
    """

    size: int | None = setting(
        None, "resize every image to SIZE x SIZE pixels (default: keep each image's size, "
        "rounded to a multiple of --multiple; an ONNX file's fixed size)", within="[1, inf)")
    multiple: int = setting(4, "without --size, image sides are rounded to a multiple of this: "
                            "4 for the upstream ResNet, 8 for a network down-sampling 3 times",
                            within="[1, inf)")
    batch_size: int = setting(8, "images per forward pass (images of one size are batched "
                              "together)", within="[1, inf)")
    input_range: InputRange | None = None

    def __post_init__(self) -> None:
        validate(self)
        if self.size is not None and self.size % self.multiple:
            raise ValueError(f"TranslateConfig: size must be a positive multiple of multiple "
                             f"({self.multiple}), got {self.size}")


@dataclass
class TranslateResult:
    """What :func:`translate_folder` did: the files written and the inputs skipped."""
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (width, height)


def output_name(path: Path) -> str:
    return path.stem + ".png"


def _check_names(files: Sequence[Path]) -> None:
    """Two inputs with the same stem would write the same ``<stem>.png``: refuse."""
    seen: dict[str, Path] = {}
    for path in files:
        name = output_name(path)
        if name in seen:
            raise DataError(f"{seen[name].name} and {path.name} in {path.parent} would both be "
                            f"written as {name}; rename one")
        seen[name] = path


def _target_sizes(files: Sequence[Path], size: int | None, multiple: int
                  ) -> dict[Path, tuple[int, int]]:
    """Each file's processing size ``(width, height)``, from its header (no decoding)."""
    sizes = {}
    for path in files:
        if size is not None:
            sizes[path] = (size, size)
            continue
        with Image.open(path) as image:
            width, height = image.size
            sizes[path] = rounded_size(width, height, multiple)
    return sizes


def _batches(files: Sequence[Path], sizes: dict[Path, tuple[int, int]], batch_size: int
             ) -> Iterator[list[Path]]:
    """Batches of at most ``batch_size`` files of one size: sizes in order of first
    appearance, files in name order within a size."""
    groups: dict[tuple[int, int], list[Path]] = defaultdict(list)
    for path in files:
        groups[sizes[path]].append(path)
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            yield group[i:i + batch_size]


def load_input(path: Path, target: tuple[int, int], channels: int,
               input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
    """One image as the generator's input ``[C, H, W]`` in ``input_range`` (default [-1, 1]),
    resized (bicubic) to ``target`` = (width, height) unless it has that size already."""
    image = read_rgb(path)
    if image.size != target:
        image = image.resize(target, Image.Resampling.BICUBIC)
    if channels == 1:
        image = image.convert("L")
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return input_range.from_uint8(torch.from_numpy(array.copy()).permute(2, 0, 1))


def to_pixels(output: torch.Tensor, input_range: InputRange = DEFAULT_RANGE) -> np.ndarray:
    """A generator output ``[C, H, W]`` in ``input_range`` (default [-1, 1]) as uint8
    ``[H, W, C]`` (C 1 or 3)."""
    signed = input_range.to_signed(output.detach().float().cpu())
    pixels = ((signed.clamp(-1, 1) + 1) * 127.5).round()
    return pixels.to(torch.uint8).permute(1, 2, 0).numpy()


def write_png(pixels: np.ndarray, path: Path) -> None:
    """``pixels`` ``[H, W, 1 or 3]`` uint8 as a PNG at ``path``, atomically."""
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def _run(generator: torch.nn.Module | OnnxGenerator, inputs: list[torch.Tensor],
         names: list[Path], device: str | torch.device, result: TranslateResult
         ) -> tuple[list[torch.Tensor], list[Path]]:
    """The generator's outputs for a batch of equal-size images; when it cannot run on them
    (an image too small for its padding or down-sampling), each image alone, and those it
    still cannot run on are skipped with a warning naming them."""
    def forward(batch: list[torch.Tensor]) -> torch.Tensor:
        x = torch.stack(batch)
        return generator(x.to(device) if isinstance(generator, torch.nn.Module) else x)

    try:
        return list(forward(inputs)), names
    except (RuntimeError, ValueError, ExportError) as error:
        if len(inputs) > 1:
            outputs, kept = [], []
            for x, path in zip(inputs, names):
                out, ran = _run(generator, [x], [path], device, result)
                outputs += out
                kept += ran
            return outputs, kept
        height, width = inputs[0].shape[-2:]
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
        warnings.warn(f"skipped {names[0]}: the generator cannot run on it at {width}x{height} "
                      f"({first})", stacklevel=4)
        result.skipped.append(names[0])
        return [], []


@torch.no_grad()
def translate_folder(generator: torch.nn.Module | OnnxGenerator, source: str | os.PathLike,
                     out: str | os.PathLike, config: TranslateConfig = TranslateConfig(), *,
                     device: str | torch.device = "cpu", progress: bool = True
                     ) -> TranslateResult:
    """Translate every image of the folder ``source`` with ``generator`` and write
    ``<out>/<stem>.png`` for each (see the module docstring for sizes and files).

    ``config``: sizes, batches and input range (:class:`TranslateConfig`). ``device``: where
    a PyTorch generator runs (ONNX files run on the CPU). Deterministic: the same inputs give
    the same files. A PyTorch generator runs in eval mode and is given back in its own.
    Raises DataError (bad folder, no readable image, clashing names), OutputError
    (unwritable ``out``, ``out`` is ``source``), ValueError (a size the ONNX file was not
    exported for)."""
    source, out = Path(source), Path(out)
    size, multiple, input_range = config.size, config.multiple, config.input_range
    if isinstance(generator, OnnxGenerator) and generator.image_size is not None:
        if size is not None and size != generator.image_size:
            fixed = generator.image_size
            raise ValueError(f"{generator.path}: exported for {fixed}x{fixed} images, not "
                             f"{size}x{size} (export it again at --size {size}, or leave out "
                             "--size)")
        size = generator.image_size
    if input_range is None:
        input_range = generator.input_range if isinstance(generator, OnnxGenerator) \
            else DEFAULT_RANGE
    check_output_folder(out, "--out")
    if source.resolve() == out.resolve():
        raise OutputError(f"--out {out}: is the input folder; write the translations to "
                          "another folder")
    files, listed = readable_images(source)  # warns naming the unreadable ones
    result = TranslateResult(skipped=sorted(set(list_images(source)) - set(files)))
    _check_names(files)
    sizes = _target_sizes(files, size, multiple)
    channels = channels_of(generator)
    module = generator if isinstance(generator, torch.nn.Module) else None
    out.mkdir(parents=True, exist_ok=True)
    with borrowed(module, training=False), tqdm(total=len(files), desc="translate",
                                                 unit="image", disable=not progress) as bar:
        for batch in _batches(files, sizes, config.batch_size):
            inputs, names = [], []
            for path in batch:
                try:
                    inputs.append(load_input(path, sizes[path], channels, input_range))
                    names.append(path)
                except DataError as error:  # decodes badly past a sound header
                    warnings.warn(f"skipped {error}", stacklevel=2)
                    result.skipped.append(path)
            if inputs:
                outputs, names = _run(generator, inputs, names, device, result)
                for path, output in zip(names, outputs):
                    target = out / output_name(path)
                    write_png(to_pixels(output, input_range), target)
                    result.written.append(target)
                    result.sizes[target.name] = (int(output.shape[-1]), int(output.shape[-2]))
            bar.update(len(batch))
    if not result.written:
        raise DataError(f"{source}: none of the {listed} images could be read")
    result.skipped.sort()
    return result


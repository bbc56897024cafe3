"""Apply a generator to every image of a folder and write the translations as PNG files of the
same names (``horse1.jpg`` -> ``<out>/horse1.png``). The generator is a .pth file (upstream
ResNet, original or slim; with --generator, a full or slim file of that class: the class a
slim file's JSON names is imported only when given so) or an ONNX file of 'export' (run on
the CPU by ONNX Runtime). Without --size every image keeps its size rounded to the nearest
multiple of --multiple (an ONNX file: the size it was exported at); unreadable images and
images the generator cannot run on are skipped with a warning naming them. Pixels reach the
generator in its input range: the one its file records (an ONNX file's metadata, a .pth
file's JSON), else -1,1, or --input-range."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..configs import add_config_flags, flag_values
from ..data import check_folder
from ..translate import OnnxGenerator, TranslateConfig, load_translator, translate_folder
from . import CommandError
from .common import (
    add_generator_arguments,
    architecture,
    flagged,
    input_range,
    range_beside,
)

#: the flags of the TranslateConfig fields (the input range is --input-range's)
FLAGS = ("size", "multiple", "batch_size")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="GENERATOR",
                        help="a generator file: .pth (upstream keys, original or slim, or "
                             "--generator's class) or .onnx (of 'deap-gan-prune export')")
    parser.add_argument("source", metavar="FOLDER", help="folder of images to translate")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for the translations (default: FOLDER_translated beside "
                             "the input folder)")
    add_config_flags(parser, TranslateConfig, FLAGS, overrides={"size": {"metavar": "SIZE"}})
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda, cuda:1, ... for a .pth generator (ONNX files run on "
                             "the CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_generator_arguments(parser, weights=False)


def default_out(source: str | Path) -> Path:
    """``<source>_translated`` beside the input folder."""
    source = Path(source).resolve()
    return source.parent / f"{source.name}_translated"


def interrupted(args: argparse.Namespace) -> str:
    """What a stopped translation left."""
    return (f"the images written to {args.out} so far are whole; the same command writes "
            "them all again")


def run(args: argparse.Namespace) -> int:
    try:
        settings = TranslateConfig(**flag_values(args, TranslateConfig, FLAGS))
    except ValueError as exc:
        raise CommandError(flagged(exc)) from None
    source = Path(args.source)
    check_folder(source, "image folder")
    model = Path(args.model)
    if model.is_dir():
        raise CommandError(f"{model}: is a folder, not a generator file")
    if not model.is_file():
        raise CommandError(f"{model}: no such generator file")
    out = Path(args.out) if args.out else default_out(source)
    generator = load_translator(model, args.device, architecture(args))
    recorded = [(str(model), generator.input_range)] if isinstance(generator, OnnxGenerator) \
        else range_beside(model)
    value = input_range(args, recorded)
    config = replace(settings, input_range=value)
    result = translate_folder(generator, source, out, config, device=args.device,
                              progress=not args.quiet)
    sizes = sorted(set(result.sizes.values()))
    shown = ", ".join(f"{w}x{h}" for w, h in sizes[:3]) + (", ..." if len(sizes) > 3 else "")
    skipped = f"; skipped {len(result.skipped)} (named above)" if result.skipped else ""
    print(f"translated {len(result.written)} images ({shown}) with {model.name}{skipped}; "
          f"wrote {out}")
    return 0

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
from pathlib import Path

from ..data import check_folder
from ..translate import OnnxGenerator, TranslateConfig, load_translator, translate_folder
from . import CommandError
from .common import add_generator_arguments, architecture, input_range, range_beside


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="GENERATOR",
                        help="a generator file: .pth (upstream keys, original or slim, or "
                             "--generator's class) or .onnx (of 'deap-gan-prune export')")
    parser.add_argument("source", metavar="FOLDER", help="folder of images to translate")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for the translations (default: FOLDER_translated beside "
                             "the input folder)")
    parser.add_argument("--size", type=int, default=None,
                        help="resize every image to SIZE x SIZE pixels (default: keep each "
                             "image's size, rounded to a multiple of --multiple; an ONNX "
                             "file: its exported size)")
    parser.add_argument("--multiple", type=int, default=4,
                        help="without --size, image sides are rounded to a multiple of this: 4 "
                             "for the upstream ResNet, 8 for a network down-sampling 3 times")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="images per forward pass (images of one size are batched "
                             "together)")
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
    for option, value in (("--batch-size", args.batch_size), ("--multiple", args.multiple)):
        if value < 1:
            raise CommandError(f"{option} {value}: must be 1 or more")
    if args.size is not None and (args.size < args.multiple or args.size % args.multiple):
        raise CommandError(f"--size {args.size}: must be a positive multiple of --multiple "
                           f"({args.multiple})")
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
    config = TranslateConfig(size=args.size, multiple=args.multiple,
                             batch_size=args.batch_size, input_range=value)
    result = translate_folder(generator, source, out, config, device=args.device,
                              progress=not args.quiet)
    sizes = sorted(set(result.sizes.values()))
    shown = ", ".join(f"{w}x{h}" for w, h in sizes[:3]) + (", ..." if len(sizes) > 3 else "")
    skipped = f"; skipped {len(result.skipped)} (named above)" if result.skipped else ""
    print(f"translated {len(result.written)} images ({shown}) with {model.name}{skipped}; "
          f"wrote {out}")
    return 0

"""Export a generator file to ONNX (one file, dynamic batch, height and width) or TorchScript,
then check the export against eager PyTorch on random images and print the largest difference;
or, with ``--int8``, to a static int8 ONNX file calibrated and checked on images."""
from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Literal

from ..devices import check_memory
from ..export import (
    ONNX_OPSET,
    TOLERANCE,
    export_generator,
    format_of,
    import_onnxruntime,
    verify_export,
)
from ..imagerange import InputRange
from ..nets.checkpoints import load_generator
from ..nets.counting import activation_bytes
from ..outputs import check_output_file
from . import CommandError

if TYPE_CHECKING:
    import torch
from .common import (
    add_data_arguments,
    add_generator_arguments,
    architecture,
    check_at_least,
    input_range,
    load_data,
    range_beside,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="GENERATOR.pth",
                        help="a generator file: upstream ResNet keys (slim or full), a slim "
                             "file with its JSON, or a full file of --generator's class")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default=None,
                        help="onnx (checked with ONNX Runtime) or torchscript (torch.jit.trace); "
                             "default: by the suffix of --out (.onnx: onnx)")
    parser.add_argument("--out", required=True, metavar="PATH", help="file to write")
    parser.add_argument("--size", type=int, default=256,
                        help="image size in pixels of the trace and the check (the ONNX file "
                             "takes any height and width)")
    parser.add_argument("--opset", type=int, default=ONNX_OPSET,
                        help="ONNX opset (ignored for torchscript)")
    parser.add_argument("--check-batch", type=int, default=2,
                        help="random images in the check (2 also tests the dynamic batch axis)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help="largest allowed |export - eager|; exit 1 above it (not --int8)")
    q = parser.add_argument_group("int8 (static quantization through ONNX Runtime)")
    q.add_argument("--int8", action="store_true",
                   help="write a static int8 ONNX file calibrated on --calibration images of "
                        "--dataroot (default: the embedded data) and checked on its test "
                        "images; the figures go to OUT.json")
    q.add_argument("--calibration", type=int, default=32, metavar="N",
                   help="training images of the generator's input domain for calibration")
    q.add_argument("--check-images", type=int, default=16, metavar="N",
                   help="held-out test images for the int8 check")
    q.add_argument("--domain", choices=("A", "B"), default="A",
                   help="the domain the generator translates from")
    q.add_argument("--original", metavar="FILE", default=None,
                   help="the original (unpruned) generator: the check then reports both "
                        "files' PSNR to its output and the dB that int8 loses (default: none; "
                        "the check compares with the float network only)")
    q.add_argument("--keep-float", default="auto", metavar="auto|none|NODE,...",
                   help="layers left in float: auto (the most sensitive, until the loss is "
                        "within --max-loss-db), none, or ONNX node names")
    q.add_argument("--max-loss-db", type=float, default=0.5,
                   help="PSNR to the original's output that int8 may lose (with --original)")
    q.add_argument("--min-psnr-db", type=float, default=30.0,
                   help="PSNR to the float output that int8 must keep (without --original)")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    add_data_arguments(parser)
    add_generator_arguments(parser, weights=False)


def run(args: argparse.Namespace) -> int:
    if args.size <= 0 or args.size % 4:
        raise CommandError(f"--size {args.size}: must be a positive multiple of 4")
    if args.check_batch < 1:
        raise CommandError(f"--check-batch {args.check_batch}: must be at least 1")
    check_at_least(args, 0, "--max-loss-db", "--min-psnr-db")
    if not (math.isfinite(args.tolerance) and args.tolerance > 0):
        raise CommandError(f"--tolerance {args.tolerance}: must be a finite number above 0")
    fmt = args.format or format_of(args.out)
    check_output_file(args.out, "--out")
    if fmt == "onnx" or args.int8:
        import_onnxruntime()
    generator = load_generator(args.file, architecture=architecture(args))
    value = input_range(args, range_beside(args.file) + range_beside(args.original))
    check_memory(activation_bytes(generator, args.size, max(args.check_batch, 1)),
                 f"--size {args.size} (with --check-batch {args.check_batch})")
    if args.int8:
        if fmt != "onnx":
            raise CommandError("--int8 writes ONNX: give --out FILE.onnx (or --format onnx)")
        return run_int8(args, generator, value)
    info = export_generator(generator, args.out, fmt, args.size, args.opset,
                            input_range=value)
    diff = verify_export(args.out, generator, args.size, args.check_batch, fmt=fmt,
                         input_range=value)
    if fmt == "onnx":
        kind = f"ONNX opset {info['opset']}, dynamic batch, height and width, weights in the file"
    else:
        kind = "TorchScript (traced)"
    print(f"wrote {info['path']} ({kind}; {info['bytes'] / 1e6:.2f} MB; traced at "
          f"{args.size}x{args.size}; input range {value.text})")
    print(f"max |export - eager| = {diff:.3g} on {args.check_batch} random "
          f"{args.size}x{args.size} images (tolerance {args.tolerance:g})")
    if not diff <= args.tolerance:
        raise CommandError(f"{args.out}: export differs from eager PyTorch by {diff:.3g} "
                           f"(above the tolerance {args.tolerance:g})")
    return 0


def keep_float_setting(text: str) -> Literal["auto"] | tuple[str, ...]:
    """``--keep-float``: "auto", "none" (nothing kept in float) or comma-separated names."""
    if text == "auto":
        return "auto"
    if text == "none":
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def run_int8(args: argparse.Namespace, generator: torch.nn.Module, value: InputRange) -> int:
    from ..quantization import Int8Config, export_int8

    for option, count in (("--calibration", args.calibration),
                          ("--check-images", args.check_images)):
        if count < 1:
            raise CommandError(f"{option} {count}: must be at least 1")
    if args.image_size is None:
        args.image_size = args.size
    args.seed = 0
    data = load_data(args, n_val=args.calibration, input_range=value)
    calibration = data.val_a if args.domain == "A" else data.val_b
    check = (data.test_a if args.domain == "A" else data.test_b)[:args.check_images]
    original = load_generator(args.original, architecture=architecture(args)) \
        if args.original else None
    config = Int8Config(keep_float=keep_float_setting(args.keep_float),
                        max_loss_db=args.max_loss_db, min_psnr_db=args.min_psnr_db,
                        opset=args.opset)
    result = export_int8(generator, args.out, calibration, check, original, config,
                         progress=not args.quiet, input_range=value)
    c = result.check
    print(f"wrote {result.path} (static int8, QDQ, dynamic batch/height/width; "
          f"{result.bytes / 1e6:.2f} MB, float {result.float_bytes / 1e6:.2f} MB; "
          f"{result.int8_weights:,} int8 weights)")
    print(f"integer kernels run: {result.kernels['integer'] or 'none'}; layers in float: "
          f"{', '.join(result.float_layers) or 'none'}"
          + (f" (kept in float for quality: {', '.join(result.kept_float)})"
             if result.kept_float else ""))
    line = (f"check on {c['images']} held-out {c['image_size'][0]}x{c['image_size'][1]} "
            f"images: int8 to float PSNR {c['to_float']['psnr_db']:.2f} dB, SSIM "
            f"{c['to_float']['ssim']:.4f}")
    if "loss_db" in c:
        line += (f"; to the original: float {c['float_to_original']['psnr_db']:.2f} dB, int8 "
                 f"{c['int8_to_original']['psnr_db']:.2f} dB (loses {c['loss_db']:.2f} dB)")
    print(line)
    print(f"wrote {result.path}.json")
    return 0

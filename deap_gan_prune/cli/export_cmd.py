"""Export a generator file to ONNX (one file, dynamic batch axis) or TorchScript, then check
the export against eager PyTorch on random images and print the largest difference."""
from __future__ import annotations

import argparse

from ..nets.checkpoints import load_generator
from ..export import ONNX_OPSET, TOLERANCE, export_generator, verify_export
from ..outputs import check_output_file
from . import CommandError
from .common import add_generator_arguments, architecture


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="GENERATOR.pth",
                        help="a generator file: upstream ResNet keys (slim or full), a slim "
                             "file with its JSON, or a full file of --generator's class")
    parser.add_argument("--format", choices=("onnx", "torchscript"), required=True,
                        help="onnx (checked with ONNX Runtime) or torchscript (torch.jit.trace)")
    parser.add_argument("--out", required=True, metavar="PATH", help="file to write")
    parser.add_argument("--size", type=int, default=256,
                        help="image size in pixels to export (ONNX: fixed in the file; "
                             "default 256)")
    parser.add_argument("--opset", type=int, default=ONNX_OPSET,
                        help=f"ONNX opset (default {ONNX_OPSET}; ignored for torchscript)")
    parser.add_argument("--check-batch", type=int, default=2,
                        help="random images in the check (default 2: also tests the dynamic "
                             "batch axis)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help=f"largest allowed |export - eager| (default {TOLERANCE:g}); "
                             "exit 1 above it")
    add_generator_arguments(parser, weights=False)


def run(args: argparse.Namespace) -> int:
    if args.size <= 0 or args.size % 4:
        raise ValueError(f"--size {args.size}: must be a positive multiple of 4")
    if args.check_batch < 1:
        raise ValueError(f"--check-batch {args.check_batch}: must be at least 1")
    check_output_file(args.out, "--out")
    generator = load_generator(args.file, architecture=architecture(args))
    info = export_generator(generator, args.out, args.format, args.size, args.opset)
    diff = verify_export(args.out, generator, args.size, args.check_batch, fmt=args.format)
    if args.format == "onnx":
        kind = f"ONNX opset {info['opset']}, dynamic batch axis, weights in the file"
    else:
        kind = "TorchScript (traced)"
    print(f"wrote {info['path']} ({kind}; {info['bytes'] / 1e6:.2f} MB; "
          f"{args.size}x{args.size} images)")
    print(f"max |export - eager| = {diff:.3g} on {args.check_batch} random "
          f"{args.size}x{args.size} images (tolerance {args.tolerance:g})")
    if not diff <= args.tolerance:
        raise CommandError(f"{args.out}: export differs from eager PyTorch by {diff:.3g} "
                           f"(above the tolerance {args.tolerance:g})")
    return 0

"""Print the kind, widths, parameters, MACs (both conventions) and mask-space size of a
checkpoint file."""
from __future__ import annotations

import argparse
import json

from ..checkpoints import CheckpointError, load_discriminator, load_generator
from ..counting import count_module_macs, count_module_parameters
from ..maskspace import MaskSpace
from ..widths import count_macs, count_parameters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a .pth generator or discriminator (upstream key names)")
    parser.add_argument("--size", type=int, default=256,
                        help="image size in pixels for the MAC figures (default 256)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def describe(path: str, size: int = 256) -> dict:
    """A dict describing the checkpoint at ``path``."""
    try:
        generator = load_generator(path)
    except CheckpointError as as_generator:
        try:
            discriminator = load_discriminator(path)
        except CheckpointError:
            raise as_generator from None
        return {"file": str(path), "kind": "NLayerDiscriminator",
                "input_nc": discriminator.input_nc, "ndf": discriminator.ndf,
                "n_layers": discriminator.n_layers,
                "parameters": count_module_parameters(discriminator),
                "macs_real": count_module_macs(discriminator, size, "real"),
                "image_size": size}
    w = generator.widths
    return {"file": str(path), "kind": "ResnetGenerator", "widths": w.to_dict(),
            "use_dropout": generator.use_dropout, "parameters": count_parameters(w),
            "macs_output": count_macs(w, size, "output"), "macs_real": count_macs(w, size, "real"),
            "image_size": size, "mask_bits": MaskSpace(w).n_bits,
            "mask_bits_tied": (MaskSpace(w, "tied").n_bits
                               if all(m == w.stream for m in w.inner) else None)}


def format_text(info: dict) -> str:
    lines = [f"{info['file']}: {info['kind']}"]
    if info["kind"] == "ResnetGenerator":
        w = info["widths"]
        lines.append(f"  widths      first {w['first']}, down1 {w['down1']}, stream {w['stream']}, "
                     f"inner {w['inner']}, up1 {w['up1']}, up2 {w['up2']} "
                     f"({w['input_nc']}->{w['output_nc']} channels)")
    else:
        lines.append(f"  ndf {info['ndf']}, n_layers {info['n_layers']}, "
                     f"input channels {info['input_nc']}")
    lines.append(f"  parameters  {info['parameters']:,}")
    size = info["image_size"]
    if "macs_output" in info:
        lines.append(f"  MACs        {info['macs_output'] / 1e9:.2f} G at {size}x{size} "
                     "(transposed convs counted at output positions)")
    lines.append(f"  MACs        {info['macs_real'] / 1e9:.2f} G at {size}x{size} "
                 "(real arithmetic, as torch.utils.flop_counter)")
    if "mask_bits" in info:
        tied = info["mask_bits_tied"]
        lines.append(f"  mask space  {info['mask_bits']} bits (independent block widths)"
                     + (f", {tied} bits (tied layout)" if tied else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.size <= 0 or args.size % 4:
        raise ValueError(f"--size {args.size}: must be a positive multiple of 4")
    info = describe(args.file, args.size)
    print(json.dumps(info, indent=2) if args.json else format_text(info))
    return 0

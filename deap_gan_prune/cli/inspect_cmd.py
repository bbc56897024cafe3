"""Print the kind, widths, parameters, MACs (both conventions) and mask-space size of a
checkpoint file."""
from __future__ import annotations

import argparse
import json

import torch

from ..nets.checkpoints import CheckpointError, load_discriminator, load_generator
from ..nets.counting import count_module_macs, count_module_parameters, image_channels
from ..nets.groups import space_of
from .common import add_generator_arguments, architecture


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a .pth generator or discriminator (upstream key names)")
    parser.add_argument("--size", type=int, default=256,
                        help="image size in pixels for the MAC figures (default 256)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_generator_arguments(parser, weights=False, range_option=False)  # runs no images


def describe_generator(path: str, generator: torch.nn.Module, size: int) -> dict:
    """The channel groups of ``generator``'s mask space (traced at ``size`` pixels by
    :func:`~deap_gan_prune.nets.groups.space_of`) and its sizes; the upstream ResNet's widths
    too (the space's view)."""
    space = space_of(generator, torch.zeros(1, image_channels(generator), size, size))
    full = space.full()
    info = {"file": str(path), "kind": type(generator).__name__,
            "groups": [{"name": g.name, "channels": g.channels,
                        **({"channels_per_bit": g.block} if g.block > 1 else {})}
                       for g in space.groups],
            "fixed_groups": list(space.fixed),
            "parameters": space.size(full),
            "macs_output": space.size(full, "macs", size, "output"),
            "macs_real": space.size(full, "macs", size, "real"), "image_size": size,
            "mask_bits": space.n_bits}
    w = space.widths
    if w is not None:
        tied = all(m == w.stream for m in w.inner)
        info.update(widths=w.to_dict(), use_dropout=bool(getattr(generator, "use_dropout", False)),
                    mask_bits_tied=space.tied().n_bits if tied else None)
    return info


def describe(path: str, size: int = 256, arch: dict | None = None) -> dict:
    """A dict describing the checkpoint at ``path`` (of class ``arch`` when given)."""
    try:
        generator = load_generator(path) if arch is None else \
            load_generator(path, architecture=arch)
    except CheckpointError as as_generator:
        if arch is not None:
            raise
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
    return describe_generator(path, generator, size)


def format_text(info: dict) -> str:
    lines = [f"{info['file']}: {info['kind']}"]
    if "widths" in info:
        w = info["widths"]
        lines.append(f"  widths      first {w['first']}, down1 {w['down1']}, stream {w['stream']}, "
                     f"inner {w['inner']}, up1 {w['up1']}, up2 {w['up2']} "
                     f"({w['input_nc']}->{w['output_nc']} channels)")
    if "groups" in info:
        lines.append(f"  channel groups ({len(info['groups'])}, removed together; the output "
                     "layer is never pruned):")
        lines += [f"    {g['name']:<40} {g['channels']:>5} channels" for g in info["groups"]]
        if info["fixed_groups"]:
            lines.append(f"  kept whole   {', '.join(info['fixed_groups'])}")
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
        tied = info.get("mask_bits_tied")
        lines.append(f"  mask space  {info['mask_bits']} bits"
                     + (f", {tied} bits (tied layout)" if tied else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.size <= 0 or args.size % 4:
        raise ValueError(f"--size {args.size}: must be a positive multiple of 4")
    info = describe(args.file, args.size, architecture(args))
    print(json.dumps(info, indent=2) if args.json else format_text(info))
    return 0

"""Turn searched masks (``masks.json`` of ``search``) into physically smaller generators,
initialised from the kept weights: ``slim_G_A.pth`` and ``slim_G_B.pth`` (upstream keys)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..checkpoints import save_generator
from ..counting import count_module_parameters
from ..maskspace import MaskSpace
from ..slimming import slim
from . import CommandError
from .common import add_model_arguments, load_models, read_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("masks", help="masks.json written by 'deap-gan-prune search'")
    add_model_arguments(parser)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="slim", help="output folder (default slim/)")


def run(args: argparse.Namespace) -> int:
    data = read_json(args.masks, "masks")
    gan = load_models(args, discriminators=False)
    out = Path(args.out)
    for name, g in (("A", gan.g_a), ("B", gan.g_b)):
        try:
            space = MaskSpace.from_dict(data["spaces"][name])
            bits = data["masks"][name]
        except (KeyError, TypeError) as exc:
            raise CommandError(f"{args.masks}: not a masks file of 'search' (missing {exc})") \
                from None
        if space.widths != g.widths:
            raise CommandError(f"{args.masks}: masks were searched on other widths than the "
                               f"generator G_{name} given")
        small = slim(g, space.slot_masks(bits))
        save_generator(small, out / f"slim_G_{name}.pth", extra={"masks": args.masks})
        print(f"G_{name}: {count_module_parameters(g):,} -> {count_module_parameters(small):,} "
              f"parameters -> {out / f'slim_G_{name}.pth'}")
    return 0

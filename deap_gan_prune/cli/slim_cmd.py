"""Turn searched masks (``masks.json`` of ``search``, or a point of a front file of ``search
--front``) into physically smaller generators, initialised from the kept weights:
``slim_G_A.pth`` and ``slim_G_B.pth`` (upstream keys)."""
from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..core.maskspace import MaskSpace
from ..nets.checkpoints import load_cyclegan, save_generator
from ..nets.counting import count_module_parameters
from ..nets.slimming import slim
from ..outputs import check_output_folder, staged_folder
from . import CommandError
from .common import (
    add_generator_arguments,
    add_model_arguments,
    add_point_arguments,
    architecture,
    front_point,
    input_range,
    is_front,
    load_models,
    load_own_generator,
    range_entry,
    range_in,
    ranges_of_models,
    read_json,
)

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("masks", help="masks.json written by 'deap-gan-prune search', or a "
                                      "front file of 'search --front'")
    add_model_arguments(parser)
    add_generator_arguments(parser)
    parser.add_argument("--device", default="cpu",
                        help="where the networks are loaded and slimmed: cpu, cuda, cuda:1, ...")
    parser.add_argument("--out", default="slim", help="output folder (default slim/)")
    add_point_arguments(parser)


def mask_bits(data: dict, name: str, path: str) -> tuple[MaskSpace, list[int]]:
    """The mask space and 0/1 bits of generator ``G_<name>`` in a masks file; a CommandError
    naming the file and the generator when they are missing or not a valid mask."""
    try:
        space = MaskSpace.from_dict(data["spaces"][name])
        bits = data["masks"][name]
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandError(f"{path}: not a masks file of 'search' (missing or bad {exc})") \
            from None
    if not isinstance(bits, list) or len(bits) != space.n_bits:
        found = f"{len(bits)} bits" if isinstance(bits, list) else type(bits).__name__
        raise CommandError(f"{path}: the mask of G_{name} must be a list of {space.n_bits} "
                           f"bits, found {found}")
    wrong = next((i for i, b in enumerate(bits) if type(b) is not int or b not in (0, 1)), None)
    if wrong is not None:
        raise CommandError(f"{path}: the mask of G_{name} has {json.dumps(bits[wrong])} at "
                           f"position {wrong}; bits must be 0 or 1")
    short = next((g for g in space.groups
                  if sum(bits[g.offset:g.stop]) < max(g.min_keep, 1)), None)
    if short is not None:
        kept = sum(bits[short.offset:short.stop])
        raise CommandError(f"{path}: the mask of G_{name} keeps {kept} channels of group "
                           f"{short.name!r}, fewer than its minimum {max(short.min_keep, 1)}")
    return space, bits


def run(args: argparse.Namespace) -> int:
    out = check_output_folder(args.out, "--out")
    data = read_json(args.masks, "masks")
    if not isinstance(data, dict):
        raise CommandError(f"{args.masks}: not a masks file of 'search' (not a JSON object)")
    arch = architecture(args)
    picked = any(v is not None for v in (args.index, args.at_size, args.at_latency))
    if arch is not None and picked:
        raise CommandError("--index, --at-size and --at-latency take a front of the "
                           "CycleGAN search, not of --generator")
    recorded = data.get("supernet")
    if arch is None and not args.checkpoints and isinstance(recorded, str) and recorded:
        args.checkpoints = recorded  # masks scored on a supernet are slimmed from it
        print(f"slimming from the supernet {recorded} (recorded in {args.masks})")
    value = input_range(args, range_in(data, args.masks) + ranges_of_models(args))
    if arch is not None and args.checkpoints and args.weights:
        raise CommandError("--generator takes --weights FILE (one generator) or "
                           "--checkpoints DIR (both generators), not both")
    point = None
    if arch is None and is_front(data):
        point = front_point(data, args, args.masks)
        values = data["points"][point]["values"]
        print(f"point {point} of the front: " + ", ".join(f"{k} {v:.4g}"
                                                          for k, v in values.items()))
        data = {"spaces": data.get("spaces"), "masks": {n: data["points"][point][n]
                                                        for n in "AB"}}
    elif picked:
        raise CommandError(f"{args.masks}: --index, --at-size and --at-latency need a front "
                           "file of 'search --front'")
    names = "A" if arch is not None and not args.checkpoints else "AB"
    masks = {name: mask_bits(data, name, args.masks) for name in names}
    originals = _originals(args, arch)
    extra = {"masks": args.masks, **({} if point is None else {"front_point": point}),
             **range_entry(value)}
    smalls = {}
    for name, generator in originals.items():
        space, bits = masks[name]
        _check_space(args, name, space, generator)
        smalls[name] = slim(generator, bits, space)
    with staged_folder(out) as stage:  # every generator, or nothing changed
        for name, small in smalls.items():
            space, bits = masks[name]
            save_generator(small, stage / f"slim_G_{name}.pth", extra=extra,
                           architecture=arch, space=space, bits=bits)
    for name, small in smalls.items():
        print(f"G{'' if len(smalls) == 1 else '_' + name}: "
              f"{count_module_parameters(originals[name]):,} -> "
              f"{count_module_parameters(small):,} parameters -> {out / f'slim_G_{name}.pth'}")
    return 0


def _originals(args: argparse.Namespace, arch: dict | None) -> dict[str, torch.nn.Module]:
    """The generators to slim by name: the CycleGAN's pair (``--checkpoints``, a supernet or
    the shipped teacher); with ``--generator``, the pair of ``--checkpoints DIR`` or the one
    of ``--weights`` (``{"A": G}``)."""
    if arch is None:
        gan = load_models(args, discriminators=False)
    elif args.checkpoints:
        gan = load_cyclegan(args.checkpoints, args.epoch, args.device, arch)
    else:
        return {"A": load_own_generator(args)}
    return {"A": gan.g_a, "B": gan.g_b}


def _check_space(args: argparse.Namespace, name: str, space: MaskSpace,
                 generator: torch.nn.Module) -> None:
    """A CommandError unless the mask space of ``G_<name>`` is the one of ``generator``: the
    upstream ResNet's widths, or the traced network of ``--generator``."""
    if architecture(args) is None:
        if space.widths != generator.widths:
            raise CommandError(f"{args.masks}: masks were searched on other widths than the "
                               f"generator G_{name} given")
    elif not space.matches(generator):
        raise CommandError(f"{args.masks}: masks of G_{name} were searched on another "
                           f"network than {args.generator} with {args.generator_kwargs}")

"""Measure slim generators against the originals: parameters, MACs, CPU latency side by side
and translation quality (judge, fidelity, and outline measures on the synthetic data). With
``--generator``: one generator of the user's class (``slim_G_A.pth`` of ``slim --generator``)
against the original on the domain-A test images: SSIM/PSNR to the original's outputs,
parameters and MACs from the traced mask space, latency side by side. With ``--fid``: FID and
KID (torch-fidelity, Inception weights from --inception-weights or torch-fidelity's cache,
never downloaded) of the original's and the pruned translations against the real test images
of the target domain (few test images give biased, noisy figures: compare runs on the same
images only)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import atomic_write_json
from ..generator_reports import generator_report, single_generator_report, translations
from ..metrics.evaluation import translate
from ..metrics.fid import (
    FidConfig,
    cached_inception_weights,
    check_fid_available,
    fid_by_direction,
)
from ..nets.checkpoints import load_cyclegan, load_generator, traced_description
from ..nets.counting import image_channels
from ..outputs import check_output_file
from ..report import (
    directions_of,
    format_single_summary,
    format_summary,
    quality_report,
    single_quality_report,
)
from . import CommandError

if TYPE_CHECKING:
    import torch

    from ..domains import DomainData
    from ..imagerange import InputRange
from .common import (
    add_data_arguments,
    add_generator_arguments,
    add_model_arguments,
    add_run_arguments,
    architecture,
    check_at_least,
    input_range,
    load_data,
    load_models,
    load_own_generator,
    load_slim_pair,
    range_beside,
    range_entry,
    ranges_of_models,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slim", help="folder with slim_G_A.pth and slim_G_B.pth (with "
                                     "--generator: slim_G_A.pth, or that file itself)")
    add_model_arguments(parser)
    add_generator_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--repeats", type=int, default=20, help="latency runs (default 20)")
    parser.add_argument("--judge-steps", type=int, default=300,
                        help="training steps of the offline judge (default 300)")
    add_run_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", default=None,
                        help="also write the summary JSON here (default: print only)")
    f = parser.add_argument_group("FID and KID (optional extra 'fid': torch-fidelity)")
    f.add_argument("--fid", action="store_true",
                   help="also FID and KID of the original's and the pruned translations "
                        "against the real test images of the target domain (implied by "
                        "--inception-weights)")
    f.add_argument("--inception-weights", metavar="PATH", default=None,
                   help="torch-fidelity's Inception weights file (default: its cache, "
                        f"{cached_inception_weights()}; nothing is downloaded)")
    f.add_argument("--fid-batch-size", type=int, default=32,
                   help="images per Inception forward pass")


def fid_wanted(args: argparse.Namespace) -> Path | None:
    """The Inception weights file when FID is asked for (checked, with torch-fidelity, before
    any work), else None."""
    if not (args.fid or args.inception_weights):
        return None
    if args.fid_batch_size < 1:
        raise CommandError(f"--fid-batch-size {args.fid_batch_size}: must be 1 or more")
    return check_fid_available(args.inception_weights)


def add_fid(quality: dict, outputs: dict, reals: dict, weights: str | os.PathLike | None,
            args: argparse.Namespace, value: InputRange | None = None) -> None:
    """FID/KID of every set of ``outputs`` into ``quality`` (and its ``directions``); images
    in the input range ``value`` (default -1,1)."""
    if value is not None and not value.is_default:
        outputs = {name: {k: value.to_signed(v) for k, v in out.items()}
                   for name, out in outputs.items()}
        reals = {k: value.to_signed(v) for k, v in reals.items()}
    scores = fid_by_direction(outputs, reals, weights, args.device,
                              FidConfig(batch_size=args.fid_batch_size))
    for name, entry in scores.items():
        quality.setdefault(name, {}).update(entry)
    quality.setdefault("directions", {}).update(directions_of(quality))


def run(args: argparse.Namespace) -> int:
    check_at_least(args, 1, "--repeats")
    check_at_least(args, 0, "--judge-steps")
    if args.out:
        check_output_file(args.out, "--out")
    args.fid_weights = fid_wanted(args)
    if architecture(args) is not None:
        return run_own(args)
    recorded = [entry for name in ("G_A", "G_B")
                for entry in range_beside(Path(args.slim) / f"slim_{name}.pth")]
    data = load_data(args, input_range=input_range(args, recorded + ranges_of_models(args)))
    gan = load_models(args, data, discriminators=False)
    pruned = load_slim_pair(args.slim, args)
    outputs = {"original": translations(gan, data), "pruned": translations(pruned, data)}
    summary = {"data": data.name, "image_size": data.image_size, "device": args.device,
               **range_entry(data.input_range), "generators": {},
               "quality": quality_report(data, outputs, seed=args.seed,
                                         judge_steps=args.judge_steps,
                                         progress=not args.quiet)}
    if args.fid_weights is not None:
        add_fid(summary["quality"], outputs, {"a2b": data.test_b, "b2a": data.test_a},
                args.fid_weights, args, data.input_range)
    for name, original, small in (("G_A", gan.g_a, pruned[0]), ("G_B", gan.g_b, pruned[1])):
        summary["generators"][name] = generator_report(original, small, data.image_size,
                                                       repeats=args.repeats, device=args.device,
                                                       input_range=data.input_range)
    if args.out:
        atomic_write_json(Path(args.out), summary)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def _described(path: Path, args: argparse.Namespace) -> tuple:
    """``(space, bits)`` of a slim file of ``--generator``'s class; CommandError otherwise."""
    if not path.is_file():
        raise CommandError(f"{path}: no such slim generator file (write it with "
                           "'slim --generator')")
    described = traced_description(path)
    if described is None:
        raise CommandError(f"{path}: no JSON beside it describing a --generator network")
    arch, space, bits = described
    wanted = architecture(args)
    assert wanted is not None  # called with --generator
    if arch != wanted:
        raise CommandError(f"{path}: a slim {arch['class']} with {json.dumps(arch['kwargs'])}, "
                           f"not --generator {wanted['class']} with "
                           f"{json.dumps(wanted['kwargs'])}")
    return space, bits


def _head(args: argparse.Namespace, data: DomainData) -> dict:
    arch = architecture(args)
    assert arch is not None  # called with --generator
    return {"data": data.name, "image_size": data.image_size, "device": args.device,
            **range_entry(data.input_range), "architecture": arch["class"],
            "arguments": arch["kwargs"]}


#: each generator's direction: its name in reports, the test images it translates and the real
#: images of its target domain (attributes of DomainData)
DIRECTIONS = {"A": ("a2b", "test_a", "test_b"), "B": ("b2a", "test_b", "test_a")}


def _compare(args: argparse.Namespace, data: DomainData, name: str, original: torch.nn.Module,
             path: Path, described: tuple, origin: str) -> dict:
    """The generator and quality reports of the slim file ``path`` of ``G_<name>``
    (``described``: its space and bits) against ``original`` (named ``origin`` in errors) on
    the test images of its source domain; with --fid, FID/KID of both against the target
    domain's test images."""
    direction, source, target = DIRECTIONS[name]
    images = getattr(data, source)
    space, bits = described
    if image_channels(original) != images.shape[1]:
        raise CommandError(f"--generator {args.generator} takes {image_channels(original)} "
                           f"image channels, the data has {images.shape[1]}")
    if not space.matches(original):
        raise CommandError(f"{path}: slimmed from another network than {origin}")
    pruned = load_generator(path, args.device, architecture(args))
    value = input_range(args, range_beside(path) + ranges_of_models(args))
    outputs = {"original": translate(original, images), "pruned": translate(pruned, images)}
    quality = single_quality_report(outputs["original"], outputs["pruned"], direction, value)
    if args.fid_weights is not None:
        add_fid(quality, {kind: {direction: out} for kind, out in outputs.items()},
                {direction: getattr(data, target)}, args.fid_weights, args, value)
    return {"generator": single_generator_report(original, pruned, space, bits,
                                                 data.image_size, repeats=args.repeats,
                                                 device=args.device, input_range=value),
            "quality": quality}


def _slim_files(args: argparse.Namespace) -> dict[str, Path]:
    """The slim files to evaluate by generator name: with ``--checkpoints DIR``,
    ``slim_G_A.pth`` and ``slim_G_B.pth`` of the folder ``slim``; else ``slim_G_A.pth`` of
    it (or ``slim``, that file itself)."""
    path = Path(args.slim)
    if not args.checkpoints:
        return {"A": path / "slim_G_A.pth" if path.is_dir() else path}
    if args.weights:
        raise CommandError("--generator takes --weights FILE (one generator) or "
                           "--checkpoints DIR (both generators), not both")
    if not path.is_dir():
        raise CommandError(f"{path}: with --checkpoints, give the folder of 'slim "
                           "--checkpoints' (slim_G_A.pth and slim_G_B.pth)")
    return {name: path / f"slim_G_{name}.pth" for name in "AB"}


def run_own(args: argparse.Namespace) -> int:
    """Generators of the user's class against their originals, each in its direction: the one
    of ``--weights`` (A→B only), or both of ``--checkpoints DIR``."""
    files = _slim_files(args)
    described = {name: _described(path, args) for name, path in files.items()}
    recorded = [entry for path in files.values() for entry in range_beside(path)]
    data = load_data(args, input_range=input_range(args, recorded + ranges_of_models(args)))
    if args.checkpoints:
        gan = load_cyclegan(args.checkpoints, args.epoch, args.device, architecture(args))
        originals = {"A": (gan.g_a, f"G_A of {args.checkpoints}"),
                     "B": (gan.g_b, f"G_B of {args.checkpoints}")}
    else:
        originals = {"A": (load_own_generator(args), f"--weights {args.weights}")}
    parts = {name: _compare(args, data, name, original, files[name], described[name], origin)
             for name, (original, origin) in originals.items()}
    if len(parts) == 1:
        summary = {**_head(args, data), **parts["A"]}
        text = format_single_summary(summary)
    else:
        summary = {**_head(args, data), "directions": {
            f"G_{name}": {"direction": DIRECTIONS[name][0], **part}
            for name, part in parts.items()}}
        text = "\n\n".join(format_single_summary({**summary, **part})
                           for part in summary["directions"].values())
    if args.out:
        atomic_write_json(Path(args.out), summary)
    print(json.dumps(summary, indent=2) if args.json else text)
    return 0

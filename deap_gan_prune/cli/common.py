"""Arguments shared by the subcommands: the models, the data, device, seed, quiet."""
from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..domains import DomainData, folder_data, synthetic_data
from ..imagerange import DEFAULT_RANGE, OPTION, RANGE_KEY, InputRange, resolve
from ..nets.checkpoints import CycleGAN, architecture_of, load_cyclegan, load_generator
from ..training.pair import ensure_discriminators
from . import CommandError

if TYPE_CHECKING:
    import torch


def check_at_least(args: argparse.Namespace, low: float, *options: str) -> None:
    """Refuse, before any work, an option (``"--repeats"``) whose value is not a finite
    number of at least ``low``."""
    for option in options:
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        if not (math.isfinite(value) and value >= low):
            raise CommandError(f"{option} {value}: must be a finite number {low:g} or more")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoints", metavar="DIR",
                        help="folder with latest_net_{G_A,G_B}[,D_A,D_B].pth (upstream layout; "
                             "with --generator, both generators of that class); default: the "
                             "teacher shipped in the package")
    parser.add_argument("--epoch", default="latest",
                        help="checkpoint prefix, <epoch>_net_G_A.pth (default latest)")


#: the help of --input-range
INPUT_RANGE_HELP = (
    "the value range the generator takes its images in and gives them back in: -1,1 "
    "(upstream CycleGAN), 0,1, any LOW,HIGH, or mean=M[,M,M];std=S[,S,S] (per channel, "
    "(pixel - mean) / std with pixels in [0, 1], as torchvision's Normalize). Data, "
    "fidelity measures, exports and translations follow it, and every file written that "
    "describes a generator records it (key input_range; a file without it means -1,1). "
    "Default: the range the files read record, else -1,1; a range other than theirs is "
    "refused. A value starting with '-' takes '=': --input-range=-1,1")


def parse_input_range(text: str) -> InputRange:
    """``--input-range`` as argparse reads it (a bad one is a usage error, exit 2)."""
    try:
        return InputRange.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(OPTION + " ")) from None


def add_input_range_argument(parser: argparse.ArgumentParser) -> None:
    """``--input-range RANGE`` (default None: the recorded range, else -1,1)."""
    parser.add_argument("--input-range", type=parse_input_range, default=None,
                        metavar="RANGE", help=INPUT_RANGE_HELP)


def range_in(record: object, name: str) -> list[tuple[str, InputRange]]:
    """``[(name, range)]`` of a JSON record a command reads (a masks or front file, a
    generator's JSON): the range it records, ``-1,1`` when it records none."""
    if not isinstance(record, dict):
        return []
    try:
        return [(name, InputRange.from_dict(record))]
    except ValueError as exc:
        raise CommandError(f"{name}: {exc}") from None


def range_beside(path: str | Path | None) -> list[tuple[str, InputRange]]:
    """``[(json, range)]`` of the JSON that :func:`save_generator` wrote beside the generator
    file ``path`` (none for a file without one, e.g. an upstream download)."""
    if not path:
        return []
    side = Path(path).with_suffix(".json")
    if not side.is_file():
        return []
    try:
        record = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return []
    if not isinstance(record, dict) or record.get("kind") not in ("traced", "ResnetGenerator"):
        return []
    return range_in(record, str(side))


def ranges_of_models(args: argparse.Namespace) -> list[tuple[str, InputRange]]:
    """The ranges recorded beside the generator files ``--weights`` and ``--checkpoints``
    name."""
    found = range_beside(getattr(args, "weights", None))
    if getattr(args, "checkpoints", None):
        folder, epoch = Path(args.checkpoints), getattr(args, "epoch", "latest")
        for name in ("G_A", "G_B"):
            found += range_beside(folder / f"{epoch}_net_{name}.pth")
    return found


def input_range(args: argparse.Namespace,
                recorded: Sequence[tuple[str, InputRange]] = ()) -> InputRange:
    """The generator's input range: ``--input-range``, which must agree with every file in
    ``recorded``; without it the range those files record, else -1,1."""
    try:
        return resolve(getattr(args, "input_range", None), recorded)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def range_entry(value: InputRange) -> dict:
    """``{"input_range": text}``, the entry output files record."""
    return {RANGE_KEY: value.text}


def add_generator_arguments(parser: argparse.ArgumentParser, weights: bool = True,
                            range_option: bool = True) -> None:
    """``--generator pkg.module:Class [--generator-kwargs JSON]`` (and ``--weights FILE``):
    a generator of the user's own class instead of the upstream ResNet; and (with
    ``range_option``) ``--input-range``, the range any generator takes its images in."""
    g = parser.add_argument_group("a generator of your own class")
    g.add_argument("--generator", metavar="PKG.MODULE:CLASS", default=None,
                   help="the generator's class (importable), e.g. mypkg.nets:UNet (default: "
                        "the upstream ResNet generator)")
    g.add_argument("--generator-kwargs", metavar="JSON", default="{}",
                   help="its constructor arguments as a JSON object (default {})")
    if weights:
        g.add_argument("--weights", metavar="FILE", default=None,
                       help="with --generator: its weights file (a state dict; default: none, "
                            "give it or --checkpoints)")
    if range_option:
        add_input_range_argument(parser)


def architecture(args: argparse.Namespace) -> dict | None:
    """The ``--generator`` architecture (class path and arguments), or None."""
    if not getattr(args, "generator", None):
        return None
    try:
        kwargs = json.loads(args.generator_kwargs)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--generator-kwargs: not valid JSON ({exc.msg})") from None
    if not isinstance(kwargs, dict):
        raise CommandError("--generator-kwargs: must be a JSON object, e.g. '{\"ngf\": 32}'")
    return architecture_of(args.generator, kwargs)


def load_own_generator(args: argparse.Namespace) -> torch.nn.Module:
    """The generator named by ``--generator`` and ``--weights`` (eval mode, on --device)."""
    if not args.weights:
        raise CommandError("--generator needs --weights FILE (the generator's state dict)")
    return load_generator(args.weights, getattr(args, "device", "cpu"), architecture(args))


def add_data_arguments(parser: argparse.ArgumentParser,
                       generator_size: int | None = None) -> None:
    """--dataroot, --image-size, --n-train, --n-test; ``generator_size``: the image size of
    a --generator run without --image-size, where the command has one."""
    parser.add_argument("--dataroot", metavar="DIR",
                        help="image folder with trainA, trainB, testA, testB; default: the "
                             "embedded synthetic horse/zebra data")
    mine = f"; {generator_size} for a --generator search" if generator_size else ""
    parser.add_argument("--image-size", type=int, default=None,
                        help=f"pixels (default 256 for --dataroot, 64 for the synthetic "
                             f"data{mine})")
    parser.add_argument("--n-train", type=int, default=512,
                        help="synthetic training images per domain (default 512)")
    parser.add_argument("--n-test", type=int, default=64,
                        help="test images per domain (default 64 synthetic, all for a folder)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def load_models(args: argparse.Namespace, data: DomainData | None = None,
                discriminators: bool = True) -> CycleGAN:
    """The CycleGAN named by ``--checkpoints`` (or the shipped teacher); missing
    discriminators are fitted on ``data`` when ``discriminators``."""
    if args.checkpoints:
        gan = load_cyclegan(args.checkpoints, args.epoch, args.device)
    else:
        from ..teacher import load_teacher
        gan = load_teacher(args.device)
    if discriminators and not gan.has_discriminators:
        if data is None:
            raise CommandError(f"{args.checkpoints}: no discriminator files, and no data to "
                               "fit them on")
        gan = ensure_discriminators(gan, data, seed=args.seed, device=args.device,
                                    progress=not args.quiet)
    return gan


def load_data(args: argparse.Namespace, n_val: int = 16,
              input_range: InputRange = DEFAULT_RANGE) -> DomainData:
    """The data named by ``--dataroot`` (or the synthetic data), with ``n_val`` validation
    images per domain, in ``input_range``."""
    if args.image_size is not None and (args.image_size <= 0 or args.image_size % 4):
        raise CommandError(f"--image-size {args.image_size}: must be a positive multiple of 4")
    if args.dataroot:
        return folder_data(args.dataroot, args.image_size or 256, n_val=n_val, seed=args.seed,
                           n_test=None if args.n_test == 64 else args.n_test,
                           input_range=input_range)
    return synthetic_data(args.n_train, args.n_test, args.image_size or 64, seed=args.seed,
                          n_val=n_val, input_range=input_range)


def read_json(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such {what} file")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = exc.msg if hasattr(exc, "msg") else exc
        raise CommandError(f"{path}: not a valid JSON {what} file ({detail})") from None


def load_slim_pair(folder: str | Path, args: argparse.Namespace) -> tuple:
    """The slim G_A and G_B of ``folder``, of the class ``--generator`` names (if any)."""
    folder = Path(folder)
    return tuple(load_generator(folder / f"slim_{name}.pth", args.device, architecture(args))
                 for name in ("G_A", "G_B"))


def is_front(data: object) -> bool:
    """True for a front file of ``search --front``."""
    return isinstance(data, dict) and data.get("kind") == "front"


def check_front(data: dict, path: str | Path) -> list[dict]:
    """The points of a front file, each with masks A and B and numeric ``values`` (score and
    sizes); a CommandError naming the file and the first bad point otherwise."""
    points = data.get("points")
    if not isinstance(points, list) or not points:
        raise CommandError(f"{path}: the front holds no points")
    for i, point in enumerate(points):
        values = point.get("values") if isinstance(point, dict) else None
        if not (isinstance(values, dict) and "score" in values and all(
                type(v) in (int, float) for v in values.values())):
            raise CommandError(f"{path}: point {i} of the front has no numeric values")
        if not all(isinstance(point.get(n), list) for n in "AB"):
            raise CommandError(f"{path}: point {i} of the front has no masks A and B")
    chosen = data.get("chosen", 0)
    if type(chosen) is not int or not 0 <= chosen < len(points):
        raise CommandError(f"{path}: 'chosen' must be a point index 0..{len(points) - 1}")
    return points


def parse_latency(text: str) -> float:
    """Milliseconds from ``20ms``, ``0.02s`` or ``20`` (ms)."""
    value = text.strip().lower()
    scale = 1.0
    if value.endswith("ms"):
        value = value[:-2]
    elif value.endswith("s"):
        value, scale = value[:-1], 1e3
    try:
        ms = float(value) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a latency such as 20ms") from None
    if not ms > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a latency must be > 0")
    return ms


def add_point_arguments(parser: argparse.ArgumentParser) -> None:
    """--index / --at-size / --at-latency: which point of a front file."""
    g = parser.add_argument_group("point of a front (files of 'search --front'; default: "
                                  "the front's chosen point, nearest the ideal)")
    g.add_argument("--index", type=int, default=None,
                   help="the point with this index (default: the chosen point)")
    g.add_argument("--at-size", type=float, default=None, metavar="RATIO",
                   help="the best point whose size ratio is at most RATIO, e.g. 0.15 "
                        "(default: the chosen point)")
    g.add_argument("--at-latency", type=parse_latency, default=None, metavar="TIME",
                   help="the best point whose predicted latency is at most TIME, e.g. 20ms "
                        "(default: the chosen point)")
    g.add_argument("--size-measure", choices=["parameters", "macs"], default="parameters",
                   help="what --at-size counts (default parameters)")


def front_point(data: dict, args: argparse.Namespace, path: str | Path) -> int:
    """The index of the point of a front file the point arguments ask for (default: the
    front's chosen one)."""
    from ..evolution.pareto import choose_point
    points = check_front(data, path)
    try:
        return choose_point(points, args.index, args.at_size, args.at_latency,
                            args.size_measure, default=data.get("chosen", 0))
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None


def flagged(exc: ValueError) -> str:
    """A settings error (``Config: name must be ...``) as its flag's: ``--name must be ...``."""
    problem = str(exc).split(": ", 1)[-1]
    name = problem.split(" ", 1)[0]
    return "--" + name.replace("_", "-") + problem[len(name):]

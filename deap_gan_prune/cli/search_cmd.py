"""Co-evolve channel masks of both generators of a CycleGAN and write them as JSON (with the
logbook), plus a fitness plot. With --front: one multi-objective search (NSGA-II) writes the
Pareto front of quality and size (or predicted latency) as JSON, plus its plot. With
--generator: one generator of the user's class (--weights FILE), or both (--checkpoints DIR),
co-evolved like the upstream pair."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..evolution.front import FrontResult
from ..evolution.raymap import import_ray
from ..evolution.search import search
from ..evolution.search_config import (
    DEFAULT_BUDGET,
    GENERATOR_SEARCH_SIZE,
    GENERATOR_SPEEDUP,
    SearchConfig,
    default_variation,
)
from ..files import atomic_write_json
from ..nets.checkpoints import load_cyclegan
from ..nets.latency_model import RUNTIMES
from ..outputs import check_output_file
from ..plotting import plot_fitness, plot_front
from ..runoptions import RunOptions
from ..teacher import SUPERNET_DIR
from . import CommandError, resumable
from .common import (
    add_data_arguments,
    add_generator_arguments,
    add_model_arguments,
    add_run_arguments,
    architecture,
    input_range,
    load_data,
    load_models,
    load_own_generator,
    range_beside,
    range_entry,
    ranges_of_models,
)

if TYPE_CHECKING:
    from ..domains import DomainData
    from ..evolution.front_config import FrontConfig
    from ..evolution.result import SearchResult
    from ..evolution.task import Task
    from ..imagerange import InputRange
    from ..nets.latency_model import LatencyModel

#: the value of --budget asking for the paper's soft size term instead of a budget
NO_BUDGET = "none"
#: --variation: the width search, or bit-string variation of the channels
VARIATIONS = ("widths", "channels")


def parse_budget(text: str) -> float | str:
    """A size ratio, or ``"none"`` (the paper's soft size term)."""
    if text.strip().lower() == NO_BUDGET:
        return NO_BUDGET
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a size ratio such as 0.25 nor "
                                         f"'{NO_BUDGET}'") from None


def comma_separated(text: str) -> tuple[str, ...]:
    """``a,b`` as ``("a", "b")``."""
    return tuple(name for name in text.split(",") if name)


def speedup_of(args: argparse.Namespace) -> float | None:
    """The search's latency budget: --speedup, or GENERATOR_SPEEDUP for one generator of the
    user's class given neither --budget nor --speedup (not with --front); None: a size
    budget."""
    if getattr(args, "speedup", None) is not None:
        return args.speedup
    if args.budget is None and not getattr(args, "front", False) and one_generator(args):
        return GENERATOR_SPEEDUP
    return None


def budget_of(args: argparse.Namespace) -> float | None:
    """The search's budget: --budget, 1 / the speed-up (:func:`speedup_of`), or
    DEFAULT_BUDGET without either; None for 'none'."""
    speedup = speedup_of(args)
    if speedup is not None:
        if args.budget is not None:
            raise CommandError("--speedup is a latency budget: leave out --budget")
        if not speedup > 1:
            raise CommandError(f"--speedup {speedup:g}: must be above 1 (e.g. 4 for 4x "
                               "faster)")
        return 1.0 / speedup
    if args.budget is None:
        return DEFAULT_BUDGET
    if args.budget == NO_BUDGET:
        return None
    return args.budget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_generator_arguments(parser)
    add_data_arguments(parser, generator_size=GENERATOR_SEARCH_SIZE)
    from ..configs import add_config_flags
    from ..evolution.front_config import FrontConfig
    g = parser.add_argument_group("search")
    add_config_flags(g, SearchConfig, ("population", "generations", "fitness"))
    g.add_argument("--supernet", metavar="DIR", nargs="?", const="", default=None,
                   help="once-for-all generators of 'deap-gan-prune supernet' (without DIR: "
                        "the shipped teacher's): masks are scored on their weights (implies "
                        "--fitness supernet, also with --front); 'slim' then slims from DIR "
                        "(default: none, the original weights)")
    budget = {"type": parse_budget, "metavar": "RATIO|none", "help": (
        f"size ratio every candidate is repaired to meet in parameters and MACs (in "
        f"parameters only with --variation widths; default {DEFAULT_BUDGET}: 4x smaller, as "
        "the example, and for --generator --weights a speed-up instead, see --speedup); "
        "'none': no cap, the paper's soft size term γ·size instead (γ 1, no uniform mask "
        "seeded); not with --front")}
    add_config_flags(g, SearchConfig, ("adapt_steps", "adapt_score", "select", "gamma",
                                       "lambda_cycle", "budget"), overrides={"budget": budget})
    g.add_argument("--speedup", type=float, default=None, metavar="X",
                   help="a latency budget instead of --budget: every candidate at most 1/X "
                        "of the original's latency as predicted by a latency model measured "
                        "on --runtime (default onnx: ONNX Runtime on the CPU, one thread) at "
                        "--latency-size px (default: 4 for one generator of your class, "
                        "--generator --weights, without --budget; else none, --budget)")
    g.add_argument("--latency-size", type=int, default=256, metavar="PX",
                   help="the image size --speedup's latency is measured at (default 256)")
    add_config_flags(g, SearchConfig, ("repair_order", "round_to", "size_measure", "perceptual",
                                       "layout"))
    g.add_argument("--variation", choices=VARIATIONS, default=None,
                   help="widths: the width search (masks start at the uniform mask with "
                        "random channels, capacity moves between groups, the best finalists "
                        "briefly fine-tuned; default for --generator --weights); channels: "
                        "bit-string crossover and mutation of the channels (default otherwise)")
    # their defaults depend on --variation (SearchConfig.widths)
    by_variation = ("init", "mate", "mutate", "finalists")
    add_config_flags(g, SearchConfig, (*by_variation, "finalist_steps", "n_images",
                                       "adapt_images", "train_steps"), unset=by_variation)
    f = parser.add_argument_group("front (multi-objective search)")
    f.add_argument("--front", action="store_true",
                   help="search the Pareto front of quality and size instead of one budget")
    add_config_flags(f, FrontConfig, ("objectives", "size_range"), overrides={
        "objectives": {"type": comma_separated, "nargs": None, "choices": None}})
    f.add_argument("--latency-table", metavar="FILE", default=None,
                   help="latency model cache to reuse or write (default: beside --out)")
    f.add_argument("--runtime", choices=list(RUNTIMES), default=None,
                   help="what the latency model measures: eager torch, ONNX Runtime float "
                        "or int8 (as export --int8 writes it) on the CPU, or cuda (default: "
                        "onnx for --speedup; for --front cuda with --device cuda, else "
                        "torch)")
    f.add_argument("--no-latency", action="store_true",
                   help="do not measure a latency model (no latency on the front)")
    add_run_arguments(parser)
    e = parser.add_argument_group("distribution and resumption")
    e.add_argument("--workers", type=int, default=0,
                   help="evaluate in N local processes (default 0: in this process)")
    e.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="evaluate on Ray actors: 'local' starts an instance, 'auto' or "
                        "ray://host:port joins a cluster (needs the 'ray' extra; default: "
                        "no Ray)")
    e.add_argument("--checkpoint", metavar="FILE", default=None,
                   help="search state rewritten after every generation (JSON; default: none)")
    e.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint if it exists (same settings and models)")
    e.add_argument("--overwrite", action="store_true",
                   help="start afresh even if --checkpoint exists (it is overwritten)")
    parser.add_argument("--out", default="masks.json", help="masks and logbook (JSON)")
    parser.add_argument("--plot", default=None,
                        help="fitness plot (default: beside --out, OUT_fitness.png or, with "
                             "--front, OUT_front.png)")


def fitness_of(args: argparse.Namespace) -> Any:
    """--fitness, made "supernet" by --supernet (which no other explicit fitness takes)."""
    if args.supernet is None:
        if args.fitness == "supernet":
            raise CommandError("--fitness supernet needs --supernet DIR (the folder 'deap-gan-"
                               "prune supernet' wrote)")
        return args.fitness
    if args.fitness == "paper":
        raise CommandError("--supernet searches with the supernet fitness: leave out "
                           "--fitness paper")
    return "supernet"


def one_generator(args: argparse.Namespace) -> bool:
    """True for one generator of the user's class (--generator with --weights)."""
    return architecture(args) is not None and not args.checkpoints


def variation_of(args: argparse.Namespace) -> str:
    """--variation, or its default: widths for --generator --weights at a budget with the
    adapted fitness, channels otherwise."""
    if args.variation is not None:
        return args.variation
    return default_variation(one_generator(args), budget_of(args), args.fitness)


#: the flags of the SearchConfig (and, for the front, the FrontConfig) fields
SEARCH_FLAGS = ("population", "generations", "fitness", "adapt_steps", "adapt_score", "select",
                "gamma", "lambda_cycle", "budget", "repair_order", "size_measure",
                "perceptual", "layout", "init", "mate", "mutate", "finalists",
                "finalist_steps", "n_images", "adapt_images", "train_steps", "round_to", "seed")
FRONT_FLAGS = ("population", "generations", "fitness", "objectives", "size_range", "mate",
               "mutate", "layout", "adapt_steps", "adapt_score", "n_images", "adapt_images",
               "seed")


def config_from(args: argparse.Namespace) -> SearchConfig:
    from ..configs import flag_values
    settings = {**flag_values(args, SearchConfig, SEARCH_FLAGS), "fitness": fitness_of(args),
                "budget": budget_of(args)}
    if speedup_of(args) is not None:
        settings["budget_measures"] = ("latency",)
    if variation_of(args) == "widths":
        if budget_of(args) is None:
            raise CommandError("--variation widths moves capacity at one size: give --budget")
        return SearchConfig.widths(**settings)
    return SearchConfig(**settings)


def plot_path(args: argparse.Namespace) -> Path:
    """--plot, or beside --out (``<stem>_front.png`` with --front)."""
    out = Path(args.out)
    suffix = "_front.png" if getattr(args, "front", False) else "_fitness.png"
    return Path(args.plot) if args.plot else out.with_name(out.stem + suffix)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any work, settings that would fail or lose work later: negative
    workers, unwritable output paths, an existing checkpoint without --resume/--overwrite."""
    if args.workers < 0:
        raise CommandError(f"--workers {args.workers}: must be 0 (in this process) or more")
    if args.resume and args.overwrite:
        raise CommandError("--resume and --overwrite exclude each other")
    if (args.resume or args.overwrite) and not args.checkpoint:
        raise CommandError(f"--{'resume' if args.resume else 'overwrite'} needs --checkpoint "
                           "FILE")
    if args.speedup is not None and args.front:
        raise CommandError("--speedup is a single budget: the front takes --objectives latency "
                           "instead")
    budget_of(args)  # --speedup's own checks
    check_output_file(args.out, "--out")
    check_output_file(plot_path(args), "--plot")
    if args.checkpoint:
        check_output_file(args.checkpoint, "--checkpoint")
        if Path(args.checkpoint).exists() and not (args.resume or args.overwrite):
            raise CommandError(f"--checkpoint {args.checkpoint}: the file exists; add --resume "
                               "to continue that search, or --overwrite to start again")


def front_config_from(args: argparse.Namespace) -> FrontConfig:
    from ..configs import flag_values
    from ..evolution.front import FrontConfig
    return FrontConfig(**{**flag_values(args, FrontConfig, FRONT_FLAGS),
                          "fitness": fitness_of(args)})


def load_supernets(args: argparse.Namespace) -> tuple | None:
    """(S_A, S_B) of --supernet DIR, or None without it."""
    if args.supernet is None:
        return None
    nets = load_cyclegan(args.supernet, args.epoch, args.device)
    return nets.g_a, nets.g_b


def search_range(args: argparse.Namespace) -> InputRange:
    """The generators' input range: --input-range, or the one the model files record."""
    recorded = ranges_of_models(args)
    if args.supernet:
        for name in ("G_A", "G_B"):
            recorded += range_beside(Path(args.supernet) / f"{args.epoch}_net_{name}.pth")
    return input_range(args, recorded)


def latency_path(args: argparse.Namespace) -> Path:
    """--latency-table, or beside --out."""
    out = Path(args.out)
    return Path(args.latency_table or out.with_name(out.stem + "_latency.json"))


def load_task(args: argparse.Namespace, config: SearchConfig | FrontConfig,
              data: DomainData) -> tuple[Task, dict]:
    """The search's task: one generator of the user's class (``--generator``, ``--weights``),
    both of a pair (``--generator``, ``--checkpoints DIR``), or the upstream CycleGAN
    (``--checkpoints`` or the shipped teacher, with ``--supernet``'s once-for-all
    generators); and what the masks file records of where they came from."""
    from ..evolution.task import Task
    if architecture(args) is not None and args.checkpoints and args.weights:
        raise CommandError("--generator takes --weights FILE (one generator) or "
                           "--checkpoints DIR (both generators), not both")
    if architecture(args) is not None and not args.checkpoints:
        return (Task({"A": load_own_generator(args)}, {"A": data.val_a},
                     input_range=data.input_range),
                {"architecture": architecture(args), "weights": str(args.weights)})
    if architecture(args) is not None:
        gan = load_cyclegan(args.checkpoints, args.epoch, args.device, architecture(args))
        if needs_discriminators(config) and not gan.has_discriminators:
            raise CommandError(f"{args.checkpoints}: no discriminator files (latest_net_D_A.pth,"
                               " latest_net_D_B.pth) for a fitness that scores with them; use "
                               "the adapted fitness with --adapt-score l1 or ssim, or "
                               "--perceptual pixel/features")
        extra = {"architecture": architecture(args), "checkpoints": str(args.checkpoints)}
    else:
        judged = config.adapt_score == "discriminator" if args.front else \
            config.fitness != "supernet"
        gan = load_models(args, data, discriminators=judged)
        extra = {} if args.supernet is None else {"supernet": str(args.supernet)}
    supernets = load_supernets(args)
    return (Task.pair(gan.g_a, gan.g_b, data.val_a, data.val_b,
                      discriminators={"A": gan.d_a, "B": gan.d_b},
                      supernets={} if supernets is None else dict(zip("AB", supernets)),
                      input_range=data.input_range), extra)


def with_latency(args: argparse.Namespace, config: SearchConfig | FrontConfig,
                 task: Task) -> Task:
    """``task`` with each generator's latency model (and the space it was measured for) when
    the search needs one: ``--speedup`` (on ``--runtime``, default onnx, at
    ``--latency-size``, one thread) or the front (unless ``--no-latency``: on ``--runtime``,
    default torch, at the images' size)."""
    if isinstance(config, SearchConfig) and "latency" not in config.budget_measures:
        return task
    if not isinstance(config, SearchConfig) and args.no_latency:
        return task
    check_output_file(latency_path(args), "--latency-table")
    if isinstance(config, SearchConfig):
        if args.latency_size <= 0 or args.latency_size % 4:
            raise CommandError(f"--latency-size {args.latency_size}: must be a positive "
                               "multiple of 4")
        runtime, threads = args.runtime or "onnx", 1
    else:
        runtime = args.runtime or ("cuda" if str(args.device).startswith("cuda") else "torch")
        threads = None
    import torch
    if runtime == "cuda" and not torch.cuda.is_available():
        raise CommandError("--runtime cuda needs a GPU (torch.cuda.is_available() is False)")
    try:
        return task.with_latency(latency_path(args), args.latency_size if threads == 1 else None,
                                 runtime, threads, config.layout, progress=not args.quiet)
    except ValueError as exc:
        raise CommandError(f"--latency-table {latency_path(args)}: {exc}") from None


def interrupted(args: argparse.Namespace) -> str:
    """What a stopped run left (the ``generation`` checkpoint, or nothing)."""
    return resumable(args, "generation")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    if args.ray is not None:
        import_ray()  # refused before any work when the extra is missing
    if args.supernet == "":
        if args.checkpoints:
            raise CommandError("--supernet without DIR is the shipped teacher's: give the "
                               "once-for-all generators of --checkpoints as --supernet DIR")
        args.supernet = str(SUPERNET_DIR)
    if args.supernet is not None and architecture(args) is not None:
        raise CommandError("--supernet is for the CycleGAN search: leave out --generator")
    config: SearchConfig | FrontConfig
    if args.front:
        if architecture(args) is not None:
            raise CommandError("--front searches both generators of a CycleGAN: leave out "
                               "--generator")
        if args.budget is not None or args.fitness == "paper":
            raise CommandError("--front searches the adapted (or, with --supernet, the "
                               "supernet) fitness over --size-range: leave out --budget and "
                               "--fitness paper")
        config = front_config_from(args)
        if args.no_latency and "latency" in config.objectives:
            raise CommandError("--objectives latency needs a latency model: leave out "
                               "--no-latency")
    else:
        config = config_from(args)
    if architecture(args) is not None and args.image_size is None:
        args.image_size = GENERATOR_SEARCH_SIZE
    data = load_data(args, n_val=config.n_images + config.adapt_images,
                     input_range=search_range(args))
    task, extra = load_task(args, config, data)
    task = with_latency(args, config, task)
    result = search(task, config, RunOptions(
        device=args.device, progress=not args.quiet, workers=args.workers,
        ray_address=args.ray, checkpoint=args.checkpoint, resume=args.resume))
    out, plot = Path(args.out), plot_path(args)
    written = {**result.to_dict(), **extra, **range_entry(data.input_range)}
    atomic_write_json(out, written)
    if isinstance(result, FrontResult):
        plot_front(written, plot)
        chosen = result.points[result.chosen]["values"]
        parts = ", ".join(f"{k} {v:.4g}" for k, v in chosen.items())
        print(f"front: {len(result.points)} pairs; chosen (nearest the ideal) "
              f"#{result.chosen}: {parts}")
    else:
        plot_fitness(result.logbook, plot, config=result.config.to_dict())
        for name in task.names:
            print_result(args, result, task, name)
    print(f"wrote {out} and {plot}")
    return 0


def print_result(args: argparse.Namespace, result: SearchResult, task: Task, name: str) -> None:
    """One generator's line: its fitness, size and other terms; with a latency budget, its
    predicted speed-up."""
    label = f"G_{name}" if len(task.names) > 1 else "G"
    terms, mask = result.terms[name], result.masks[name]
    parts = ", ".join(f"{k} {v:.4g}" for k, v in terms.items()
                      if k not in ("fitness", "loss", "size_ratio"))
    print(f"{label}: fitness {terms['fitness']:.4f}, size {terms['size_ratio']:.3f} of the "
          f"original ({result.config.size_measure}), "
          f"{len(result.spaces[name].groups)} channel groups, {parts}")
    model = cast("LatencyModel | None", task.latency.get(name))
    if model is not None:
        print(f"{label}: predicted {1 / model.ratio(mask):.2f}x faster than the original on "
              f"{args.runtime or 'onnx'} at {args.latency_size} px "
              f"({model.predict(mask):.1f} ms)")


def needs_discriminators(config: SearchConfig | FrontConfig) -> bool:
    """True when the fitness scores with discriminators (the paper's F with the
    discriminator perceptual term, or the adapted fitness scoring by discriminator)."""
    if config.fitness == "paper":
        return getattr(config, "perceptual", "discriminator") == "discriminator"
    return config.adapt_score == "discriminator"

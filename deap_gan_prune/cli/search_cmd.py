"""Co-evolve channel masks of both generators of a CycleGAN and write them as JSON (with the
logbook), plus a fitness plot. With --front: one multi-objective search (NSGA-II) writes the
Pareto front of quality and size (or predicted latency) as JSON, plus its plot. With
--generator: one generator of the user's class (--weights FILE), or both (--checkpoints DIR),
co-evolved like the upstream pair."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..evolution.raymap import import_ray
from ..evolution.search import SearchConfig, search_masks
from ..evolution.search_config import GENERATOR_SEARCH_SIZE, WIDTHS, default_variation
from ..evolution.single_search import search_single
from ..files import atomic_write_json
from ..nets.checkpoints import load_cyclegan
from ..nets.latency_model import RUNTIMES
from ..outputs import check_output_file
from ..plotting import plot_fitness, plot_front
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
    from ..evolution.front import FrontConfig
    from ..imagerange import InputRange
    from ..nets.checkpoints import CycleGAN
    from ..nets.maskspace import Layout
    from ..workflow import DomainData

#: the size ratio of a search without --budget (4x smaller, as examples/horse2zebra.py)
DEFAULT_BUDGET = 0.25
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


def budget_of(args: argparse.Namespace) -> float | None:
    """The search's budget: --budget, 1 / --speedup, or DEFAULT_BUDGET without either; None
    for 'none'."""
    if getattr(args, "speedup", None) is not None:
        if args.budget is not None:
            raise CommandError("--speedup is a latency budget: leave out --budget")
        if not args.speedup > 1:
            raise CommandError(f"--speedup {args.speedup:g}: must be above 1 (e.g. 4 for 4x "
                               "faster)")
        return 1.0 / args.speedup
    if args.budget is None:
        return DEFAULT_BUDGET
    if args.budget == NO_BUDGET:
        return None
    return args.budget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_generator_arguments(parser)
    add_data_arguments(parser, generator_size=GENERATOR_SEARCH_SIZE)
    d = SearchConfig()
    g = parser.add_argument_group("search")
    g.add_argument("--population", type=int, default=d.population,
                   help="individuals (masks) per generator")
    g.add_argument("--generations", type=int, default=d.generations,
                   help="generations after the starting population")
    g.add_argument("--fitness", choices=["adapted", "paper", "supernet"], default=d.fitness,
                   help="adapted: each candidate distilled briefly toward the original, then "
                        "scored on held-out images (default); paper: the paper's F; "
                        "supernet: scored on --supernet weights as they are")
    g.add_argument("--supernet", metavar="DIR", nargs="?", const="", default=None,
                   help="once-for-all generators of 'deap-gan-prune supernet' (without DIR: "
                        "the shipped teacher's): masks are scored on their weights (implies "
                        "--fitness supernet, also with --front); 'slim' then slims from DIR "
                        "(default: none, the original weights)")
    g.add_argument("--adapt-steps", type=int, default=d.adapt_steps,
                   help=f"distillation steps per candidate (adapted; default {d.adapt_steps})")
    g.add_argument("--adapt-score", choices=["l1", "ssim", "discriminator"],
                   default=d.adapt_score,
                   help="what the adapted (or supernet) fitness scores the candidate's outputs "
                        "by: L1 or SSIM to the original's, or the original discriminator")
    g.add_argument("--select", choices=["tournament", "rank", "roulette"], default=d.select,
                   help="selection (default tournament; roulette is the paper's)")
    g.add_argument("--gamma", type=float, default=None,
                   help="size weight γ (default 0 with a budget, 1 with --budget none)")
    g.add_argument("--lambda-cycle", type=float, default=None,
                   help="cycle weight λ (default 10 for the paper's fitness, 0 for adapted)")
    g.add_argument("--budget", type=parse_budget, default=None, metavar="RATIO|none",
                   help=f"size ratio every candidate is repaired to meet in parameters and "
                        f"MACs (in parameters only with --variation widths; default "
                        f"{DEFAULT_BUDGET}: 4x smaller, as the example); 'none': "
                        "no cap, the paper's soft size term γ·size instead (γ 1, no uniform "
                        "mask seeded); not with --front")
    g.add_argument("--speedup", type=float, default=None, metavar="X",
                   help="a latency budget instead of --budget: every candidate at most 1/X "
                        "of the original's latency as predicted by a latency model measured "
                        "on --runtime (default onnx: ONNX Runtime on the CPU, one thread) at "
                        "--latency-size px")
    g.add_argument("--latency-size", type=int, default=256, metavar="PX",
                   help="the image size --speedup's latency is measured at (default 256)")
    g.add_argument("--repair-order", choices=["random", "l1"], default=d.repair_order,
                   help="which channels the budget repair drops first (default random)")
    g.add_argument("--size-measure", choices=["parameters", "macs"], default=d.size_measure,
                   help="the size γ weighs and the printed size ratio counts")
    g.add_argument("--perceptual", choices=["discriminator", "features", "pixel"],
                   default=d.perceptual,
                   help="the perceptual term of the paper's fitness (--fitness paper)")
    g.add_argument("--layout", choices=["independent", "tied"], default=d.layout,
                   help="independent: every residual block's inner width is its own; tied: "
                        "as the released code, tied to the stream width")
    g.add_argument("--variation", choices=VARIATIONS, default=None,
                   help="widths: the width search (masks start at the uniform mask with "
                        "random channels, capacity moves between groups, the best finalists "
                        "briefly fine-tuned; default for --generator --weights); channels: "
                        "bit-string crossover and mutation of the channels (default otherwise)")
    g.add_argument("--init", choices=["bernoulli", "importance", "uniform"], default=None,
                   help="starting masks: each channel kept at random (the paper's; default "
                        "of channels), the channels of largest L1 norm, perturbed, or the "
                        "uniform counts with capacity moves (default of widths)")
    g.add_argument("--mate", choices=["two_point", "group_boundary", "uniform_group"],
                   default=None, help="crossover of two masks (default two_point for "
                   "channels, uniform_group for widths)")
    g.add_argument("--mutate", choices=["segment", "flip", "move"], default=None,
                   help="mutation: a random segment of bits (default of channels), "
                        "independent bit flips, or channels moved between two groups at one "
                        "size (default of widths)")
    g.add_argument("--finalists", type=int, default=None,
                   help=f"masks of the hall of fame distilled --finalist-steps steps at the "
                        f"end, with the uniform seed, the best kept (default {WIDTHS['finalists']} "
                        f"for widths, {d.finalists} = off for channels; one generator only)")
    g.add_argument("--finalist-steps", type=int, default=WIDTHS["finalist_steps"],
                   help="distillation steps per finalist")
    g.add_argument("--n-images", type=int, default=d.n_images,
                   help="held-out validation images per domain the fitness scores on")
    g.add_argument("--adapt-images", type=int, default=d.train_images,
                   help="further images per domain candidates are adapted (or, with "
                        "--train-steps, trained) on")
    g.add_argument("--train-steps", type=int, default=d.train_steps,
                   help="brief training of every candidate before scoring (the paper's "
                        "optional variant; default 0 = off)")
    f = parser.add_argument_group("front (multi-objective search)")
    f.add_argument("--front", action="store_true",
                   help="search the Pareto front of quality and size instead of one budget")
    f.add_argument("--objectives", default="parameters",
                   help="size objectives beside quality, comma-separated among parameters, "
                        "macs, latency (default parameters)")
    f.add_argument("--size-range", type=float, nargs=2, default=(0.05, 0.5),
                   metavar=("LOW", "HIGH"),
                   help="size ratios the starting masks span; HIGH is also a cap "
                        "(default 0.05 0.5)")
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


def is_single(args: argparse.Namespace) -> bool:
    """True for one generator of the user's class (--generator with --weights)."""
    return architecture(args) is not None and not args.checkpoints


def variation_of(args: argparse.Namespace) -> str:
    """--variation, or its default: widths for --generator --weights at a budget with the
    adapted fitness, channels otherwise."""
    if args.variation is not None:
        return args.variation
    return default_variation(is_single(args), budget_of(args), args.fitness)


def config_from(args: argparse.Namespace) -> SearchConfig:
    settings = {"population": args.population, "generations": args.generations,
                    "fitness": fitness_of(args), "adapt_steps": args.adapt_steps,
                    "adapt_score": args.adapt_score, "select": args.select, "gamma": args.gamma,
                    "lambda_cycle": args.lambda_cycle, "budget": budget_of(args),
                    "repair_order": args.repair_order, "size_measure": args.size_measure,
                    "perceptual": args.perceptual, "layout": args.layout,
                    "n_images": args.n_images, "train_images": args.adapt_images,
                    "train_steps": args.train_steps, "finalist_steps": args.finalist_steps,
                    "seed": args.seed}
    settings.update({k: getattr(args, k) for k in ("init", "mate", "mutate", "finalists")
                     if getattr(args, k) is not None})
    if args.speedup is not None:
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
    from ..evolution.front import FrontConfig
    return FrontConfig(population=args.population, generations=args.generations,
                       fitness=fitness_of(args),
                       objectives=tuple(o for o in args.objectives.split(",") if o),
                       size_range=tuple(args.size_range), mate=args.mate or "two_point",
                       mutate=args.mutate or "segment",
                       layout=args.layout, adapt_steps=args.adapt_steps,
                       adapt_score=args.adapt_score, n_images=args.n_images,
                       train_images=args.adapt_images, seed=args.seed)


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


def run_front(args: argparse.Namespace) -> int:
    """``search --front``: the front (JSON), its plot and the latency model's cache."""
    from ..evolution.front import search_front
    from ..nets.latency_model import LatencyModel
    if args.budget is not None or args.fitness == "paper":
        raise CommandError("--front searches the adapted (or, with --supernet, the supernet) "
                           "fitness over --size-range: leave out --budget and --fitness paper")
    config = front_config_from(args)
    if args.no_latency and "latency" in config.objectives:
        raise CommandError("--objectives latency needs a latency model: leave out "
                           "--no-latency")
    runtime = args.runtime or ("cuda" if str(args.device).startswith("cuda") else "torch")
    import torch
    if runtime == "cuda" and not torch.cuda.is_available():
        raise CommandError("--runtime cuda needs a GPU (torch.cuda.is_available() is False)")
    check_output_file(latency_path(args), "--latency-table")
    data = load_data(args, n_val=config.n_images + config.train_images,
                     input_range=search_range(args))
    gan = load_models(args, data, discriminators=config.adapt_score == "discriminator")
    supernets = load_supernets(args)
    table: LatencyModel | tuple[LatencyModel, LatencyModel] | None = None
    if not args.no_latency:
        models = [latency_model_of(args, config.layout, g, images, images.shape[-1], runtime)[1]
                  for g, images in ((gan.g_a, data.val_a), (gan.g_b, data.val_b))]
        table = models[0] if models[1].key == models[0].key else (models[0], models[1])
    result = search_front(gan.g_a, gan.g_b, data.val_a, data.val_b, config, d_a=gan.d_a,
                          d_b=gan.d_b, latency=table, device=args.device,
                          progress=not args.quiet, workers=args.workers,
                          ray_address=args.ray, checkpoint=args.checkpoint,
                          resume=args.resume, supernets=supernets,
                          input_range=data.input_range)
    out = Path(args.out)
    front = {**result.to_dict(), **range_entry(data.input_range)}
    if args.supernet is not None:
        front["supernet"] = str(args.supernet)
    atomic_write_json(out, front)
    plot = plot_path(args)
    plot_front(front, plot)
    chosen = result.points[result.chosen]["values"]
    parts = ", ".join(f"{k} {v:.4g}" for k, v in chosen.items())
    print(f"front: {len(result.points)} pairs; chosen (nearest the ideal) #{result.chosen}: "
          f"{parts}")
    print(f"wrote {out} and {plot}")
    return 0


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
    if args.front:
        if architecture(args) is not None:
            raise CommandError("--front searches both generators of a CycleGAN: leave out "
                               "--generator")
        return run_front(args)
    config = config_from(args)
    if architecture(args) is not None and args.image_size is None:
        args.image_size = GENERATOR_SEARCH_SIZE
    data = load_data(args, n_val=config.n_images + config.train_images,
                     input_range=search_range(args))
    if architecture(args) is not None:
        if args.checkpoints and args.weights:
            raise CommandError("--generator takes --weights FILE (one generator) or "
                               "--checkpoints DIR (both generators), not both")
        if args.checkpoints:
            return run_pair(args, config, data)
        return run_single(args, config, data)
    gan = load_models(args, data, discriminators=config.fitness != "supernet")
    supernets = load_supernets(args)
    extra = {} if args.supernet is None else {"supernet": str(args.supernet)}
    return search_pair(args, config, data, gan, extra, supernets)


def latency_model_of(args: argparse.Namespace, layout: Layout, generator: Any, images: Any,
                     image_size: int, runtime: str, threads: int | None = None
                     ) -> tuple[Any, Any]:
    """``(space, latency model)`` of ``generator``: its mask space as the search traces it on
    ``images`` (``layout``), and its model on ``runtime`` at ``image_size``, read from or added
    to the ``--latency-table`` cache (a bad cache: one line naming it)."""
    from ..nets.latency_model import latency_model_for
    from ..nets.maskspace import space_of
    space = space_of(generator, images, layout)
    try:
        return space, latency_model_for(latency_path(args), generator, image_size, runtime,
                                        threads, space=space, progress=not args.quiet)
    except ValueError as exc:
        raise CommandError(f"--latency-table {latency_path(args)}: {exc}") from None


def speedup_model(args: argparse.Namespace, config: SearchConfig, generator: Any,
                  images: Any) -> tuple[Any, Any]:
    """``(space, latency model)`` of ``generator`` for ``--speedup``: on ``--runtime``
    (default onnx) at ``--latency-size``, one thread (:func:`latency_model_of`)."""
    check_output_file(latency_path(args), "--latency-table")
    if args.latency_size <= 0 or args.latency_size % 4:
        raise CommandError(f"--latency-size {args.latency_size}: must be a positive multiple "
                           "of 4")
    return latency_model_of(args, config.layout, generator, images, args.latency_size,
                            args.runtime or "onnx", 1)


def search_pair(args: argparse.Namespace, config: SearchConfig, data: DomainData,
                gan: CycleGAN, extra: dict, supernets: tuple | None = None) -> int:
    """Co-evolve both generators of ``gan`` (:func:`search_masks`), write the result with
    ``extra`` entries to ``--out`` and its fitness plot, and print both generators' terms."""
    latency = None
    if "latency" in config.budget_measures:
        latency = tuple(speedup_model(args, config, g, images)[1]
                        for g, images in ((gan.g_a, data.val_a), (gan.g_b, data.val_b)))
    result = search_masks(gan.g_a, gan.g_b, gan.d_a, gan.d_b, data.val_a, data.val_b, config,
                          device=args.device, progress=not args.quiet, workers=args.workers,
                          ray_address=args.ray, checkpoint=args.checkpoint, resume=args.resume,
                          supernets=supernets, input_range=data.input_range, latency=latency)
    out = Path(args.out)
    atomic_write_json(out, {**result.to_dict(), **extra, **range_entry(data.input_range)})
    plot = plot_path(args)
    plot_fitness(result.logbook, plot, config=result.config.to_dict())
    for name, terms in zip("AB", result.terms):
        parts = ", ".join(f"{k} {v:.4g}" for k, v in terms.items()
                          if k not in ("fitness", "loss", "size_ratio"))
        print(f"G_{name}: fitness {terms['fitness']:.4f}, size {terms['size_ratio']:.3f} of the "
              f"original ({config.size_measure}), {parts}")
    for name, model, mask in zip("AB", latency or (), result.masks):
        print(f"G_{name}: predicted {1 / model.ratio(mask):.2f}x faster than the original on "
              f"{args.runtime or 'onnx'} at {args.latency_size} px")
    print(f"wrote {out} and {plot}")
    return 0


def needs_discriminators(config: SearchConfig) -> bool:
    """True when the fitness scores with discriminators (the paper's F with the
    discriminator perceptual term, or the adapted fitness scoring by discriminator)."""
    if config.fitness == "paper":
        return config.perceptual == "discriminator"
    return config.adapt_score == "discriminator"


def run_pair(args: argparse.Namespace, config: SearchConfig, data: DomainData) -> int:
    """Both generators of the user's class (``--generator``, ``--checkpoints DIR`` holding
    ``<epoch>_net_G_A.pth`` and ``<epoch>_net_G_B.pth``): the co-evolution of
    :func:`search_masks`, each generator's channel groups traced."""
    gan = load_cyclegan(args.checkpoints, args.epoch, args.device, architecture(args))
    if needs_discriminators(config) and not gan.has_discriminators:
        raise CommandError(f"{args.checkpoints}: no discriminator files (latest_net_D_A.pth, "
                           "latest_net_D_B.pth) for a fitness that scores with them; use the "
                           "adapted fitness with --adapt-score l1 or ssim, or --perceptual "
                           "pixel/features")
    return search_pair(args, config, data, gan, {"architecture": architecture(args),
                                                 "checkpoints": str(args.checkpoints)})


def run_single(args: argparse.Namespace, config: SearchConfig, data: DomainData) -> int:
    """One generator of the user's class (``--generator``, ``--weights``), no partner: masks
    scored by distillation to the original on domain-A images."""
    generator = load_own_generator(args)
    space, latency = None, None
    if "latency" in config.budget_measures:
        space, latency = speedup_model(args, config, generator, data.val_a)
    result = search_single(generator, data.val_a, config, space=space, device=args.device,
                           progress=not args.quiet, checkpoint=args.checkpoint,
                           resume=args.resume, workers=args.workers, ray_address=args.ray,
                           input_range=data.input_range, latency=latency)
    out = Path(args.out)
    atomic_write_json(out, {**result.to_dict(), "architecture": architecture(args),
                            "weights": str(args.weights), **range_entry(data.input_range)})
    plot = plot_fitness(result.logbook, plot_path(args), config=result.config.to_dict())
    terms = result.terms
    print(f"G: fitness {terms['fitness']:.4f}, size {terms['size_ratio']:.3f} of the original "
          f"({config.size_measure}), {len(result.space.groups)} channel groups")
    if latency is not None:
        print(f"G: predicted {1 / latency.ratio(result.mask):.2f}x faster than the original "
              f"on {args.runtime or 'onnx'} at {args.latency_size} px "
              f"({latency.predict(result.mask):.1f} ms)")
    print(f"wrote {out} and {plot}")
    return 0

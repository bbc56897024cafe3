"""Compress both generators of a CycleGAN by co-evolution: search, slim, fine-tune, measure.

With no arguments it runs on the small teacher shipped in the package and the embedded
synthetic horse ↔ zebra data (under 10 minutes on 2 CPU cores): the library's default search
(adapted fitness, population 12, 8 generations, a 4x budget), then 450 fine-tuning steps::

    python examples/horse2zebra.py                 # the default run
    python examples/horse2zebra.py --quick         # a toy run of under a minute

On a real CycleGAN and dataset (upstream folder layouts)::

    python examples/horse2zebra.py --dataroot datasets/horse2zebra \\
        --checkpoints checkpoints/horse2zebra --image-size 256 --device cuda

With ``--supernet`` the masks are scored on the shipped teacher's once-for-all generators
(every mask of their space works; ``examples/train_supernet.py`` made them), and the winner is
slimmed from them. With ``--supernet DIR`` the once-for-all generators in DIR are used
(``deap-gan-prune supernet`` writes them), trained first into DIR when it does not exist
(``--supernet-steps``, 100 by default; ``--supernet-gan-weight W`` adds the least-squares
GAN loss against the original discriminators), and the winner is slimmed from them::

    python examples/horse2zebra.py --supernet                 # the shipped once-for-all teacher
    python examples/horse2zebra.py --supernet runs/supernet   # trained here first

Writes to ``--out``: ``slim_G_A.pth``/``slim_G_B.pth`` (upstream key names, widths in the
``.json`` beside), ``masks.json``, ``fitness.png``, ``samples.png`` and ``summary.json``.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

import torch

from deap_gan_prune import search
from deap_gan_prune.devices import check_device
from deap_gan_prune.domains import folder_data, synthetic_data
from deap_gan_prune.evolution import SearchConfig, Task
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.generator_reports import generator_report, translations
from deap_gan_prune.nets.checkpoints import load_cyclegan, save_generator
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.outputs import check_output_folder, staged_folder
from deap_gan_prune.plotting import plot_fitness, plot_samples
from deap_gan_prune.report import format_summary, quality_report
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.teacher import SUPERNET_DIR, load_teacher
from deap_gan_prune.training import (
    CycleGANConfig,
    DistillLoss,
    ensure_discriminators,
    finetune_pair,
    supernet_pair,
)
from deap_gan_prune.training.supernet import DEFAULT_BUDGETS, SupernetConfig


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataroot", help="upstream image folder (trainA, trainB, testA, testB); "
                                      "default: the embedded synthetic data")
    p.add_argument("--checkpoints", help="folder with latest_net_{G_A,G_B}[,D_A,D_B].pth; "
                                         "default: the shipped teacher")
    p.add_argument("--image-size", type=int, default=None,
                   help="image size in pixels (default 64 synthetic, 256 for --dataroot)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument("--fitness", choices=["adapted", "paper"], default="adapted",
                   help="adapted: each candidate distilled briefly toward the original, then "
                        "scored on held-out images (default); paper: the paper's F")
    p.add_argument("--adapt-steps", type=int, default=30,
                   help="distillation steps per candidate (adapted fitness; default 30)")
    p.add_argument("--gamma", type=float, default=None,
                   help="size weight γ (default 0 with a budget, 1 without)")
    p.add_argument("--budget", type=float, default=0.25,
                   help="size ratio every candidate must meet in parameters and MACs "
                        "(default 0.25 = 4x smaller; 1 to leave the size to γ alone)")
    p.add_argument("--population", type=int, default=12, help="per generator (default 12)")
    p.add_argument("--generations", type=int, default=8, help="(default 8)")
    p.add_argument("--finetune-steps", type=int, default=450, help="(default 450)")
    p.add_argument("--distill", type=float, default=10.0,
                   help="weight of distillation from the original generators while "
                        "fine-tuning (default 10; 0 disables)")
    p.add_argument("--distill-terms", choices=["default", "l1"], default="default",
                   help="what that distillation measures: the library's default terms (L1, "
                        "SSIM and the features of the kept channels) or the L1 distance of "
                        "the output pixels alone (default: default)")
    p.add_argument("--supernet", metavar="DIR", nargs="?", const=str(SUPERNET_DIR),
                   default=None,
                   help="score masks on once-for-all generators and slim the winner from "
                        "them: the shipped teacher's without DIR, else those in DIR (trained "
                        "there first when DIR does not exist)")
    p.add_argument("--supernet-steps", type=int, default=100,
                   help="training steps per generator when --supernet DIR is trained here "
                        "(default 100)")
    p.add_argument("--supernet-gan-weight", type=float, default=0.0, metavar="W",
                   help="weight of the least-squares GAN loss against the original "
                        "discriminators while training the supernets (default 0: "
                        "distillation only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a toy run of under a minute")
    p.add_argument("--out", default="runs/horse2zebra", help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.quick:
        args.population, args.generations, args.finetune_steps = 6, 2, 10
        args.adapt_steps = min(args.adapt_steps, 3)
        args.supernet_steps = min(args.supernet_steps, 3)
    return args


def search_config(args: argparse.Namespace) -> SearchConfig:
    """The search settings (the paper's search with ``--fitness paper``); SearchConfig refuses
    a budget outside (0, 1] as the CLI does."""
    make = SearchConfig.paper if args.fitness == "paper" else SearchConfig
    if args.supernet is not None:
        if args.supernet == str(SUPERNET_DIR) and args.checkpoints is not None:
            raise ValueError("--supernet without DIR is the shipped teacher's: give the "
                             "once-for-all generators of --checkpoints as --supernet DIR")
        if args.fitness == "paper":
            raise ValueError("--supernet searches with the supernet fitness: leave out "
                             "--fitness paper")
        make = lambda **kw: SearchConfig(fitness="supernet", **kw)  # noqa: E731
    return make(population=args.population, generations=args.generations,
                adapt_steps=args.adapt_steps, gamma=args.gamma,
                budget=None if args.budget == 1 else args.budget,
                n_images=8 if args.quick else 16, adapt_images=8 if args.quick else 32,
                seed=args.seed)


def supernet_generators(args: argparse.Namespace, gan, data, config: SearchConfig, say,
                        progress: bool):
    """The once-for-all generators in ``--supernet`` DIR, trained there first when DIR does
    not exist (on the training images; the budgets include the search's)."""
    folder = Path(args.supernet)
    if folder.exists():
        return load_cyclegan(folder, device=args.device)
    say(f"training once-for-all generators into {folder} ({args.supernet_steps} steps) ...")
    budgets = tuple(sorted({*DEFAULT_BUDGETS, *([config.budget] if config.budget else [])}))
    config = SupernetConfig(steps=args.supernet_steps, budgets=budgets, seed=args.seed,
                            gan_weight=args.supernet_gan_weight)
    return supernet_pair(gan, data, folder, config,
                         RunOptions(device=args.device, progress=progress), n_images=32)


def main(argv=None) -> int:
    args = parse_args(argv)
    progress, out = not args.quiet, Path(args.out)
    check_device(args.device)
    config = search_config(args)
    check_output_folder(out, "--out")
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    say = (lambda *_a: None) if args.quiet else (lambda *a: print(*a, flush=True))

    # 1. The original CycleGAN and the data.
    gan = (load_cyclegan(args.checkpoints, device=args.device) if args.checkpoints
           else load_teacher(args.device))
    n_val = config.n_images + config.adapt_images  # scoring + adaptation images
    if args.dataroot:
        data = folder_data(args.dataroot, args.image_size or 256, n_val=n_val, seed=args.seed,
                           n_test=16 if args.quick else None)
    else:
        n_train, n_test = (32, 8) if args.quick else (512, 64)
        data = synthetic_data(n_train, n_test, size=args.image_size or 64, seed=args.seed,
                              n_val=n_val)
    if not gan.has_discriminators:
        say("fitting discriminators against the frozen generators ...")
        gan = ensure_discriminators(gan, data, steps=20 if args.quick else 500,
                                    seed=args.seed, device=args.device, progress=progress)

    # 2. Optionally once-for-all generators; the co-evolutionary search of both generators'
    # masks (scored on the supernets' weights with --supernet).
    base = gan
    if args.supernet is not None:
        base = supernet_generators(args, gan, data, config, say, progress)
    stages = {"setup": time.perf_counter() - started}
    mark = time.perf_counter()
    task = Task.pair(gan.g_a, gan.g_b, data.val_a, data.val_b,
                     discriminators={"A": gan.d_a, "B": gan.d_b},
                     supernets={} if base is gan else {"A": base.g_a, "B": base.g_b})
    result = search(task, config, RunOptions(device=args.device, progress=progress))
    atomic_write_json(out / "masks.json", result.to_dict())
    plot_fitness(result.logbook, out / "fitness.png",
                 title=f"co-evolution on {data.name}", config=result.config.to_dict())

    # 3. Physically smaller generators, initialised from the kept weights (of the supernets
    # with --supernet); then fine-tuned toward the originals.
    stages["search"], mark = time.perf_counter() - mark, time.perf_counter()
    searched = tuple(slim(g, result.masks[n], result.spaces[n]).eval()
                     for n, g in (("A", base.g_a), ("B", base.g_b)))
    tuned = tuple(copy.deepcopy(g) for g in searched)
    if args.finetune_steps > 0:
        terms = DistillLoss() if args.distill_terms == "default" else DistillLoss.l1_only()
        finetune_pair(gan, *tuned, data,
                      CycleGANConfig(steps=args.finetune_steps, distill_weight=args.distill,
                                     batch_size=4, seed=args.seed, distill=terms),
                      RunOptions(device=args.device, progress=progress),
                      masks=[(result.spaces[n], result.masks[n]) for n in "AB"])
    with staged_folder(out) as stage:  # both files or neither
        for name, g in zip(("G_A", "G_B"), tuned):
            save_generator(g, stage / f"slim_{name}.pth", extra={"search": config.to_dict()})

    stages["fine-tuning"], mark = time.perf_counter() - mark, time.perf_counter()

    # 4. Measure: size, latency side by side, quality of original and pruned.
    outputs = {"original": translations(gan, data), "searched": translations(searched, data),
               "pruned": translations(tuned, data)}
    quality = quality_report(data, outputs, seed=args.seed, progress=progress,
                             judge_steps=30 if args.quick else 200)
    summary = {"data": data.name, "image_size": data.image_size, "device": args.device,
               "search": config.to_dict(), "terms": dict(result.terms),
               "generators": {}, "quality": quality, "supernet": args.supernet}
    for name, original, pruned in (("G_A", gan.g_a, tuned[0]), ("G_B", gan.g_b, tuned[1])):
        summary["generators"][name] = generator_report(
            original, pruned, data.image_size, [data.image_size] if args.quick else None,
            repeats=3 if args.quick else 20, device=args.device)
    plot_samples({"input A": data.test_a, "original A→B": outputs["original"]["a2b"],
                  "pruned A→B": outputs["pruned"]["a2b"], "input B": data.test_b,
                  "original B→A": outputs["original"]["b2a"],
                  "pruned B→A": outputs["pruned"]["b2a"]}, out / "samples.png")
    stages["measuring"] = time.perf_counter() - mark
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["stage_seconds"] = {k: round(v, 1) for k, v in stages.items()}
    atomic_write_json(out / "summary.json", summary)
    print(format_summary(summary))
    say(f"wrote {out}/: slim_G_A.pth, slim_G_B.pth, masks.json, fitness.png, samples.png, "
        "summary.json")
    return 0


def first_line(message: object) -> str:
    """The first line of a message (an exception's type name when it has none)."""
    lines = str(message).strip().splitlines()
    return lines[0] if lines else type(message).__name__


if __name__ == "__main__":
    # warnings and errors on one line each, as the command line prints them
    warnings.formatwarning = lambda message, *_: f"horse2zebra: warning: {first_line(message)}\n"
    try:
        sys.exit(main())
    except (ValueError, OSError) as exc:  # bad input: one line naming it, exit 1
        print(f"horse2zebra: error: {first_line(exc)}", file=sys.stderr)
        sys.exit(1)

"""Train once-for-all versions of both generators (every mask of their space works, by
masked L1 distillation toward the originals; optionally with the least-squares GAN loss
against the original discriminators, --gan-weight, and the cycle loss through the original
partner generator, --cycle-weight) and write them to --out in the upstream layout
(latest_net_{G_A,G_B}.pth, the discriminators copied beside them), for 'search --supernet'."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..configs import add_config_flags, flag_values
from ..outputs import check_output_folder
from ..runoptions import RunOptions
from ..training.pair import supernet_pair
from ..training.supernet import SupernetConfig
from . import CommandError
from .common import (
    add_data_arguments,
    add_model_arguments,
    add_run_arguments,
    load_data,
    load_models,
)

#: the flags of the SupernetConfig fields (the seed is the run's --seed)
FLAGS = ("steps", "budgets", "n_random", "lr", "batch_size", "gan_weight", "cycle_weight")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_data_arguments(parser)
    g = parser.add_argument_group("supernet training")
    add_config_flags(g, SupernetConfig, FLAGS)
    g.add_argument("--train-images", type=int, default=64,
                   help="training images per domain it distils on (default 64)")
    g.add_argument("--resume", action="store_true",
                   help="continue the training states left in --out")
    g.add_argument("--overwrite", action="store_true",
                   help="start afresh even if --out holds supernets")
    add_run_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the supernets (upstream layout)")


def interrupted(args: argparse.Namespace) -> str:
    """Where the training states of a stopped run are."""
    return (f"the training states saved so far are in {args.out}: the same command with "
            "--resume continues them")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_output_folder(out, "--out")
    if args.resume and args.overwrite:
        raise CommandError("--resume and --overwrite exclude each other")
    generators = sorted(p.name for p in out.glob("*net_G*.pth")) if out.is_dir() else []
    if generators and not (out / "supernet.json").exists():
        raise CommandError(f"--out {out}: holds generator files that are not supernets "
                           f"({generators[0]}); choose another folder (nothing was written)")
    if (out / "supernet.json").exists() and not (args.resume or args.overwrite):
        raise CommandError(f"--out {out}: holds supernets already; add --resume to extend "
                           "their training, or --overwrite to start again")
    if args.train_images < 1:
        raise CommandError(f"--train-images {args.train_images}: must be >= 1")
    try:
        config = SupernetConfig(**flag_values(args, SupernetConfig, FLAGS), seed=args.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    data = load_data(args)
    gan = load_models(args, data, discriminators=False)
    if args.gan_weight > 0 and not gan.has_discriminators:
        raise CommandError(f"--gan-weight needs the original discriminators, and "
                           f"{args.checkpoints or 'the shipped teacher'} has no "
                           "discriminator files (D_A, D_B)")
    supernet_pair(gan, data, out, config,
                  RunOptions(device=args.device, progress=not args.quiet),
                  n_images=args.train_images, resume=args.resume)
    print(f"wrote {out}/: latest_net_G_A.pth, latest_net_G_B.pth ({config.steps} steps each)")
    return 0

"""Fine-tune slim generators (``slim_G_A.pth``, ``slim_G_B.pth``) with the CycleGAN losses
against the original discriminators, optionally distilling from the original generators."""
from __future__ import annotations

import argparse

from ..nets.checkpoints import load_generator, save_generator, traced_description
from ..training.brief import BriefDistillation
from ..outputs import check_output_folder, staged_folder
from ..workflow import finetune_pair
from . import CommandError
from .common import (add_data_arguments, add_generator_arguments, add_model_arguments,
                     add_run_arguments, architecture, load_data, load_models,
                     load_own_generator, load_slim_pair)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slim", help="folder with slim_G_A.pth and slim_G_B.pth")
    add_model_arguments(parser)
    add_generator_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--steps", type=int, default=800, help="updates (default 800)")
    parser.add_argument("--distill", type=float, default=10.0,
                        help="distillation weight (default 10; 0 disables)")
    parser.add_argument("--batch-size", type=int, default=4)
    add_run_arguments(parser)
    parser.add_argument("--out", default=None, help="output folder (default: the slim folder)")


def run(args: argparse.Namespace) -> int:
    out = check_output_folder(args.out or args.slim, "--out")
    if architecture(args) is not None:
        return run_single(args, out)
    data = load_data(args)
    gan = load_models(args, data)
    g_a, g_b = load_slim_pair(args.slim, args.device)
    history = finetune_pair(gan, g_a, g_b, data, args.steps, args.distill, args.batch_size,
                            seed=args.seed, device=args.device, progress=not args.quiet)
    with staged_folder(out) as stage:  # both generators, or nothing changed
        for name, g in (("G_A", g_a), ("G_B", g_b)):
            save_generator(g, stage / f"slim_{name}.pth",
                           extra={"finetune_steps": args.steps, "distill": args.distill})
    last = {k: round(v[-1], 4) for k, v in history.items() if v and k != "step"}
    print(f"fine-tuned {args.steps} steps; last losses {last}; wrote {out}")
    return 0


def run_single(args: argparse.Namespace, out) -> int:
    """A generator of the user's class: ``slim_G_A.pth`` distilled toward the original
    (``--weights``) on domain-A images (L1 to its outputs; no discriminator needed)."""
    data = load_data(args, n_val=64)
    teacher = load_own_generator(args)
    path = args.slim + "/slim_G_A.pth"
    described = traced_description(path)
    if described is None:
        raise CommandError(f"{path}: no JSON beside it describing a --generator network")
    arch, space, bits = described
    student = load_generator(path, args.device)
    BriefDistillation.from_generator(teacher, data.val_a.to(args.device), steps=args.steps,
                                     batch_size=args.batch_size, seed=args.seed)(student)
    with staged_folder(out) as stage:
        save_generator(student, stage / "slim_G_A.pth", extra={"finetune_steps": args.steps},
                       architecture=arch, space=space, bits=bits)
    print(f"distilled {args.steps} steps toward the original; wrote {out}")
    return 0

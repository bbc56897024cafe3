"""Measure slim generators against the originals: parameters, MACs, CPU latency side by side
and translation quality (judge, fidelity, and outline measures on the synthetic data)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..checkpoints import atomic_write_json
from ..outputs import check_output_file
from ..report import format_summary, quality_report
from ..workflow import generator_report, translations
from .common import (add_data_arguments, add_model_arguments, add_run_arguments, load_data,
                     load_models, load_slim_pair)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slim", help="folder with slim_G_A.pth and slim_G_B.pth")
    add_model_arguments(parser)
    add_data_arguments(parser)
    parser.add_argument("--repeats", type=int, default=20, help="latency runs (default 20)")
    parser.add_argument("--judge-steps", type=int, default=300,
                        help="training steps of the offline judge (default 300)")
    add_run_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", default=None, help="also write the summary JSON here")


def run(args: argparse.Namespace) -> int:
    if args.out:
        check_output_file(args.out, "--out")
    data = load_data(args)
    gan = load_models(args, data, discriminators=False)
    pruned = load_slim_pair(args.slim, args.device)
    outputs = {"original": translations(gan, data), "pruned": translations(pruned, data)}
    summary = {"data": data.name, "image_size": data.image_size, "device": args.device,
               "generators": {},
               "quality": quality_report(data, outputs, seed=args.seed,
                                         judge_steps=args.judge_steps,
                                         progress=not args.quiet)}
    for name, original, small in (("G_A", gan.g_a, pruned[0]), ("G_B", gan.g_b, pruned[1])):
        summary["generators"][name] = generator_report(original, small, data.image_size,
                                                       repeats=args.repeats, device=args.device)
    if args.out:
        atomic_write_json(Path(args.out), summary)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0

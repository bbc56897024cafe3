"""Do kept channel counts in multiples of 8 or 16 run faster at equal MACs?

Torch-Pruning's ``round_to`` keeps channel counts in multiples of a number because vector
units and kernels work in such blocks. This benchmark measures whether that holds for our
generators on the runtime users deploy to: uniform masks of the real pretrained generator
(or, with ``--teacher``, the shipped one) at keep ratios over ``--low``..``--high``, each with
its per-group counts as they fall (multiple of 1) and rounded to the nearest multiple of 4, 8
and 16; every slim network exported to ONNX and timed on ONNX Runtime's CPU provider (one
thread, ``--size`` px, batch 1; the median of ``--repeats`` runs taken round-robin over all
networks, so every one sees the same load). Reported: milliseconds per GMAC, and each
rounding's mean deviation from the latency the unrounded masks predict at its MACs (a
log-log fit through them): negative means faster than its MACs say.

    OMP_NUM_THREADS=1 python benchmarks/round_to.py --out benchmarks/results/round_to.json
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from vintage_generator import MissingWeights, load_real_generator

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.groups import trace_space
from deap_gan_prune.nets.latency_model import machine_name, runner, time_round_robin
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.teacher import load_teacher

MULTIPLES = (1, 4, 8, 16)


def rounded(counts: Sequence[int], sizes: Sequence[int], multiple: int) -> list[int]:
    """``counts`` rounded to the nearest multiple (at least one multiple, at most the
    group's size)."""
    return [min(size, max(multiple, multiple * round(c / multiple)))
            for c, size in zip(counts, sizes)]


def mask_of(space: MaskSpace, counts: Sequence[int]) -> list[int]:
    """The first ``counts[g]`` channels of every group."""
    return [int(j < c) for g, c in zip(space.groups, counts) for j in range(g.size)]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--teacher", action="store_true", help="the shipped teacher (ngf 16)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--low", type=float, default=0.25)
    p.add_argument("--high", type=float, default=0.75)
    p.add_argument("--ratios", type=int, default=11, help="keep ratios in the range")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--out", default="benchmarks/results/round_to.json")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        net = load_teacher().g_a if args.teacher else load_real_generator()
    except MissingWeights as error:
        print(f"round_to: {error}", file=sys.stderr)
        return 1
    net = net.eval()
    x = torch.rand(1, 3, args.size, args.size) * 2 - 1
    space = trace_space(net, x)
    sizes = [g.size for g in space.groups]
    rows = []
    for i in range(args.ratios):
        r = args.low + (args.high - args.low) * i / max(1, args.ratios - 1)
        base = [max(1, math.floor(r * s)) for s in sizes]
        for m in MULTIPLES:
            counts = rounded(base, sizes, m)
            bits = mask_of(space, counts)
            rows.append({"ratio": round(r, 4), "multiple": m, "counts": counts,
                         "macs": space.size(bits, "macs", args.size),
                         "params": space.size(bits)})
    unique = list(dict.fromkeys(tuple(row["counts"]) for row in rows))  # timed once each
    runs = [runner(slim(net, mask_of(space, counts), space), x, "onnx", 1)
            for counts in unique]
    timed = dict(zip(unique, time_round_robin(runs, args.repeats, 2)))
    for row in rows:
        row["ms"] = timed[tuple(row["counts"])]
        row["ms_per_gmac"] = row["ms"] / (row["macs"] / 1e9)
    plain = [row for row in rows if row["multiple"] == 1]
    slope, intercept = np.polyfit([math.log(r["macs"]) for r in plain],
                                  [math.log(r["ms"]) for r in plain], 1)
    summary = {}
    for m in MULTIPLES:
        mine = [row for row in rows if row["multiple"] == m]
        deviations = [math.exp(math.log(row["ms"]) - (slope * math.log(row["macs"])
                                                      + intercept)) - 1 for row in mine]
        summary[m] = {"networks": len(mine),
                      "ms_per_gmac": statistics.fmean(r["ms_per_gmac"] for r in mine),
                      "deviation_mean": statistics.fmean(deviations),
                      "deviation_median": statistics.median(deviations)}
    atomic_write_json(args.out, {"benchmark": "round_to", "machine": machine_name("onnx"),
                                 "generator": "teacher" if args.teacher else "real",
                                 "size": args.size, "repeats": args.repeats,
                                 "fit": {"slope": slope, "intercept": intercept},
                                 "summary": {str(k): v for k, v in summary.items()},
                                 "rows": rows})
    if not args.quiet:
        print(f"{'multiple':>8} {'networks':>8} {'ms/GMAC':>8} {'vs MACs (mean)':>15} "
              f"{'(median)':>9}")
        for m, s in summary.items():
            print(f"{m:>8} {s['networks']:>8} {s['ms_per_gmac']:8.2f} "
                  f"{100 * s['deviation_mean']:+14.1f}% {100 * s['deviation_median']:+8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

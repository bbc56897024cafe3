"""How well the latency model (deap_gan_prune.nets.latency_model) predicts the measured latency of
slim generators.

A table of per-unit latencies is measured for the generator (or read from ``--table`` when it
holds one for the same device, threads, image size and torch version); then ``--masks`` masks
of sizes spread log-uniformly from ``--low`` to 1 of the parameters (initMaskSizeRange: uneven
widths) are slimmed, and each slim network's latency is measured: the median of ``--repeats``
runs, taken round-robin over all networks so that every one sees the same machine load.
Reported: Spearman rank correlation and mean relative error |predicted − measured| / measured
of the model, and, for reference, the rank correlation of MACs with the measured latency.

Generator: the shipped teacher (ngf 16, 6 blocks) unless ``--ngf/--blocks`` ask for a random
one (latency does not depend on the weights). ``--quick``: ngf 4 / 2 blocks at 32 pixels, few
repeats (for the test suite).

    python benchmarks/latency_model.py --threads 1 --image-size 256 --out latency_model.json
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

import deap_gan_prune
from deap_gan_prune.nets.checkpoints import load_generator
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.latency_model import latency_table
from deap_gan_prune.nets.maskspace import MaskSpace
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.operators import initMaskSizeRange
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.nets.widths import count_macs, count_parameters

TEACHER = Path(deap_gan_prune.__file__).parent / "teacher" / "latest_net_G_A.pth"


def generator(args: argparse.Namespace) -> tuple[ResnetGenerator, str]:
    if args.ngf is None and TEACHER.is_file():
        return load_generator(TEACHER).eval(), str(TEACHER)
    ngf, blocks = args.ngf or 16, args.blocks or 6
    torch.manual_seed(0)
    return ResnetGenerator(ngf=ngf, n_blocks=blocks).eval(), f"random ngf {ngf} / {blocks} blocks"


def sample_masks(space: MaskSpace, n: int, low: float, seed: int) -> list[list[int]]:
    """``n`` distinct masks of sizes log-uniform in [low, 1] (parameters), plus the full one."""
    state = random.getstate()
    random.seed(seed)
    masks, seen = [space.full()], {tuple(space.full())}
    try:
        for _ in range(50 * n):
            if len(masks) >= n:
                break
            bits = initMaskSizeRange(list, space, low, 1.0)
            if tuple(bits) not in seen:
                seen.add(tuple(bits))
                masks.append(bits)
    finally:
        random.setstate(state)
    return masks


def measure_round_robin(nets: list, x: torch.Tensor, repeats: int, warmup: int) -> list[float]:
    """Median milliseconds of each network, one run of each per round."""
    times: list[list[float]] = [[] for _ in nets]
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        for r in range(warmup + repeats):
            order = range(len(nets)) if r % 2 == 0 else reversed(range(len(nets)))
            for i in order:
                sync()
                start = time.perf_counter()
                nets[i](x)
                sync()
                if r >= warmup:
                    times[i].append(1e3 * (time.perf_counter() - start))
    return [statistics.median(t) for t in times]


def run(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g, source = generator(args)
    space = MaskSpace(g.widths)
    start = time.perf_counter()
    table = latency_table(args.table, g.widths, args.image_size, device, args.threads,
                          repeats=args.table_repeats, warmup=args.warmup)
    table_s = time.perf_counter() - start
    masks = sample_masks(space, args.masks, args.low, args.seed)
    nets = [slim(g, space.slot_masks(bits)).to(device).eval() for bits in masks]
    x = torch.rand(1, g.widths.input_nc, args.image_size, args.image_size, device=device)
    measured = measure_round_robin(nets, x, args.repeats, args.warmup)
    rows = []
    for bits, ms in zip(masks, measured):
        w = space.widths_of(bits)
        rows.append({"parameters_ratio": count_parameters(w) / count_parameters(g.widths),
                     "macs": count_macs(w, args.image_size), "measured_ms": ms,
                     "predicted_ms": table.predict(w), "widths": w.to_dict()})
    predicted = [r["predicted_ms"] for r in rows]
    errors = [abs(p - m) / m for p, m in zip(predicted, measured)]
    return {
        "benchmark": "latency model: predicted vs measured latency of slim generators",
        "generator": source, "widths": g.widths.to_dict(), "image_size": args.image_size,
        "device": args.device, "threads": torch.get_num_threads(), "batch": 1,
        "torch": torch.__version__, "masks": len(rows), "repeats": args.repeats,
        "table_repeats": args.table_repeats, "warmup": args.warmup, "quick": args.quick,
        "table_key": table.key, "table_seconds": table_s, "overhead_ms": table.overhead_ms,
        "spearman": float(spearmanr(predicted, measured).statistic),
        "spearman_macs": float(spearmanr([r["macs"] for r in rows], measured).statistic),
        "mean_relative_error": statistics.mean(errors),
        "max_relative_error": max(errors),
        "load_average": list(_load_average()), "rows": rows}


def _load_average() -> tuple[float, ...]:
    try:
        import os
        return tuple(round(v, 2) for v in os.getloadavg())
    except (AttributeError, OSError):
        return ()


def format_table(result: dict) -> str:
    head = f"{'params':>7} {'GMACs':>7} {'measured ms':>12} {'predicted ms':>13} {'error':>7}"
    lines = [head, "-" * len(head)]
    for r in sorted(result["rows"], key=lambda r: r["measured_ms"]):
        err = (r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"]
        lines.append(f"{r['parameters_ratio']:>7.3f} {r['macs'] / 1e9:>7.3f} "
                     f"{r['measured_ms']:>12.3f} {r['predicted_ms']:>13.3f} {err:>+7.1%}")
    lines.append(f"{result['masks']} masks, {result['image_size']} px, {result['device']}, "
                 f"{result['threads']} thread(s), load average {result['load_average']}")
    lines.append(f"Spearman (model) {result['spearman']:.3f}, Spearman (MACs) "
                 f"{result['spearman_macs']:.3f}, mean relative error "
                 f"{result['mean_relative_error']:.1%} (max {result['max_relative_error']:.1%})")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image-size", type=int, default=None, help="pixels (default 256)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default torch's)")
    p.add_argument("--ngf", type=int, default=None, help="random generator of this ngf")
    p.add_argument("--blocks", type=int, default=None, help="its residual blocks")
    p.add_argument("--masks", type=int, default=24, help="masks measured (default 24)")
    p.add_argument("--low", type=float, default=0.03, help="smallest parameter ratio")
    p.add_argument("--repeats", type=int, default=None, help="runs per mask (default 9)")
    p.add_argument("--table-repeats", type=int, default=None,
                   help="runs per table entry (default 7)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--table", default=None, help="latency table file to reuse or write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="toy generator at 32 px, 2 repeats")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    if args.quick:
        args.ngf, args.blocks = args.ngf or 4, args.blocks or 2
    args.image_size = args.image_size or (32 if args.quick else 256)
    args.repeats = args.repeats or (2 if args.quick else 9)
    args.table_repeats = args.table_repeats or (2 if args.quick else 7)
    if args.masks < 2 or not 0 < args.low <= 1:
        p.error("--masks must be >= 2 and --low in (0, 1]")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(format_table(result))
    if args.out:
        atomic_write_json(args.out, result)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How well the latency model (deap_gan_prune.nets.latency_model) predicts the measured latency of
slim generators, per architecture and runtime.

Four architectures: the real pretrained generator (vintagify's ResNet, ngf 64, 9 blocks;
``pip install --no-deps vintagify==0.1.2``; without it a random-weight ResNet of the same
widths, said in the output: latency does not depend on the weights), the shipped teacher
(ngf 16, 6 blocks), and two networks of the test zoo at realistic widths (pix2pix's U-Net
``unet_256``, ngf 32, and a channel-attention network, ngf 32, 4 blocks). For each, ``--masks``
masks (at least 30 by default): random masks at sizes spread over 0.1–1 of the parameters
(initMaskSizeRange), uniform masks at keep ratios over the same range (uniform_mask) and
searched-like masks (uniform counts, then capacity moves: initMaskCounts), plus the full one.

Per runtime the model is measured (or read from the ``--cache`` file when it holds one for the
same key), then every mask's slim network runs on that runtime: the median of ``--repeats``
runs, taken round-robin over all networks, alternating the order, so that every one sees the
same machine load. Reported: Spearman ρ and the median absolute % error of the model against
the measured latency, and, for reference, the ρ of MACs.

Time it on one core: ``taskset -c 1`` with ``--threads 1``.

    taskset -c 1 python benchmarks/latency_model.py --threads 1 --runtimes onnx,torch
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "tests"))

from generic_nets import AttentionNet, UnetGenerator  # noqa: E402
from vintage_generator import MissingWeights, VintageGenerator, load_real_generator  # noqa: E402

import deap_gan_prune  # noqa: E402
from deap_gan_prune.core.baselines import uniform_counts, uniform_mask  # noqa: E402
from deap_gan_prune.core.maskspace import MaskSpace  # noqa: E402
from deap_gan_prune.files import atomic_write_json  # noqa: E402
from deap_gan_prune.nets.checkpoints import load_generator  # noqa: E402
from deap_gan_prune.nets.groups import space_of  # noqa: E402
from deap_gan_prune.nets.latency_model import (  # noqa: E402
    RUNTIMES,
    LatencyTiming,
    latency_model_for,
    machine_name,
    runner,
    time_round_robin,
)
from deap_gan_prune.nets.models import ResnetGenerator  # noqa: E402
from deap_gan_prune.nets.slimming import slim  # noqa: E402
from deap_gan_prune.operators import initMaskCounts, initMaskSizeRange  # noqa: E402

TEACHER = Path(deap_gan_prune.__file__).parent / "teacher" / "latest_net_G_A.pth"
ARCHITECTURES = ("real", "teacher", "unet", "attention")
OUT = ROOT / "benchmarks" / "results" / "latency_model.json"



def rank_correlation(a: list[float], b: list[float]) -> float:
    """Spearman's rho of ``a`` and ``b``; NaN when either is constant (no ranking)."""
    if len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    return float(spearmanr(a, b).statistic)

def architecture(name: str, quick: bool) -> tuple[torch.nn.Module, str]:
    """The network ``name`` (eval mode, CPU) and a description of it."""
    torch.manual_seed(0)
    if name == "real":
        if quick:
            return ResnetGenerator(ngf=4, n_blocks=2).eval(), "random ResNet ngf 4, 2 blocks"
        try:
            return load_real_generator(), "vintagify's pretrained ResNet (ngf 64, 9 blocks)"
        except MissingWeights:
            return (VintageGenerator().eval(),
                    "random-weight ResNet ngf 64, 9 blocks (vintagify is not installed)")
    if name == "teacher":
        return load_generator(TEACHER).eval(), "the shipped teacher (ngf 16, 6 blocks)"
    if name == "unet":
        ngf, downs = (4, 5) if quick else (32, 8)
        return (UnetGenerator(ngf=ngf, num_downs=downs).eval(),
                f"pix2pix U-Net ngf {ngf}, {downs} downs (BatchNorm, skip concatenations)")
    if name == "attention":
        ngf, blocks = (4, 1) if quick else (32, 4)
        return (AttentionNet(ngf=ngf, n_blocks=blocks).eval(),
                f"channel-attention net ngf {ngf}, {blocks} blocks (squeeze-excite)")
    raise ValueError(f"unknown architecture {name!r}: use {', '.join(ARCHITECTURES)}")


def sample_masks(space: MaskSpace, n: int, image_size: int, seed: int
                 ) -> list[tuple[str, list[int]]]:
    """``n`` masks ``(kind, bits)``: the full one, then random (sizes over 0.1–1),
    uniform (keep ratios over 0.1–1) and searched-like (uniform counts plus capacity moves)
    masks in about equal numbers."""
    state = random.getstate()
    random.seed(seed)
    try:
        masks: list[tuple[str, list[int]]] = [("full", space.full())]
        least = space.size_of_counts([max(g.min_keep, 1) for g in space.groups])
        low = max(0.1, 1.05 * least / space.size(space.full()))
        kinds = ["random", "uniform", "searched"]
        per = {k: (n - 1) // 3 + (i < (n - 1) % 3) for i, k in enumerate(kinds)}
        for i in range(per["uniform"]):
            ratio = low + (0.95 - low) * i / max(1, per["uniform"] - 1)
            masks.append(("uniform", uniform_mask(space, ratio, "parameters", image_size)))
        for _ in range(per["random"]):
            masks.append(("random", initMaskSizeRange(list, space, low, 1.0)))
        for _ in range(per["searched"]):
            ratio = low + (0.9 - low) * random.random()
            counts = uniform_counts(space, ratio, "parameters", image_size)
            masks.append(("searched", initMaskCounts(list, space, counts, moves=8,
                                                     image_size=image_size)))
        return masks
    finally:
        random.setstate(state)


def evaluate(name: str, runtime: str, args: argparse.Namespace, progress: bool) -> dict:
    net, source = architecture(name, args.quick)
    x = torch.rand(1, 3, args.image_size, args.image_size)
    space = space_of(net, x)
    start = time.perf_counter()
    model = latency_model_for(args.cache, net, args.image_size, runtime, args.threads,
                              space=space, progress=progress,
                              timing=LatencyTiming(repeats=args.table_repeats,
                                                   warmup=args.warmup))
    model_s = time.perf_counter() - start
    masks = sample_masks(space, args.masks, args.image_size, args.seed)
    start = time.perf_counter()
    runs = [runner(slim(net, bits, space), x, runtime, args.threads) for _, bits in masks]
    measured = time_round_robin(runs, args.repeats, args.warmup)
    del runs
    measure_s = time.perf_counter() - start
    rows = []
    for (kind, bits), ms in zip(masks, measured):
        rows.append({"kind": kind, "counts": list(space.kept(bits).values()),
                     "parameters_ratio": space.size_ratio(bits, "parameters"),
                     "macs": space.size(bits, "macs", args.image_size),
                     "measured_ms": ms, "predicted_ms": model.predict(bits)})
    predicted = [r["predicted_ms"] for r in rows]
    errors = [abs(p - m) / m for p, m in zip(predicted, measured)]
    return {"architecture": name, "generator": source, "runtime": runtime,
            "masks": len(rows), "bits": space.n_bits, "model_seconds": model_s,
            "measure_seconds": measure_s, "tables": len(model.tables),
            "probes": sum(len(t.c_in) * len(t.c_out) for t in model.tables),
            "scale": model.scale, "overhead_ms": model.overhead_ms,
            "full_ms": measured[0],
            "spearman": rank_correlation(predicted, measured),
            "spearman_macs": rank_correlation([r["macs"] for r in rows], measured),
            "median_error": statistics.median(errors), "max_error": max(errors),
            "rows": rows}


def _load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return []


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    results = []
    for runtime in args.runtimes:
        for name in args.architectures:
            result = evaluate(name, runtime, args, not args.no_progress)
            results.append(result)
            print(format_row(result), flush=True)
    return {"benchmark": "latency model: predicted vs measured latency of slim generators",
            "machine": machine_name(), "threads": args.threads,
            "image_size": args.image_size, "batch": 1, "torch": torch.__version__,
            "repeats": args.repeats, "table_repeats": args.table_repeats,
            "warmup": args.warmup, "statistic": "median", "interleaved": True,
            "quick": args.quick, "seed": args.seed, "load_average": _load_average(),
            "results": results}


HEAD = (f"{'architecture':<10} {'runtime':<9} {'masks':>5} {'full ms':>9} {'rho':>6} "
        f"{'med err':>8} {'max err':>8} {'rho MACs':>9} {'model s':>8}")


def format_row(r: dict) -> str:
    return (f"{r['architecture']:<10} {r['runtime']:<9} {r['masks']:>5} {r['full_ms']:>9.2f} "
            f"{r['spearman']:>6.3f} {r['median_error']:>8.1%} {r['max_error']:>8.1%} "
            f"{r['spearman_macs']:>9.3f} {r['model_seconds']:>8.1f}")


def format_table(result: dict) -> str:
    lines = [HEAD, "-" * len(HEAD), *(format_row(r) for r in result["results"])]
    lines.append(f"{result['machine']}, {result['threads']} thread(s), "
                 f"{result['image_size']} px, batch 1, median of {result['repeats']} "
                 f"interleaved runs, load average {result['load_average']}")
    for r in result["results"]:
        if r["runtime"] == result["results"][0]["runtime"]:
            lines.append(f"  {r['architecture']}: {r['generator']}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architectures", default=",".join(ARCHITECTURES),
                   help=f"comma-separated, of {', '.join(ARCHITECTURES)}")
    p.add_argument("--runtimes", default="onnx,torch",
                   help=f"comma-separated, of {', '.join(RUNTIMES)} (default onnx,torch)")
    p.add_argument("--image-size", type=int, default=None, help="pixels (default 256)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--masks", type=int, default=None, help="masks per architecture (31)")
    p.add_argument("--repeats", type=int, default=None, help="runs per mask (default 7)")
    p.add_argument("--table-repeats", type=int, default=None,
                   help="runs per table entry (default 5)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up runs (default 1)")
    p.add_argument("--cache", default=None, help="latency model cache file to reuse or write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="toy networks at 32 px, few repeats")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", default=None, help=f"JSON results (default {OUT.relative_to(ROOT)}; "
                   "--quick: none)")
    args = p.parse_args(argv)
    args.architectures = [a for a in args.architectures.split(",") if a]
    args.runtimes = [r for r in args.runtimes.split(",") if r]
    for a in args.architectures:
        if a not in ARCHITECTURES:
            p.error(f"--architectures: unknown {a!r} (use {', '.join(ARCHITECTURES)})")
    for r in args.runtimes:
        if r not in RUNTIMES:
            p.error(f"--runtimes: unknown {r!r} (use {', '.join(RUNTIMES)})")
    args.image_size = args.image_size or (32 if args.quick else 256)
    args.masks = args.masks or (7 if args.quick else 31)
    args.repeats = args.repeats or (2 if args.quick else 7)
    args.table_repeats = args.table_repeats or (1 if args.quick else 5)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.quick else 1)
    if args.out is None and not args.quick:
        args.out = str(OUT)
    if args.masks < 4 or args.threads < 1:
        p.error("--masks must be >= 4 and --threads >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    print(HEAD, flush=True)
    result = run(args)
    print(format_table(result))
    if args.out:
        atomic_write_json(args.out, result)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

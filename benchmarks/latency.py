"""Latency of an original and a slim CycleGAN generator: eager PyTorch, TorchScript (traced) and
ONNX Runtime, at batch 1 and 8, at 256x256 and at the teacher's size (64x64).

Runs are INTERLEAVED: each repeat times the original and the slim generator one after the
other (alternating which goes first), so both see the same machine load and the speed-up is
measured side by side. Each figure is the median over ``--repeats`` runs after ``--warmup``
untimed runs. The table puts the speed-up next to the MAC ratio (slim / original; MACs count a
transposed conv at its output positions, the convention of GAN Compression / CAT / OMGD).

Pairs measured (without ``--original``):
  teacher  the shipped teacher deap_gan_prune/teacher/latest_net_G_A.pth if present, else a
           random ResnetGenerator(ngf=16, n_blocks=6); vs its uniform slim at 0.25 of the MACs
           (deap_gan_prune.core.baselines.uniform_mask), at 256 and 64 pixels;
  full     a random ngf 64 / 9 blocks generator (the upstream size) vs its uniform 4x slim, at
           256 pixels (random weights: latency does not depend on them).
With ``--original G.pth [--slim S.pth]`` the given pair replaces the teacher pair (a missing
--slim is the uniform 4x slim of --original). ``--quick``: toy models at 16 and 32 pixels, 2
repeats (for the test suite).

    python benchmarks/latency.py --out latency.json [--repeats 7] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

import deap_gan_prune
from deap_gan_prune.core.baselines import uniform_mask
from deap_gan_prune.export import export_onnx, import_onnxruntime
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.checkpoints import load_generator
from deap_gan_prune.nets.counting import count_module_macs, count_module_parameters
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim

MAC_CONVENTION = ("output: a transposed conv counted at its output positions "
                  "(GAN Compression / CAT / OMGD)")
BACKENDS = ("eager", "torchscript", "onnxruntime")
TEACHER = Path(deap_gan_prune.__file__).parent / "teacher" / "latest_net_G_A.pth"


def uniform_slim(generator: ResnetGenerator, budget: float = 0.25) -> ResnetGenerator:
    """The generator slimmed to ``budget`` of its MACs with the same keep ratio everywhere."""
    space = space_of(generator)
    return slim(generator, uniform_mask(space, budget, "macs"), space).eval()


def random_generator(ngf: int, n_blocks: int, seed: int = 0) -> ResnetGenerator:
    torch.manual_seed(seed)
    return ResnetGenerator(ngf=ngf, n_blocks=n_blocks).eval()


def build_pairs(args: argparse.Namespace) -> list[dict]:
    """``[{"name", "source", "original", "slim", "sizes"}]`` as the options ask."""
    if args.quick:
        teacher_sizes, full_sizes = (16, 32), (32,)
    else:
        teacher_sizes, full_sizes = (256, 64), (256,)
    pairs = []
    if args.original:
        original = load_generator(args.original)
        small = load_generator(args.slim) if args.slim else uniform_slim(original)
        source = f"{args.original} vs {args.slim or 'its uniform 4x slim (MACs)'}"
        pairs.append({"name": "given", "source": source, "original": original, "slim": small,
                      "sizes": teacher_sizes})
    elif args.quick:
        original = random_generator(4, 2)
        pairs.append({"name": "teacher", "source": "random ngf 4 / 2 blocks (quick)",
                      "original": original, "slim": uniform_slim(original), "sizes": teacher_sizes})
    else:
        if TEACHER.is_file():
            original, source = load_generator(TEACHER), str(TEACHER)
        else:
            original, source = random_generator(16, 6), "random ngf 16 / 6 blocks (no teacher)"
        pairs.append({"name": "teacher", "source": source, "original": original,
                      "slim": uniform_slim(original), "sizes": teacher_sizes})
    if not args.no_full:
        ngf, blocks = (8, 3) if args.quick else (64, 9)
        original = random_generator(ngf, blocks)
        pairs.append({"name": "full", "source": f"random ngf {ngf} / {blocks} blocks",
                      "original": original, "slim": uniform_slim(original), "sizes": full_sizes})
    return pairs


def make_runner(backend: str, model: ResnetGenerator, x: torch.Tensor, workdir: Path,
                tag: str, threads: int | None, device: torch.device):
    """A no-argument callable running ``model`` on ``x`` with ``backend`` (None: unavailable)."""
    model = model.to(device).eval()
    if backend == "eager":
        def run():
            with torch.inference_mode():
                model(x)
    elif backend == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks
            traced = torch.jit.trace(model, x)

        def run():
            with torch.no_grad():
                traced(x)
    elif backend == "onnxruntime":
        ort = import_onnxruntime()
        wanted = "CPUExecutionProvider" if device.type == "cpu" else "CUDAExecutionProvider"
        if wanted not in ort.get_available_providers():
            return None
        path = workdir / f"{tag}.onnx"
        export_onnx(model.cpu(), path, x.shape[-1])
        model.to(device)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(path), options, providers=[wanted])
        feed = {session.get_inputs()[0].name: x.cpu().numpy()}

        def run():
            session.run(None, feed)
    else:
        raise ValueError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")
    if device.type == "cuda":
        inner = run

        def run():
            inner()
            torch.cuda.synchronize()
    return run


def time_interleaved(run_a, run_b, repeats: int, warmup: int) -> tuple[list[float], list[float]]:
    """Seconds per call of two callables, alternating A,B / B,A run by run."""
    for _ in range(warmup):
        run_a()
        run_b()
    times_a, times_b = [], []
    for i in range(repeats):
        order = ((run_a, times_a), (run_b, times_b))
        for run, times in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return times_a, times_b


def measure(args: argparse.Namespace, pairs: list[dict], progress: bool) -> list[dict]:
    device = torch.device(args.device)
    rows = []
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        for pair in pairs:
            w0 = pair["original"].widths
            for size in pair["sizes"]:
                mac0, mac1 = (count_module_macs(pair[k], size) for k in ("original", "slim"))
                for batch in args.batches:
                    x = torch.rand(batch, w0.input_nc, size, size, device=device) * 2 - 1
                    for backend in args.backends:
                        tag = f"{pair['name']}-{size}-{batch}-{backend}"
                        if progress:
                            print(f"  measuring {tag} ...", file=sys.stderr, flush=True)
                        run0 = make_runner(backend, pair["original"], x, Path(tmp), tag + "-o",
                                           args.threads, device)
                        run1 = make_runner(backend, pair["slim"], x, Path(tmp), tag + "-s",
                                           args.threads, device)
                        if run0 is None or run1 is None:
                            continue
                        warmup = args.warmup + (1 if backend == "torchscript" else 0)
                        t0, t1 = time_interleaved(run0, run1, args.repeats, warmup)
                        med0, med1 = statistics.median(t0), statistics.median(t1)
                        rows.append({
                            "pair": pair["name"], "image_size": size, "batch": batch,
                            "backend": backend, "original_ms": 1e3 * med0, "slim_ms": 1e3 * med1,
                            "speedup": med0 / med1,
                            "pairwise_speedup": statistics.median(a / b for a, b in zip(t0, t1)),
                            "mac_ratio": mac1 / mac0, "macs_original": mac0 * batch,
                            "macs_slim": mac1 * batch,
                            "original_runs_ms": [1e3 * t for t in t0],
                            "slim_runs_ms": [1e3 * t for t in t1]})
    return rows


def format_table(rows: list[dict]) -> str:
    """The results as a text table (one line per pair, size, batch and backend)."""
    head = (f"{'pair':<8} {'size':>4} {'batch':>5} {'backend':<12} {'original ms':>12} "
            f"{'slim ms':>10} {'speed-up':>9} {'MAC ratio':>10} {'1/MAC ratio':>11}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['pair']:<8} {r['image_size']:>4} {r['batch']:>5} {r['backend']:<12} "
                     f"{r['original_ms']:>12.2f} {r['slim_ms']:>10.2f} "
                     f"{r['speedup']:>8.2f}x {r['mac_ratio']:>10.3f} "
                     f"{1 / r['mac_ratio']:>10.2f}x")
    lines.append(f"MACs: {MAC_CONVENTION}; times are medians of interleaved runs.")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--original", help="original generator file (.pth)")
    p.add_argument("--slim", help="slim generator file (.pth); needs --original")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--quick", action="store_true", help="toy sizes (16-32 px), 2 repeats")
    p.add_argument("--repeats", type=int, help="timed runs per model (default 7; quick 2)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads (torch and ONNX Runtime)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes (1,8)")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help=f"comma-separated subset of {','.join(BACKENDS)}")
    p.add_argument("--no-full", action="store_true", help="skip the ngf 64 / 9 blocks pair")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    if args.slim and not args.original:
        p.error("--slim needs --original")
    args.repeats = args.repeats or (2 if args.quick else 7)
    try:
        args.batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        p.error(f"--batches {args.batches!r}: give integers such as 1,8")
    args.backends = [b for b in args.backends.split(",") if b]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown or args.repeats < 1 or min(args.batches) < 1:
        p.error(f"bad --backends/--repeats/--batches (unknown backends: {sorted(unknown)})")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        pairs = build_pairs(args)
    except ValueError as exc:  # CheckpointError: one line naming the file
        print(f"latency: error: {exc}", file=sys.stderr)
        return 1
    rows = measure(args, pairs, progress=not args.no_progress)
    try:
        ort_version = import_onnxruntime().__version__
    except ValueError:
        ort_version = None
    result = {
        "benchmark": "generator latency, original vs slim", "mac_convention": MAC_CONVENTION,
        "higher_is_better": {"original_ms": False, "slim_ms": False, "speedup": True,
                             "pairwise_speedup": True},
        "interleaved": True, "statistic": "median", "repeats": args.repeats,
        "warmup": args.warmup, "device": args.device, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "onnxruntime": ort_version, "quick": args.quick,
        "pairs": [{"name": p["name"], "source": p["source"],
                   "original_widths": p["original"].widths.to_dict(),
                   "slim_widths": p["slim"].widths.to_dict(),
                   "original_parameters": count_module_parameters(p["original"]),
                   "slim_parameters": count_module_parameters(p["slim"]),
                   "sizes": list(p["sizes"])} for p in pairs],
        "rows": rows,
    }
    print(f"threads {result['threads']}, device {args.device}, {args.repeats} repeats "
          f"(+{args.warmup} warm-up), torch {torch.__version__}, onnxruntime {ort_version}")
    for p in result["pairs"]:
        print(f"{p['name']}: {p['source']}; parameters {p['original_parameters']:,} -> "
              f"{p['slim_parameters']:,}")
    print(format_table(rows))
    if args.out:
        atomic_write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

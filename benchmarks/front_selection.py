"""Survivor selection of the front: NSGA-II against SPEA2 and NSGA-III, side by side.

Every selection runs the same front search (deap_gan_prune.search with a ``FrontConfig`` and
its ``survivors``) from the same seeds, on the supernet fitness (cheap: masks scored on the
shipped once-for-all generators, so many seeds fit in minutes). Reported per seed and
generator: the hypervolume of the archive's (score, parameter ratio) points (one reference
point per seed and generator: 1.05 × the worst score any selection saw, size 1), its ratio to
NSGA-II's, and the best score within each budget (4x, 8x, 16x by default); then the means
over seeds and how often each selection beat NSGA-II.

    python benchmarks/front_selection.py --seeds 0 1 2 3 4 --out runs/front_selection.json
    python benchmarks/front_selection.py --quick                    # toy networks, seconds
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from front_vs_budgets import hypervolume_2d, toy_supernets

from deap_gan_prune import search
from deap_gan_prune.domains import synthetic_data
from deap_gan_prune.evolution import FrontConfig, Task
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.checkpoints import load_cyclegan
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.teacher import SUPERNET_DIR, TEACHER_DIR

SELECTIONS = ("nsga2", "spea2", "nsga3")


def load(args) -> tuple[tuple, tuple, object]:
    """Originals, supernets, data (toy networks with ``--quick``)."""
    if args.quick:
        torch.manual_seed(0)
        originals = tuple(ResnetGenerator(ngf=4, n_blocks=2).eval() for _ in range(2))
        return (originals, toy_supernets(originals),
                synthetic_data(8, 4, size=32, n_val=args.n_images))
    gan, sup = load_cyclegan(TEACHER_DIR), load_cyclegan(SUPERNET_DIR)
    return ((gan.g_a, gan.g_b), (sup.g_a, sup.g_b),
            synthetic_data(8, 8, size=64, n_val=args.n_images))


def run_seed(args, seed: int, originals, supernets, data) -> dict:
    fronts, seconds = {}, {}
    for select in args.selections:
        start = time.perf_counter()
        fronts[select] = search(
            Task.pair(*originals, data.val_a, data.val_b, supernets=dict(zip("AB", supernets))),
            FrontConfig(population=args.population, generations=args.generations,
                        size_range=tuple(args.size_range), fitness="supernet",
                        adapt_score=args.score, n_images=args.n_images, survivors=select,
                        seed=seed),
            RunOptions(progress=False))
        seconds[select] = time.perf_counter() - start
    result = {"seed": seed, "seconds": seconds, "generators": {}}
    for k, name in enumerate("AB"):
        points = {s: [tuple(ind.fitness.values[:2]) for ind in f.archives[k]]
                  for s, f in fronts.items()}
        ref = (1.05 * max(p[0] for ps in points.values() for p in ps), 1.0)
        entry = {"ref": list(ref)}
        for select, ps in points.items():
            best = {str(b): min((p[0] for p in ps if p[1] <= b), default=None)
                    for b in args.budgets}
            entry[select] = {"hypervolume": hypervolume_2d(ps, ref), "archive": len(ps),
                             "best_within": best}
        result["generators"][name] = entry
    return result


def summarize(runs: list[dict], selections, budgets) -> dict:
    """Per selection: the mean hypervolume ratio to NSGA-II, and how many (seed, generator)
    cases it beat NSGA-II on hypervolume and on the best score within each budget."""
    cases = [(run, g) for run in runs for g in "AB"]
    summary = {}
    for select in selections:
        ratios = [run["generators"][g][select]["hypervolume"]
                  / run["generators"][g]["nsga2"]["hypervolume"] for run, g in cases]
        wins = {"hypervolume": sum(r > 1 for r in ratios)}
        for b in map(str, budgets):
            pairs = [(run["generators"][g][select]["best_within"][b],
                      run["generators"][g]["nsga2"]["best_within"][b]) for run, g in cases]
            wins[b] = sum(o is not None and (n is None or o < n) for o, n in pairs)
        summary[select] = {"hypervolume_ratio": sum(ratios) / len(ratios), "wins": wins,
                           "cases": len(cases)}
    return summary


def format_table(summary: dict, budgets) -> str:
    head = (f"{'selection':<10} {'HV / NSGA-II':>13} {'HV wins':>8} "
            + " ".join(f"{'wins @' + format(b, 'g'):>11}" for b in budgets))
    lines = [head, "-" * len(head)]
    for select, e in summary.items():
        lines.append(f"{select:<10} {e['hypervolume_ratio']:>13.4f} "
                     f"{e['wins']['hypervolume']:>5}/{e['cases']:<2} "
                     + " ".join(f"{e['wins'][str(b)]:>8}/{e['cases']:<2}" for b in budgets))
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--selections", nargs="+", choices=SELECTIONS, default=list(SELECTIONS))
    p.add_argument("--population", type=int, default=None, help="default 32 (quick 6)")
    p.add_argument("--generations", type=int, default=None, help="default 29 (quick 2)")
    p.add_argument("--n-images", type=int, default=None, help="default 16 (quick 4)")
    p.add_argument("--score", choices=["l1", "ssim"], default="ssim")
    p.add_argument("--budgets", type=float, nargs="+", default=[0.25, 0.125, 0.0625])
    p.add_argument("--size-range", type=float, nargs=2, default=(0.05, 0.3125))
    p.add_argument("--quick", action="store_true", help="toy networks and sizes")
    p.add_argument("--out", default=None, help="results JSON")
    args = p.parse_args(argv)
    for name, (quick, full) in {"population": (6, 32), "generations": (2, 29),
                                "n_images": (4, 16)}.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if "nsga2" not in args.selections:
        p.error("--selections must include nsga2 (the reference)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    originals, supernets, data = load(args)
    runs = [run_seed(args, seed, originals, supernets, data) for seed in args.seeds]
    summary = summarize(runs, args.selections, args.budgets)
    print(format_table(summary, args.budgets))
    if args.out:
        atomic_write_json(args.out, {
            "benchmark": "front survivor selections on the supernet fitness",
            "seeds": args.seeds, "population": args.population,
            "generations": args.generations, "score": args.score, "budgets": args.budgets,
            "size_range": list(args.size_range), "quick": args.quick, "runs": runs,
            "summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())

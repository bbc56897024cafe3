"""One front search against separate single-budget searches, at the same total evaluations.

The front (deap_gan_prune.search with a FrontConfig: NSGA-II on the adapted score and the
parameter ratio) runs ``--population`` × (``--generations`` + 1) evaluations per generator;
each of the single-budget searches (deap_gan_prune.search with a SearchConfig: the adapted
fitness, repaired to a parameter budget)
gets the same population and ``(generations + 1) / n_budgets − 1`` generations, so all the
single-budget searches together cost what the front costs. At every budget, each generator's
best archived mask of the front within the budget and the single-budget search's mask are
slimmed and fine-tuned identically (``--finetune-steps`` steps, distillation weight 10, same
seed and batches), then measured on the test images: SSIM and PSNR to the original's
translations, and the outline measures of the synthetic data. Also reported: the
hypervolume of each method's (score, parameter ratio) points before fine-tuning (reference
point: 1.05 × the worst score seen, size 1), per generator.

    python benchmarks/front_vs_budgets.py --out runs/front_vs_budgets.json   # shipped teacher
    python benchmarks/front_vs_budgets.py --seeds 0 1 2 --out runs/front.json \\
        --plot runs/front.png                                                 # + mean, wins
    python benchmarks/front_vs_budgets.py --quick                            # toy run, seconds
    python benchmarks/front_vs_budgets.py --fitness supernet --score ssim --population 32 \\
        --generations 29 --seeds 0 1 2 --out runs/front_supernet.json       # on the supernet

With ``--fitness supernet`` both methods score masks on the shipped once-for-all generators
(``--supernet DIR`` for others) and the chosen masks are slimmed from them before the same
fine-tuning. ``--size-init``, ``--size-cap``, ``--size-growth`` and ``--size-floor`` set the
front's variation (FrontConfig).
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ablation_tasks import Context, flat_quality

from deap_gan_prune import search
from deap_gan_prune.domains import synthetic_data
from deap_gan_prune.evolution import FrontConfig, SearchConfig, Task
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.checkpoints import CycleGAN, load_cyclegan
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.plotting import plot_front
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.teacher import SUPERNET_DIR, TEACHER_DIR
from deap_gan_prune.training import CycleGANConfig, DistillLoss, finetune_pair


def hypervolume_2d(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by ``points`` (both objectives minimised) up to ``ref``."""
    inside = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    area, best = 0.0, ref[1]
    for x, y in inside:  # ascending first objective: each point adds a strip below ``best``
        if y < best:
            area += (ref[0] - x) * (best - y)
            best = y
    return area


def toy_supernets(generators, factor: float = 1.1) -> tuple:
    """Stand-ins for once-for-all generators at toy size: copies with scaled weights."""
    copies = tuple(copy.deepcopy(g) for g in generators)
    with torch.no_grad():
        for net in copies:
            for p in net.parameters():
                p.mul_(factor)
    return copies


def load(args) -> tuple[CycleGAN, object, str, tuple | None]:
    """The CycleGAN, the data, a description, and the supernets with ``--fitness supernet``
    (for ``--quick``: the generators with perturbed weights)."""
    n_val = args.n_images + args.adapt_images
    if args.quick:
        torch.manual_seed(0)
        gan = CycleGAN(*(ResnetGenerator(ngf=4, n_blocks=2).eval() for _ in range(2)),
                       *(NLayerDiscriminator(ndf=4).eval() for _ in range(2)))
        supernets = toy_supernets((gan.g_a, gan.g_b)) if args.fitness == "supernet" else None
        return (gan, synthetic_data(32, 8, size=32, n_val=n_val), "random ngf 4 / 2 blocks",
                supernets)
    folder = args.checkpoints or TEACHER_DIR
    supernets = None
    if args.fitness == "supernet":
        nets = load_cyclegan(args.supernet or SUPERNET_DIR, device=args.device)
        supernets = (nets.g_a, nets.g_b)
    return (load_cyclegan(folder, device=args.device),
            synthetic_data(512, 64, size=64, n_val=n_val), str(folder), supernets)


def best_within(archive, space, budget: float) -> list[int] | None:
    """The best-scoring archived mask whose parameter ratio is at most ``budget``."""
    fitting = [ind for ind in archive if space.size_ratio(ind, "parameters") <= budget]
    return list(min(fitting, key=lambda ind: ind.fitness.values[0])) if fitting else None


def evaluations(logbook) -> int:
    return sum(logbook.chapters[n][g]["nevals"] for n in "AB" for g in range(len(logbook)))


def finetuned_quality(ctx: Context, masks, spaces, args, supernets=None) -> dict:
    """Slim ``masks`` (from the supernets when given), fine-tune, measure."""
    gan = ctx.gan
    weights = supernets or (gan.g_a, gan.g_b)
    g_a, g_b = (slim(g, m, s) for g, s, m in zip(weights, spaces, masks))
    if args.finetune_steps > 0:
        config = CycleGANConfig(steps=args.finetune_steps, distill_weight=10.0, batch_size=4,
                                seed=args.seed, distill=DistillLoss.l1_only())  # as stored
        finetune_pair(gan, g_a, g_b, ctx.data, config,
                      RunOptions(device=args.device, progress=False))
    g_a.eval()
    g_b.eval()
    return flat_quality(ctx, g_a, g_b)


def run(args) -> dict:
    gan, data, source, supernets = load(args)
    ctx = Context(gan, data, None, args.device)
    common = {"adapt_steps": args.adapt_steps, "n_images": args.n_images,
              "adapt_images": args.adapt_images, "seed": args.seed, "fitness": args.fitness,
              "adapt_score": args.score}
    low, high = min(args.budgets) * 0.8, min(1.0, max(args.budgets) * 1.25)
    start = time.perf_counter()
    weights = {} if supernets is None else dict(zip("AB", supernets))
    options = RunOptions(device=args.device, progress=not args.quiet)
    front = search(Task.pair(gan.g_a, gan.g_b, data.val_a, data.val_b, supernets=weights),
                   FrontConfig(population=args.population, generations=args.generations,
                               size_range=(low, high),
                               uniform_seeds=args.seed_uniform, size_init=args.size_init,
                               size_cap=args.size_cap, size_growth=args.size_growth,
                               size_floor=args.size_floor,
                               **common),
                   options)
    spaces = list(front.spaces.values())
    task = Task.pair(gan.g_a, gan.g_b, data.val_a, data.val_b,
                     discriminators={"A": gan.d_a, "B": gan.d_b}, supernets=weights)
    front_s = time.perf_counter() - start
    n_budget_gens = max(0, round((args.generations + 1) / len(args.budgets)) - 1)
    rows, searches = [], {}
    for budget in args.budgets:
        start = time.perf_counter()
        single = search(task, SearchConfig(budget=budget, budget_measures=("parameters",),
                                           population=args.population,
                                           generations=n_budget_gens, **common),
                        options)
        searches[budget] = {"result": single, "seconds": time.perf_counter() - start}
        picked = [best_within(a, s, budget) for a, s in zip(front.archives, spaces)]
        for method, masks in (("front", picked), ("single_budget", list(single.masks.values()))):
            if any(m is None for m in masks):
                rows.append({"budget": budget, "method": method, "missing": True})
                continue
            sizes = [s.size_ratio(m, "parameters") for s, m in zip(spaces, masks)]
            quality = finetuned_quality(ctx, masks, spaces, args, supernets)
            rows.append({"budget": budget, "method": method, "sizes": sizes, **quality})
    hv = {}
    for k, name in enumerate("AB"):
        space = front.spaces[name]
        single_points = [(searches[b]["result"].terms[name]["score"],
                          space.size_ratio(searches[b]["result"].masks[name], "parameters"))
                         for b in args.budgets]
        front_points = [(ind.fitness.values[0], ind.fitness.values[1])
                        for ind in front.archives[k]]
        ref = (1.05 * max(p[0] for p in front_points + single_points), 1.0)
        hv[name] = {"front": hypervolume_2d(front_points, ref),
                    "single_budget": hypervolume_2d(single_points, ref), "ref": list(ref)}
    return {"benchmark": "front vs single-budget searches at equal evaluations",
            "source": source, "budgets": args.budgets, "population": args.population,
            "front_generations": args.generations, "budget_generations": n_budget_gens,
            "evaluations": {"front": evaluations(front.logbook),
                            "single_budget": sum(evaluations(s["result"].logbook)
                                                 for s in searches.values())},
            "seconds": {"front": front_s,
                        "single_budget": sum(s["seconds"] for s in searches.values())},
            "finetune_steps": args.finetune_steps, "seed": args.seed, "quick": args.quick,
            "fitness": args.fitness, "score": args.score,
            "supernet": None if supernets is None or args.quick
            else str(args.supernet or SUPERNET_DIR),
            "seed_uniform": args.seed_uniform,
            "hypervolume": hv, "rows": rows, "front": compact_front(front.to_dict())}


def compact_front(front: dict) -> dict:
    """The front without its spaces, each point's masks as strings of 0/1 (one character a
    bit: an indented JSON list would take a line a bit)."""
    points = [{**p, **{n: "".join(map(str, p[n])) for n in "AB"}} for p in front["points"]]
    return {**{k: v for k, v in front.items() if k != "spaces"}, "points": points}


def format_table(result: dict) -> str:
    keys = [k for k in ("a2b_stripe_share", "b2a_brown_share", "ssim", "a2b_psnr_db")
            if any(k in r for r in result["rows"])]
    head = f"{'budget':>7} {'method':<14} {'size A':>7} {'size B':>7} " + " ".join(
        f"{k[:16]:>16}" for k in keys)
    lines = [head, "-" * len(head)]
    for r in result["rows"]:
        if r.get("missing"):
            lines.append(f"{r['budget']:>7.4g} {r['method']:<14} (no mask within budget)")
            continue
        lines.append(f"{r['budget']:>7.4g} {r['method']:<14} {r['sizes'][0]:>7.3f} "
                     f"{r['sizes'][1]:>7.3f} " + " ".join(f"{r.get(k, float('nan')):>16.4f}"
                                                          for k in keys))
    ev, hv = result["evaluations"], result["hypervolume"]
    lines.append(f"evaluations: front {ev['front']}, single-budget searches {ev['single_budget']}"
                 f"; hypervolume (score, parameters) A: front {hv['A']['front']:.4f} vs "
                 f"{hv['A']['single_budget']:.4f}, B: front {hv['B']['front']:.4f} vs "
                 f"{hv['B']['single_budget']:.4f}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoints", default=None, help="CycleGAN folder (default: the teacher)")
    p.add_argument("--budgets", default="0.25,0.125,0.0625",
                   help="parameter ratios (default 4x, 8x, 16x)")
    p.add_argument("--population", type=int, default=None, help="default 12 (quick 4)")
    p.add_argument("--generations", type=int, default=None,
                   help="front generations (default 23; quick 5)")
    p.add_argument("--adapt-steps", type=int, default=None, help="default 30 (quick 2)")
    p.add_argument("--n-images", type=int, default=None, help="default 16 (quick 4)")
    p.add_argument("--adapt-images", type=int, default=None, help="default 32 (quick 4)")
    p.add_argument("--finetune-steps", type=int, default=None, help="default 80 (quick 2)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="one run per seed (searches and fine-tuning); with several, the JSON "
                        "holds every run and the mean over seeds")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="toy networks and sizes")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", default=None, help="results JSON")
    p.add_argument("--plot", default=None, help="PNG of the first seed's front")
    p.add_argument("--fitness", choices=["adapted", "supernet"], default="adapted",
                   help="both methods' fitness (default adapted)")
    p.add_argument("--score", choices=["l1", "ssim"], default="l1",
                   help="the fitness's score (default l1)")
    p.add_argument("--supernet", default=None,
                   help="once-for-all generators for --fitness supernet (default: shipped)")
    p.add_argument("--size-init", choices=["strata", "random"], default="strata",
                   help="the front's starting sizes (FrontConfig.size_init; default strata)")
    p.add_argument("--size-cap", choices=["parent", "range"], default="parent",
                   help="the front's cap on children (FrontConfig.size_cap; default parent)")
    p.add_argument("--size-growth", type=float, default=FrontConfig.size_growth,
                   help="with --size-cap parent: how much a child may outgrow its parent "
                        f"(FrontConfig.size_growth; default {FrontConfig.size_growth})")
    p.add_argument("--size-floor", action="store_true",
                   help="children repaired up to the front's lower size (FrontConfig.size_floor)")
    p.add_argument("--seed-uniform", type=int, default=0,
                   help="starting masks of the front that are uniform keep-ratio masks "
                        "spread over its size range (FrontConfig.uniform_seeds; default 0)")
    args = p.parse_args(argv)
    defaults = {"population": (4, 12), "generations": (5, 23), "adapt_steps": (2, 30),
                "n_images": (4, 16), "adapt_images": (4, 32), "finetune_steps": (2, 80)}
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.quick and args.budgets == "0.25,0.125,0.0625":
        args.budgets = "0.5,0.25,0.125"
    try:
        args.budgets = sorted((float(b) for b in args.budgets.split(",")), reverse=True)
    except ValueError:
        p.error(f"--budgets {args.budgets!r}: give ratios such as 0.25,0.125")
    if not all(0 < b <= 1 for b in args.budgets):
        p.error("--budgets must lie in (0, 1]")
    return args


MEASURES = ("a2b_stripe_share", "b2a_brown_share", "ssim")


def summarize(runs: list[dict]) -> dict:
    """Per budget and method, the mean of each of :data:`MEASURES` over the runs (seeds), and
    per budget how many runs the front's points beat / tie the single-budget search's on each
    measure after fine-tuning."""
    summary = {}
    for budget in runs[0]["budgets"]:
        rows = {m: [r for run in runs for r in run["rows"]
                    if r["budget"] == budget and r["method"] == m and not r.get("missing")]
                for m in ("front", "single_budget")}
        entry = {m: {k: sum(r[k] for r in rs) / len(rs) for k in MEASURES} if rs else None
                 for m, rs in rows.items()}
        pairs = [(f, b) for run in runs
                 for f in run["rows"] if f["budget"] == budget and f["method"] == "front"
                 for b in run["rows"] if b["budget"] == budget and b["method"] == "single_budget"
                 and not f.get("missing") and not b.get("missing")]
        entry["front_wins"] = {k: sum(f[k] > b[k] for f, b in pairs) for k in MEASURES}
        entry["pairs"] = len(pairs)
        summary[str(budget)] = entry
    return summary


def format_summary(summary: dict, seeds: list[int]) -> str:
    lines = [f"mean over seeds {seeds} (front vs single-budget; front wins of {{n}})",
             f"{'budget':>7} " + " ".join(f"{k:>26}" for k in MEASURES)]
    for budget, e in summary.items():
        cells = [f"{e['front'][k]:.3f} vs {e['single_budget'][k]:.3f} "
                 f"({e['front_wins'][k]}/{e['pairs']})" if e["front"] and e["single_budget"]
                 else "n/a" for k in MEASURES]
        lines.append(f"{float(budget):>7.4g} " + " ".join(f"{c:>26}" for c in cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    runs = []
    for seed in args.seeds:
        args.seed = seed
        runs.append(run(args))
        print(f"seed {seed}\n" + format_table(runs[-1]), flush=True)
    if len(runs) == 1:
        result = runs[0]
    else:
        result = {"benchmark": runs[0]["benchmark"], "seeds": args.seeds, "runs": runs,
                  "summary": summarize(runs)}
        print(format_summary(result["summary"], args.seeds))
    if args.out:
        atomic_write_json(args.out, result)
    if args.plot:
        plot_front(runs[0]["front"], args.plot,
                   title=f"front of one search (seed {args.seeds[0]}), shipped teacher")
    return 0


if __name__ == "__main__":
    sys.exit(main())

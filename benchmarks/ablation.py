"""The ablation as a benchmark: the original CycleGAN vs the library's default search
(adapted fitness) vs the paper's co-evolution and its variants vs conventional pruning, at
EQUAL size budgets (4x, 8x, 16x fewer parameters), every method's masks slimmed and
fine-tuned identically (same steps, batches, seed and distillation), at two fine-tuning
lengths (short, and long enough that quality levels off).

Methods (every mask meets the budget in parameters AND in MACs):
  adapted           search with its defaults: adapted fitness (30 distillation steps,
                    L1 to the original on held-out images), tournament selection,
                    random-order budget repair, the uniform mask seeded (the reference)
  paper             SearchConfig.paper(): the paper's F (discriminator-perceptual, λ = 10),
                    roulette selection, L1-ordered budget repair
  pixel_fitness     the paper's search with the generator-perceptual (pixel) fitness
  single_generator  the paper's search with lambda_cycle = 0 (two independent searches)
  tied_layout       the paper's search in the released code's tied layout (one stream mask)
  l1_norm           L1-norm filter pruning (Li et al.), same keep share in every group
  random            random channels with the reference search's per-group counts
  uniform           the first channels of every group at one keep ratio (hand-made)
  supernet          search with SearchConfig(fitness="supernet"): masks scored on
                    once-for-all weights (--supernet DIR), with a larger search budget since
                    its fitness is cheap (--supernet-population 32 x --supernet-generations
                    30); the winner slimmed from the SUPERNET weights
  supernet_uniform  the uniform mask slimmed from the supernet weights
  supernet_l1       the L1-norm mask of the supernet weights, slimmed from them
Every other search runs with the same population and generations; every method is
fine-tuned with distillation toward the ORIGINAL generators. Quality on the test images right
after slimming and during/after fine-tuning: the outline measures (a2b_stripe_share,
b2a_brown_share), an offline judge's Fréchet distance and target probability (trained once per
run), SSIM to the original's translations. Optionally: fine-tuning without distillation at one
budget, and a γ sweep without budget (the paper's formulation).

    python benchmarks/ablation.py                      # shipped teacher, synthetic data
    python benchmarks/ablation.py --quick --out /tmp/a # toy run (~30 s)
    python benchmarks/ablation.py --checkpoints ckpt/h2z --dataroot datasets/h2z --device cuda
    # add the supernet methods to an earlier run (its runs are kept, only the new ones run):
    python benchmarks/ablation.py --merge benchmarks/results/ablation/results.json \
        --methods supernet supernet_uniform supernet_l1 --supernet runs/supernet

Writes results.json (raw numbers, config, seeds, timings), results.md and PNG plots to --out.
With --merge PATH the earlier results.json's config must match on everything that affects
the numbers (seeds, budgets, search and fine-tuning settings, judge, data, teacher; the
methods may differ); the judge is trained deterministically (same seed, same judge), and the
original's measures are checked against the earlier file's before anything runs.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _ablation_report as report
import _ablation_tasks as tasks

from deap_gan_prune import CheckpointError, CycleGAN, load_cyclegan
from deap_gan_prune.data import DataError
from deap_gan_prune.domains import folder_data, synthetic_data
from deap_gan_prune.files import atomic_write
from deap_gan_prune.metrics.judge import JudgeConfig, judge_accuracy, train_judge
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.teacher import SUPERNET_DIR, TEACHER_DIR
from deap_gan_prune.training import ensure_discriminators

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "ablation"
#: Config keys that do not change any run's numbers (a --merge may differ on them).
MERGE_FREE = ("methods", "search_variants", "supernet", "supernet_population",
              "supernet_generations", "supernet_settings", "workers", "threads",
              "render_only", "merge")


def default_supernet() -> str | None:
    """The shipped supernet folder when it exists, else None."""
    return str(SUPERNET_DIR) if (SUPERNET_DIR / "latest_net_G_A.pth").is_file() else None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="toy run for the tests: tiny random models, 32x32, 1 seed, 1 budget")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budgets", type=float, nargs="+", default=[0.25, 0.125, 0.0625],
                   help="size ratios (default 0.25 0.125 0.0625 = 4x, 8x, 16x fewer)")
    p.add_argument("--seeded-budgets", type=float, nargs="*", default=None,
                   help="budgets run with every seed (default: the largest and smallest); "
                        "the others with the first seed only")
    p.add_argument("--finetune-steps", type=int, nargs="+", default=[80, 320],
                   help="fine-tuning lengths, each run from the slimmed masks (default 80 "
                        "320: short, and long enough that quality levels off)")
    p.add_argument("--methods", nargs="+", default=["adapted", "paper", "l1_norm", "random",
                                                     "uniform"],
                   help=f"methods to compare, of {', '.join(tasks.METHODS)} (default: the "
                        "reference search, the paper's and the conventional baselines)")
    p.add_argument("--supernet", metavar="DIR", default=None,
                   help="once-for-all generators (latest_net_G_A/G_B.pth, as supernet_pair "
                        "writes them) of the supernet methods (default: the shipped "
                        "deap_gan_prune/teacher/supernet when it exists)")
    p.add_argument("--supernet-population", type=int, default=32,
                   help="population of the supernet search (default 32: its fitness is "
                        "cheap)")
    p.add_argument("--supernet-generations", type=int, default=30)
    p.add_argument("--merge", metavar="PATH", default=None,
                   help="an earlier results.json whose config matches on everything that "
                        "affects numbers: its runs are kept, only missing runs are run, and "
                        "the combined results are written to --out")
    p.add_argument("--batch-size", type=int, default=4, help="fine-tuning batch")
    p.add_argument("--distill", type=float, default=10.0,
                   help="distillation weight of the main fine-tuning (default 10)")
    p.add_argument("--no-distill-budget", type=float, default=None,
                   help="budget at which fine-tuning without distillation is also run "
                        "(first seed, first fine-tuning length; default: none)")
    p.add_argument("--gammas", type=float, nargs="*", default=[],
                   help="γ sweep without budget with the paper's search (first seed; "
                        "default: none)")
    p.add_argument("--budget-gamma", type=float, default=0.0,
                   help="γ of the searches at a budget (default 0: the repair caps the size, "
                        "so a size reward would only push searched masks below the budget)")
    p.add_argument("--population", type=int, default=12, help="per generator")
    p.add_argument("--generations", type=int, default=8)
    p.add_argument("--n-images", type=int, default=16,
                   help="held-out images per domain the fitness scores on")
    p.add_argument("--adapt-images", type=int, default=32,
                   help="adaptation images per domain of the adapted fitness")
    p.add_argument("--judge-steps", type=int, default=150)
    p.add_argument("--image-size", type=int, default=None,
                   help="default 64 (synthetic) or 256 (--dataroot)")
    p.add_argument("--dataroot", help="upstream image folder (default: embedded synthetic data)")
    p.add_argument("--checkpoints", help="folder with latest_net_G_A/G_B[/D_A/D_B].pth "
                                         "(default: the shipped teacher)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default 2; 1 with --quick)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    p.add_argument("--render-only", action="store_true",
                   help="only rewrite the summary, results.md and plots from --out's "
                        "results.json (no training)")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.budgets, args.gammas = args.seeds[:1], args.budgets[:1], [1.0]
        args.finetune_steps, args.batch_size, args.population = [4, 8], 2, 4
        args.generations, args.n_images, args.judge_steps = 1, 4, 5
        args.adapt_images, args.no_distill_budget = 4, args.budgets[0]
        args.supernet_population, args.supernet_generations = 4, 2
    if args.workers is None:
        args.workers = 1 if args.quick else 2
    if args.seeded_budgets is None:
        args.seeded_budgets = sorted({max(args.budgets), min(args.budgets)})
    if any(not 0 < b <= 1 for b in args.budgets) or not args.seeds:
        p.error("budgets must be size ratios in (0, 1] and --seeds non-empty")
    unknown = set(args.methods) - set(tasks.METHODS)
    if unknown or (tasks.REFERENCE not in args.methods and not args.merge):
        p.error(f"--methods must include {tasks.REFERENCE!r} (unless --merge) and name only "
                f"{', '.join(tasks.METHODS)}")
    args.methods = [m for m in tasks.METHODS if m in args.methods]
    if args.supernet is None:
        args.supernet = default_supernet()
    if args.supernet is None and set(args.methods) & set(tasks.SUPERNET_METHODS):
        p.error(f"the methods {', '.join(tasks.SUPERNET_METHODS)} need --supernet DIR (no "
                f"shipped supernet at {SUPERNET_DIR})")
    if min(args.supernet_population, args.supernet_generations) < 1:
        p.error("--supernet-population and --supernet-generations must be >= 1")
    if args.finetune_steps != sorted(set(args.finetune_steps)) or args.finetune_steps[0] < 0:
        p.error("--finetune-steps must be distinct, ascending and >= 0")
    return args


def load_models_and_data(args, say) -> tuple[CycleGAN, object, str]:
    """The original CycleGAN, the data, and a description of the CycleGAN's source."""
    if args.quick:
        torch.manual_seed(0)
        gan = CycleGAN(ResnetGenerator(ngf=4, n_blocks=2).eval(),
                       ResnetGenerator(ngf=4, n_blocks=2).eval(),
                       NLayerDiscriminator(ndf=4).eval(), NLayerDiscriminator(ndf=4).eval())
        source = "random ngf 4 / 2 blocks (quick)"
    elif args.checkpoints:
        gan, source = load_cyclegan(args.checkpoints, device=args.device), args.checkpoints
    elif (TEACHER_DIR / "latest_net_G_A.pth").is_file():
        gan, source = load_cyclegan(TEACHER_DIR, device=args.device), "shipped teacher"
    else:
        raise CheckpointError(TEACHER_DIR, "no shipped teacher weights (latest_net_G_A.pth); "
                                           "pass --checkpoints FOLDER or use --quick")
    if args.dataroot:
        data = folder_data(args.dataroot, args.image_size or 256, n_val=64)
    elif args.quick:
        data = synthetic_data(32, 8, size=32, n_val=4)
    else:
        data = synthetic_data(512, 64, size=args.image_size or 64)
    if not gan.has_discriminators:
        say("fitting discriminators against the frozen generators ...")
        gan = ensure_discriminators(gan, data, steps=20 if args.quick else 500,
                                    device=args.device, progress=not args.quiet)
    return gan, data, source


def load_supernet(args, gan: CycleGAN) -> CycleGAN:
    """The supernet pair of --supernet (discriminator files optional), checked to have the
    original generators' class and widths."""
    nets = load_cyclegan(args.supernet, device=args.device)
    for name, s, g in (("G_A", nets.g_a, gan.g_a), ("G_B", nets.g_b, gan.g_b)):
        if type(s) is not type(g) or getattr(s, "widths", None) != getattr(g, "widths", None):
            raise CheckpointError(args.supernet, f"the supernet {name} is not of the original "
                                                 f"{name}'s class and widths")
    nets.g_a.eval(), nets.g_b.eval()
    return nets


def _compact(obj):
    """Floats rounded to 6 significant digits (results.json stays small)."""
    if isinstance(obj, float):
        return float(f"{obj:.6g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _compact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_compact(v) for v in obj]
    return obj


def run_key(run: dict) -> tuple:
    """The identity of a run: method, budget, γ, seed, fine-tuning steps and distillation."""
    return (run["method"], run["budget"], run["gamma"], run["seed"], run["finetune_steps"],
            run["distill_weight"])


def _search_base(args, method: str) -> dict:
    base = {"population": args.population, "generations": args.generations,
            "n_images": args.n_images, "adapt_images": args.adapt_images}
    if method == "supernet":
        base.update(population=args.supernet_population,
                    generations=args.supernet_generations)
    return base


def plan_runs(args, have: set = frozenset()) -> list[tuple]:
    """``(method, budget, gamma, seed, steps, distill)`` of every run the config asks for that
    is not in ``have`` (the runs of a merged file)."""
    out = []
    for b in args.budgets:
        for s in (args.seeds if b in args.seeded_budgets else args.seeds[:1]):
            runs = [(n, args.distill) for n in args.finetune_steps]
            if b == args.no_distill_budget and s == args.seeds[0] and args.distill > 0:
                runs.append((args.finetune_steps[0], 0.0))
            out += [(m, b, None, s, n, d) for m in args.methods for n, d in runs]
    out += [("paper", None, g, args.seeds[0], args.finetune_steps[0], args.distill)
            for g in args.gammas]
    return [k for k in out if k not in have]


def plan_searches(args, needed: list[tuple] | None = None, known: dict | None = None) -> list:
    """The searches the runs ``needed`` (default: all) use; a ``random`` run needs the
    reference search unless its masks are ``known`` (``{(budget, seed): masks}``)."""
    needed = plan_runs(args) if needed is None else needed
    want = {(m, b, g, s) for m, b, g, s, _, _ in needed if m in tasks.SEARCH_VARIANTS}
    want |= {(tasks.REFERENCE, b, None, s) for m, b, g, s, _, _ in needed
             if m == "random" and (b, s) not in (known or {})}
    out = [tasks.SearchTask(m, b, s, {**_search_base(args, m),
                                      "gamma": args.budget_gamma if b is not None else g})
           for m, b, g, s in want]
    order = {m: i for i, m in enumerate(tasks.METHODS)}
    return sorted(out, key=lambda t: (-(t.budget or 0.5), order[t.method], t.seed,
                                      t.config["gamma"]))  # larger networks first


def matching_results(path: str | Path, config: dict, free: Iterable[str], use: str) -> dict:
    """An earlier results.json whose config equals ``config`` on every key outside ``free``
    (those that change no number); refused with a one-line error naming the differing keys
    (``use``: what it is for, "merge" or "re-use")."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such results.json to {use}")
    old = json.loads(path.read_text())
    new = json.loads(json.dumps(config))
    keys = (set(old["config"]) | set(new)) - set(free)
    differ = sorted(k for k in keys if old["config"].get(k) != new.get(k))
    if differ:
        raise ValueError(f"{path}: its config differs on {', '.join(differ)}; cannot {use}")
    return old


def _run_phase(name: str, todo: list, ctx, args, results: dict) -> float:
    started = time.perf_counter()
    bar = tqdm(total=len(todo), desc=name, disable=args.quiet)

    def done(task, result):
        results[task.key] = result
        bar.update()
    try:
        tasks.run_tasks(todo, ctx, args.workers, done)
    finally:
        bar.close()
    return time.perf_counter() - started


def write_outputs(results: dict, out: Path) -> dict:
    """Summary and win counts from the runs, then results.json, results.md and the plots
    (all from the figures as stored: 6 significant digits, so a fresh run and a re-render
    agree; closer values count as ties)."""
    results = _compact(results)
    cfg = results["config"]
    results["summary"] = report.summarize(results["runs"], cfg["budgets"], cfg["methods"])
    results["reference_wins"] = {
        variant: report.paired_wins(results["runs"], variant)
        for variant in report.variants(cfg["finetune_steps"], cfg["distill_weight"])}
    if "supernet" in cfg["methods"]:
        results["supernet_wins"] = {
            variant: report.paired_wins(results["runs"], variant, "supernet",
                                        report.SUPERNET_RIVALS, report.SUPERNET_FIGURES)
            for variant in report.variants(cfg["finetune_steps"], cfg["distill_weight"])}
    results["plots"] = report.plot_all(results, out)
    atomic_write(out / "results.json",
                 lambda tmp: Path(tmp).write_text(json.dumps(results) + "\n"))
    (out / "results.md").write_text(report.markdown(results))
    return results


def run_config(args) -> dict:
    """results.json's config of a run with ``args``."""
    return {**{k: v for k, v in vars(args).items() if k not in ("quiet", "out")},
            "distill_weight": args.distill, "methods": list(args.methods),
            "reference": tasks.REFERENCE,
            "search_variants": {m: tasks.SEARCH_VARIANTS[m] for m in args.methods
                                if m in tasks.SEARCH_VARIANTS},
            "budget_measures": list(tasks.BUDGET_MEASURES),
            "mac_convention": "transposed convs at output positions",
            "curve_steps": {n: tasks.curve_points(n) for n in args.finetune_steps}}


def _check_same_start(old: dict, data_name: str, source: str, original: dict) -> None:
    """A merge needs the same data, teacher and original measures (the judge included)."""
    differ = [k for k, a, b in (("data", old["data"], data_name),
                                ("teacher", old["teacher"], source)) if a != b]
    orig = _compact(original)
    differ += [f"original {k}" for k in sorted(set(old["original"]) | set(orig))
               if not math.isclose(old["original"].get(k, math.nan), orig.get(k, math.nan),
                                   rel_tol=1e-3, abs_tol=1e-5)]
    if differ:
        raise ValueError(f"{old.get('_path', 'the merged file')}: differs on "
                         f"{', '.join(differ)}; cannot merge")


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    say = (lambda *_a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.render_only:
        path = out / "results.json"
        if not path.is_file():
            raise ValueError(f"{path}: no such file to render (run the benchmark first)")
        write_outputs(json.loads(path.read_text()), out)
        say(f"rewrote {out}/results.json, results.md and the plots")
        return 0
    config = run_config(args)
    old = None
    if args.merge:
        old = {**matching_results(args.merge, _compact(config), MERGE_FREE, "merge"),
               "_path": args.merge}
        args.methods = [m for m in tasks.METHODS
                        if m in args.methods or m in old["config"]["methods"]]
        if tasks.REFERENCE not in args.methods:
            raise ValueError(f"--methods or the merged file must include {tasks.REFERENCE!r}")
        config = run_config(args)
    out.mkdir(parents=True, exist_ok=True)
    gan, data, source = load_models_and_data(args, say)
    t = time.perf_counter()
    real_a, real_b = (data.train[0][:256], data.train[1][:256]) if isinstance(data.train, tuple) \
        else (data.val_a, data.val_b)
    judge = train_judge(real_a, real_b, steps=args.judge_steps, seed=0,
                        config=JudgeConfig(image_size=max(16, data.image_size)),
                        device=args.device, progress=not args.quiet)
    judge_s = time.perf_counter() - t
    ctx = tasks.Context(gan, data, judge, args.device, args.threads)
    original = tasks.flat_quality(ctx, gan.g_a, gan.g_b)
    kept = [] if old is None else old["runs"] + old["gamma_sweep"]
    if old is not None:
        _check_same_start(old, data.name, source, original)
    needed = plan_runs(args, {run_key(r) for r in kept})
    if any(m in tasks.SUPERNET_METHODS for m, *_ in needed):
        ctx.supernet = load_supernet(args, gan)
    known = {(r["budget"], r["seed"]): r["masks"] for r in kept
             if r["method"] == tasks.REFERENCE}

    searches: dict = {}
    search_wall = _run_phase("searches", plan_searches(args, needed, known), ctx, args,
                             searches)
    records, finetunes = [], []
    for key in needed:
        method, budget, gamma, seed, steps, distill = key
        source_weights = "supernet" if method in tasks.SUPERNET_METHODS else "original"
        found = searches.get(("search", method, budget, gamma, seed))
        if found is not None:
            masks, layout = found["masks"], found["layout"]
            search = {k: found[k] for k in ("terms", "seconds")}
        else:
            like = known.get((budget, seed)) or (
                searches[("search", tasks.REFERENCE, budget, None, seed)]["masks"]
                if method == "random" else None)
            masks = tasks.baseline_masks(ctx.weights(source_weights), method, budget, seed,
                                         like)
            layout, search = "independent", None
        rec = {"method": method, "budget": budget, "gamma": gamma, "seed": seed,
               "finetune_steps": steps, "distill_weight": distill, "layout": layout,
               "masks": masks, "sizes": tasks.mask_sizes(gan, layout, masks),
               "search": search, "key": key}
        if source_weights != "original":
            rec["weights"] = source_weights
        records.append(rec)
        finetunes.append(tasks.FinetuneTask(masks, layout, steps, distill, seed,
                                            args.batch_size, key, source_weights))
    tuned: dict = {}
    finetunes.sort(key=lambda t: -t.steps)  # longest first: the pool ends evenly
    finetune_wall = _run_phase("fine-tuning", finetunes, ctx, args, tuned)
    for rec in records:
        res = tuned[rec.pop("key")]
        rec["curve"], rec["finetune_seconds"] = res["curve"], res["seconds"]
    order = {k: i for i, k in enumerate(plan_runs(args))}
    records = sorted(kept + records, key=lambda r: order.get(run_key(r), len(order)))
    if args.supernet is not None and any(m in tasks.SUPERNET_METHODS for m in args.methods):
        supernet_json = Path(args.supernet) / "supernet.json"
        config["supernet_settings"] = (json.loads(supernet_json.read_text())
                                       if supernet_json.is_file() else None)
    results = {
        "config": config,
        "environment": {"torch": torch.__version__, "workers": args.workers,
                        "threads": args.threads, "device": args.device},
        "data": data.name, "teacher": source,
        "judge": {"steps": args.judge_steps, "seconds": judge_s,
                  "test_accuracy": judge_accuracy(judge, data.test_a, data.test_b)},
        "original": original,
        "runs": [r for r in records if r["budget"] is not None],
        "gamma_sweep": [r for r in records if r["budget"] is None],
    }
    results["timings"] = {
        "total_s": time.perf_counter() - started, "judge_s": judge_s,
        "search_wall_s": search_wall, "finetune_wall_s": finetune_wall,
        "search_s": sum(r["seconds"] for r in searches.values()),
        "finetune_s": sum(r["finetune_seconds"] for r in records)}
    if old is not None:
        earlier = old["timings"]
        results["timings"]["search_s"] += earlier["search_s"]
        for k in ("total_s", "search_wall_s", "finetune_wall_s"):
            results["timings"][k] += earlier[k]
        results["original"], results["judge"] = old["original"], old["judge"]
        results["timings"]["judge_s"] = earlier["judge_s"]
        results["merged"] = {"from": str(args.merge), "runs_kept": len(kept),
                             "runs_added": len(records) - len(kept),
                             "earlier_methods": old["config"]["methods"],
                             "earlier_environment": old["environment"],
                             "earlier_timings": earlier, "added_timings": {
                                 "total_s": time.perf_counter() - started,
                                 "search_wall_s": search_wall,
                                 "finetune_wall_s": finetune_wall}}
    results = write_outputs(results, out)
    say(report.console_table(results))
    say(f"wrote {out}/results.json, results.md, {', '.join(results['plots'])} in "
        f"{results['timings']['total_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CheckpointError, DataError, ValueError) as exc:
        print(f"ablation: error: {exc}", file=sys.stderr)
        sys.exit(1)

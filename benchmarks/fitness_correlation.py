"""Which fitness predicts quality after fine-tuning? Spearman ρ of each score of a mask pair
against the pair's quality after the ablation's fine-tuning, at equal size budgets.

For every budget (default 4x and 8x fewer parameters, every mask also within the MAC budget),
a set of mask pairs of varied kinds — the uniform keep ratio (first channels), L1-norm
pruning, uniform counts with random channels, Bernoulli masks trimmed to the budget in random
order, lopsided masks (a random keep ratio per group, trimmed), masks searched with the
paper's fitness and with the adapted fitness, and random masks with the searched per-group
counts — is

1. scored by every candidate fitness: the paper's F (discriminator-perceptual + λ·cycle, on
   the pruned pair as it is) and the adapted scores (L1, 1 − SSIM, discriminator distance to
   the original's outputs on held-out images) after 0, 10, 30 and 100 distillation steps;
2. slimmed and fine-tuned exactly as ``benchmarks/ablation.py`` does (80 steps, distillation
   10, same seed and batches), then measured on the test images.

Quality is one rank per pair: the mean of its ranks on stripes A→B, brown B→A, the judge's
Fréchet distance (both directions' mean) and SSIM to the original (both directions' mean).
A score's ρ is the Spearman correlation of −score (lower is better for every score) with
quality, with a 95 % bootstrap interval over the pairs; its cost is the seconds per candidate
and generator, measured on one thread.

    python benchmarks/fitness_correlation.py            # shipped teacher, ~25 min on 2 cores
    python benchmarks/fitness_correlation.py --quick --out /tmp/fc   # toy run (~30 s)
    # add the supernet score to the earlier pairs (only the new score is computed):
    python benchmarks/fitness_correlation.py --supernet runs/supernet \
        --from-results benchmarks/results/fitness_correlation/results.json
    # quality after fine-tuning masks slimmed from the supernet weights:
    python benchmarks/fitness_correlation.py --supernet runs/supernet --finetune-from supernet

With ``--supernet [DIR]`` (no DIR: the shipped deap_gan_prune/teacher/supernet) every pair is
also scored by the supernet fitness (``supernet_l1``: L1 to the original's outputs on the
held-out images of the supernet-slimmed pair, as SupernetFitness computes; ``supernet_ssim``:
1 − SSIM, the same outputs). ``--from-results PATH`` re-uses the pairs, scores and quality of
an earlier results.json (its config must match on everything that affects them) for the
budgets it has; the other budgets run the full path. ``--finetune-from supernet`` measures
quality after fine-tuning masks slimmed from the supernet's weights (still distilled toward
the original generators); re-used pairs keep their earlier quality as
``quality_original_weights``.

Writes results.json and results.md to --out (default benchmarks/results/fitness_correlation).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _ablation_tasks as tasks
from ablation import (
    SUPERNET_DIR,
    default_supernet,
    load_models_and_data,
    load_supernet,
    matching_results,
)

from deap_gan_prune import AdaptedFitness
from deap_gan_prune.core.baselines import random_mask_like
from deap_gan_prune.data import DataError
from deap_gan_prune.files import atomic_write
from deap_gan_prune.fitness import Adaptation, GeneratorFitness, Partner, Scoring, SupernetFitness
from deap_gan_prune.metrics.judge import JudgeConfig, train_judge
from deap_gan_prune.nets.checkpoints import CheckpointError
from deap_gan_prune.operators import repairBudget

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "fitness_correlation"
#: Quality measures that make the composite, with their direction (True: higher is better).
QUALITY = {"a2b_stripe_share": True, "b2a_brown_share": True, "judge_frechet": False,
           "ssim": True}
SCORE_KINDS = ("l1", "ssim", "discriminator")
#: Config keys that do not change a pair's masks, scores or quality (--from-results may
#: differ on them).
REUSE_FREE = ("budgets", "workers", "threads", "bootstrap", "supernet", "from_results",
              "finetune_from", "quiet", "out")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="toy run: tiny random models, 32x32")
    p.add_argument("--budgets", type=float, nargs="+", default=None,
                   help="default 0.25 0.125 (0.25 with --quick)")
    p.add_argument("--steps", type=int, nargs="+", default=[0, 10, 30, 100],
                   help="adaptation steps at which the adapted scores are taken")
    p.add_argument("--bernoulli", type=int, default=8, help="Bernoulli masks per budget")
    p.add_argument("--lopsided", type=int, default=6, help="lopsided masks per budget")
    p.add_argument("--random-channels", type=int, default=3,
                   help="uniform counts with random channels, per budget")
    p.add_argument("--search-seeds", type=int, nargs="*", default=[0, 1],
                   help="seeds of the searches with each fitness")
    p.add_argument("--search-population", type=int, default=8)
    p.add_argument("--search-generations", type=int, default=4)
    p.add_argument("--finetune-steps", type=int, default=80)
    p.add_argument("--distill", type=float, default=10.0)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--n-images", type=int, default=16, help="held-out scoring images")
    p.add_argument("--adapt-images", type=int, default=32)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--judge-steps", type=int, default=150)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--dataroot")
    p.add_argument("--checkpoints")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=None, help="default 2; 1 with --quick")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--supernet", metavar="DIR", nargs="?", const="shipped", default=None,
                   help="also score every pair by the supernet fitness on these once-for-all "
                        "generators (no DIR: the shipped deap_gan_prune/teacher/supernet)")
    p.add_argument("--from-results", metavar="PATH", default=None,
                   help="an earlier results.json: re-use its pairs, scores and quality for "
                        "the budgets it has (only new scores are computed)")
    p.add_argument("--finetune-from", choices=("original", "supernet"), default="original",
                   help="weights the masks are slimmed from before fine-tuning (default: the "
                        "original's; supernet needs --supernet or the shipped one)")
    args = p.parse_args(argv)
    if args.budgets is None:
        args.budgets = [0.25] if args.quick else [0.25, 0.125]
    if args.quick:
        args.steps, args.bernoulli, args.lopsided = [0, 2], 3, 2
        args.random_channels, args.search_seeds, args.finetune_steps = 1, [0], 4
        args.search_population, args.search_generations, args.judge_steps = 4, 1, 5
        args.n_images, args.adapt_images, args.bootstrap, args.batch_size = 4, 4, 50, 2
    if args.workers is None:
        args.workers = 1 if args.quick else 2
    if any(not 0 < b <= 1 for b in args.budgets):
        p.error("budgets must be size ratios in (0, 1]")
    if args.steps != sorted(set(args.steps)) or args.steps[0] < 0:
        p.error("--steps must be distinct, ascending and >= 0")
    if args.supernet == "shipped" or (args.supernet is None
                                      and args.finetune_from == "supernet"):
        args.supernet = default_supernet()
        if args.supernet is None:
            p.error(f"--supernet DIR is needed (no shipped supernet at {SUPERNET_DIR})")
    return args


# -- the masks -------------------------------------------------------------------------------
def _trimmed(space, keep: list[float], budget: float, rng: random.Random) -> list[int]:
    bits = [1 if rng.random() < keep[gi] else 0
            for gi, g in enumerate(space.groups) for _ in range(g.size)]
    state = random.getstate()
    random.seed(rng.random())
    repairBudget(bits, space, budget, measure=tasks.BUDGET_MEASURES, image_size=256)
    random.setstate(state)
    return bits


def candidate_masks(gan, budget: float, args, searched: dict) -> list[dict]:
    """The mask pairs compared at ``budget``: ``{"kind", "masks": {"A": str, "B": str}}``."""
    spaces = tasks.spaces(gan, "independent")
    rng = random.Random(f"{args.seed}-{budget}")
    out = [{"kind": k, "masks": tasks.baseline_masks(gan, k, budget, args.seed)}
           for k in ("uniform", "l1_norm")]
    uniform = out[0]["masks"]
    for i in range(args.random_channels):
        out.append({"kind": "uniform_random_channels", "masks": {
            n: tasks.bits_str(random_mask_like(s, tasks.str_bits(uniform[n]), seed=1000 + i))
            for n, s in zip("AB", spaces)}})
    for kind, count in (("bernoulli", args.bernoulli), ("lopsided", args.lopsided)):
        for _ in range(count):
            masks = {}
            for n, s in zip("AB", spaces):
                keep = [0.5] * len(s.groups) if kind == "bernoulli" else \
                    [rng.uniform(0.1, 1.0) for _ in s.groups]
                masks[n] = tasks.bits_str(_trimmed(s, keep, budget, rng))
            out.append({"kind": kind, "masks": masks})
    for (method, b, _, seed), found in sorted(searched.items(), key=str):
        if b != budget:
            continue
        out.append({"kind": f"searched_{method}", "masks": found["masks"]})
        out.append({"kind": "random_like_searched", "masks": {
            n: tasks.bits_str(random_mask_like(s, tasks.str_bits(found["masks"][n]),
                                               seed=2000 + seed))
            for n, s in zip("AB", spaces)}})
    return out


@dataclass
class SearchTask:
    """One search with the paper's or the adapted fitness at ``budget`` (small budget)."""

    method: str
    budget: float
    seed: int
    config: dict

    @property
    def key(self) -> tuple:
        return (self.method, self.budget, None, self.seed)

    def run(self, ctx: tasks.Context) -> dict:
        from deap_gan_prune import search
        from deap_gan_prune.evolution import SearchConfig, Task
        from deap_gan_prune.runoptions import RunOptions
        base = SearchConfig.paper if self.method == "paper" else SearchConfig
        config = base(**self.config, budget=self.budget, seed=self.seed,
                      budget_measures=tasks.BUDGET_MEASURES)
        g = ctx.gan
        images_a, images_b = tasks.image_pool(ctx.data)
        task = Task.pair(g.g_a, g.g_b, images_a, images_b,
                         discriminators={"A": g.d_a, "B": g.d_b})
        result = search(task, config, RunOptions(device=ctx.device, progress=False))
        return {"masks": {n: tasks.bits_str(m) for n, m in result.masks.items()}}


# -- the scores ------------------------------------------------------------------------------
@dataclass
class ScoreTask:
    """Every candidate score of one mask pair, with its cost."""

    masks: dict
    steps: list
    n_images: int
    adapt_images: int
    seed: int
    key: tuple = ()

    def run(self, ctx: tasks.Context) -> dict:
        gan = ctx.gan
        bits = {n: tasks.str_bits(self.masks[n]) for n in "AB"}
        spaces = tasks.spaces(gan, "independent")
        train_a, train_b = tasks.image_pool(ctx.data)
        held = (train_a[:self.n_images], train_b[:self.n_images])
        window = slice(self.n_images, self.n_images + self.adapt_images)
        scoring = Scoring(gamma=0.0, device=ctx.device)
        paper = [GeneratorFitness(g, s, x, scoring, discriminator=d,
                                  partner=Partner(other, other_space, 10.0))
                 for g, s, x, d, other, other_space in (
                     (gan.g_a, spaces[0], held[0], gan.d_a, gan.g_b, spaces[1]),
                     (gan.g_b, spaces[1], held[1], gan.d_b, gan.g_a, spaces[0]))]
        for f in paper:
            f.reference()
        started = time.perf_counter()
        loss = (paper[0].terms(bits["A"], bits["B"])["loss"] +
                paper[1].terms(bits["B"], bits["A"])["loss"])
        out = {"paper_F": loss, "cost": {"paper_F": (time.perf_counter() - started) / 2}}
        along = {}
        for n, g, d, x, s in (("A", gan.g_a, gan.d_a, train_a, spaces[0]),
                              ("B", gan.g_b, gan.d_b, train_b, spaces[1])):
            fit = AdaptedFitness(g, s, x[:self.n_images], Scoring(device=ctx.device),
                                 adaptation=Adaptation(x[window], max(self.steps),
                                                       seed=self.seed),
                                 discriminator=d)
            fit.reference()
            started = time.perf_counter()
            along[n] = fit.scores_along(bits[n], self.steps)
            out["cost"][f"adapted_{n}"] = time.perf_counter() - started
        for i, k in enumerate(self.steps):
            for kind in along["A"][i]:
                out[f"{kind}@{k}"] = along["A"][i][kind] + along["B"][i][kind]
        return out


@dataclass
class SupernetScoreTask:
    """The supernet fitness of one mask pair: ``supernet_l1`` (L1 to the original's outputs
    on the held-out images, summed over both generators, as SupernetFitness scores) and
    ``supernet_ssim`` (1 − SSIM, same outputs), with its cost."""

    masks: dict
    n_images: int
    key: tuple = ()

    def run(self, ctx: tasks.Context) -> dict:
        gan, supernet = ctx.gan, ctx.weights("supernet")
        pool_a, pool_b = tasks.image_pool(ctx.data)
        spaces = tasks.spaces(gan, "independent")
        out: dict = {"supernet_l1": 0.0, "supernet_ssim": 0.0, "cost": {}}
        for score in ("l1", "ssim"):
            fits = [SupernetFitness(s, sp, x[:self.n_images], Scoring(device=ctx.device),
                                    original=g, score=score)
                    for s, g, x, sp in ((supernet.g_a, gan.g_a, pool_a, spaces[0]),
                                        (supernet.g_b, gan.g_b, pool_b, spaces[1]))]
            for name, fit in zip("AB", fits):
                fit.reference()
                started = time.perf_counter()
                out[f"supernet_{score}"] += fit.terms(tasks.str_bits(self.masks[name]))["score"]
                out["cost"][f"supernet_{score}_{name}"] = time.perf_counter() - started
        return out


# -- statistics ------------------------------------------------------------------------------
def ranks(values) -> np.ndarray:
    """Ranks 0..n-1 (ties share their mean rank)."""
    values = np.asarray(values, dtype=float)
    order = values.argsort(kind="stable")
    r = np.empty(len(values))
    r[order] = np.arange(len(values))
    for v in np.unique(values):
        tie = values == v
        r[tie] = r[tie].mean()
    return r


def spearman(x, y) -> float:
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def bootstrap_interval(x, y, n: int, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of Spearman ρ over ``n`` resamples of the pairs."""
    rng = np.random.default_rng(seed)
    x, y = np.asarray(x), np.asarray(y)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(x), len(x))
        rho = spearman(x[idx], y[idx])
        if np.isfinite(rho):
            values.append(rho)
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def quality_rank(qualities: list[dict]) -> np.ndarray:
    """Each pair's mean rank over :data:`QUALITY` (higher = better)."""
    per = [ranks([q[k] if up else -q[k] for q in qualities])
           for k, up in QUALITY.items() if all(k in q for q in qualities)]
    return np.mean(per, axis=0)


def correlations(entries: list[dict], n_boot: int) -> dict:
    """ρ (with interval) of every score against the composite quality and each measure."""
    quality = quality_rank([e["quality"] for e in entries])
    out = {}
    for name in entries[0]["scores"]:
        if name == "cost":
            continue
        neg = [-e["scores"][name] for e in entries]
        lo, hi = bootstrap_interval(neg, quality, n_boot)
        out[name] = {"rho": spearman(neg, quality), "ci95": [lo, hi],
                     "per_measure": {k: spearman(neg, [e["quality"][k] if up
                                                       else -e["quality"][k]
                                                       for e in entries])
                                     for k, up in QUALITY.items()
                                     if all(k in e["quality"] for e in entries)}}
    return out


def costs(entries: list[dict], steps: list[int]) -> dict:
    """Median seconds per candidate and generator: the paper's F, and the adapted scores at
    the largest step count (scaled linearly to each step count is left to the reader)."""
    paper = float(np.median([e["scores"]["cost"]["paper_F"] for e in entries]))
    adapted = float(np.median([e["scores"]["cost"][f"adapted_{n}"] for e in entries
                               for n in "AB"]))
    out = {"paper_F_s": paper, f"adapted_{max(steps)}_steps_s": adapted}
    if any("supernet_l1_A" in e["scores"]["cost"] for e in entries):
        out["supernet_l1_s"] = float(np.median([
            e["scores"]["cost"][f"supernet_l1_{n}"] for e in entries
            if "supernet_l1_A" in e["scores"]["cost"] for n in "AB"]))
    return out


def markdown(results: dict) -> str:
    lines = ["# Fitness against quality after fine-tuning", "",
             f"{results['n_pairs']} mask pairs per budget, fine-tuned "
             f"{results['config']['finetune_steps']} "
             f"steps (distillation {results['config']['distill']}); ρ = Spearman of −score with "
             "the composite quality rank (95 % bootstrap interval).", ""]
    budgets = list(results["budgets"])
    lines.append("| score | " + " | ".join(f"ρ at {1 / float(b):g}x" for b in budgets) + " |")
    lines.append("|---|" + "---|" * len(budgets))
    names = dict.fromkeys(n for b in budgets for n in results["budgets"][b]["correlations"])
    for name in names:
        cells = []
        for b in budgets:
            c = results["budgets"][b]["correlations"].get(name)
            cells.append("-" if c is None else
                         f"{c['rho']:+.2f} [{c['ci95'][0]:+.2f}, {c['ci95'][1]:+.2f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cfg = results["config"]
    if cfg.get("finetune_from") == "supernet":
        lines += ["", f"Quality after fine-tuning masks slimmed from the supernet "
                      f"({cfg['supernet']}), distilled toward the original generators."]
    if results.get("reused"):
        lines += ["", f"Pairs, scores and quality at {', '.join(results['reused']['budgets'])} "
                      f"re-used from {results['reused']['from']}."]
    lines += ["", "Cost per candidate and generator (seconds, one thread): " +
              ", ".join(f"{k} {v:.3f}" for k, v in results["costs"].items()), ""]
    return "\n".join(lines)


def load_earlier(args) -> dict:
    """The --from-results file, refused with a one-line error when its config differs on a
    key that changes a pair's masks, scores or quality."""
    return matching_results(args.from_results, _config(args), REUSE_FREE, "re-use")


def _config(args) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ("quiet", "out")}


def main(argv=None) -> int:
    args = parse_args(argv)
    say = (lambda *_a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out_dir = Path(args.out)
    earlier = load_earlier(args) if args.from_results else None
    out_dir.mkdir(parents=True, exist_ok=True)
    load_args = argparse.Namespace(quick=args.quick, checkpoints=args.checkpoints,
                                   dataroot=args.dataroot, image_size=args.image_size,
                                   device=args.device, quiet=args.quiet)
    gan, data, source = load_models_and_data(load_args, say)
    if earlier is not None and (earlier["teacher"], earlier["data"]) != (source, data.name):
        raise ValueError(f"{args.from_results}: made with another teacher or data; cannot "
                         "re-use")
    reused = [] if earlier is None else [
        b for b in args.budgets if any(p["budget"] == b for p in earlier["pairs"])]
    fresh = [b for b in args.budgets if b not in reused]
    earlier_from = None if earlier is None else earlier["config"].get("finetune_from",
                                                                      "original")
    retune = earlier_from != args.finetune_from      # re-used pairs need a new quality
    pool_a, pool_b = tasks.image_pool(data)
    judge = None
    if fresh or retune:
        judge = train_judge(pool_a[:256], pool_b[:256], steps=args.judge_steps, seed=0,
                            config=JudgeConfig(image_size=max(16, data.image_size)),
                            device=args.device, progress=not args.quiet)
    ctx = tasks.Context(gan, data, judge, args.device, args.threads)
    if args.supernet is not None:
        ctx.supernet = load_supernet(args, gan)
    search_cfg = {"population": args.search_population,
                  "generations": args.search_generations, "n_images": args.n_images,
                  "adapt_images": args.adapt_images}
    searches = [SearchTask(m, b, s, search_cfg) for b in fresh
                for s in args.search_seeds for m in ("paper", "adapted")]
    searched: dict = {}
    tasks.run_tasks(searches, ctx, args.workers,
                    lambda t, r: searched.__setitem__(t.key, r))
    say(f"searches done ({time.perf_counter() - started:.0f} s)")
    todo, pairs = [], {}
    for b in args.budgets:
        if b in reused:
            cands = [{k: v for k, v in p.items() if k not in ("budget", "sizes")}
                     for p in earlier["pairs"] if p["budget"] == b]
        else:
            cands = candidate_masks(gan, b, args, searched)
        for i, cand in enumerate(cands):
            key = (b, i)
            pairs[key] = {**cand, "budget": b,
                          "sizes": tasks.mask_sizes(gan, "independent", cand["masks"])}
            if b not in reused:
                todo.append(ScoreTask(cand["masks"], args.steps, args.n_images,
                                      args.adapt_images, args.seed, ("score", *key)))
            if args.supernet is not None:
                todo.append(SupernetScoreTask(cand["masks"], args.n_images,
                                              ("supernet", *key)))
            if b not in reused or retune:
                todo.append(tasks.FinetuneTask(cand["masks"], "independent",
                                               args.finetune_steps, args.distill, args.seed,
                                               args.batch_size, ("finetune", *key),
                                               args.finetune_from))
    done: dict = {}
    tasks.run_tasks(todo, ctx, args.workers, lambda t, r: done.__setitem__(t.key, r))
    results = {"config": _config(args), "teacher": source, "data": data.name, "budgets": {},
               "pairs": []}
    if earlier is not None:
        results["reused"] = {"from": str(args.from_results),
                             "budgets": [str(b) for b in reused]}
    for key, pair in pairs.items():
        if ("score", *key) in done:
            pair["scores"] = done[("score", *key)]
        if ("supernet", *key) in done:
            new = done[("supernet", *key)]
            pair["scores"] = {**pair["scores"], **{k: v for k, v in new.items() if k != "cost"},
                              "cost": {**pair["scores"]["cost"], **new["cost"]}}
        if ("finetune", *key) in done:
            if "quality" in pair:
                pair[f"quality_{earlier_from}_weights"] = pair["quality"]
            pair["quality"] = done[("finetune", *key)]["curve"][-1]
        results["pairs"].append(pair)
    for b in args.budgets:
        entries = [p for p in results["pairs"] if p["budget"] == b]
        results["budgets"][str(b)] = {"n": len(entries),
                                      "correlations": correlations(entries, args.bootstrap)}
    results["n_pairs"] = min(v["n"] for v in results["budgets"].values())
    results["costs"] = costs(results["pairs"], args.steps)
    results["seconds"] = time.perf_counter() - started
    atomic_write(out_dir / "results.json",
                 lambda tmp: Path(tmp).write_text(json.dumps(results, indent=1) + "\n"))
    text = markdown(results)
    (out_dir / "results.md").write_text(text)
    say(text)
    say(f"wrote {out_dir}/results.json and results.md in {results['seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CheckpointError, DataError, ValueError) as exc:
        print(f"fitness_correlation: error: {exc}", file=sys.stderr)
        sys.exit(1)

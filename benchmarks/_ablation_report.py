"""Tables and plots of ``benchmarks/ablation.py``: mean ± spread over seeds per method,
budget and fine-tuning (length and distillation: a *variant* such as
``steps_80_distill_10``), the fine-tuning curves, the γ sweep, which method is best on each
figure, and how often the reference search beats each method."""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path

#: (key in a quality dict, short label, higher is better)
MAIN_FIGURES = (("a2b_stripe_share", "stripes A→B", True),
                ("b2a_brown_share", "brown B→A", True),
                ("a2b_judge_frechet", "judge FD A→B", False),
                ("b2a_judge_frechet", "judge FD B→A", False),
                ("a2b_judge_target_probability", "judge p(B) A→B", True),
                ("b2a_judge_target_probability", "judge p(A) B→A", True),
                ("ssim", "SSIM to orig.", True))
PLOT_FIGURES = ("a2b_stripe_share", "b2a_brown_share", "judge_frechet", "ssim")
LABELS = {k: label for k, label, _ in MAIN_FIGURES} | {"judge_frechet": "judge FD (mean)"}
#: Figures summarised over seeds in results.json (the runs keep every figure).
SUMMARY_KEYS = (
    *(k for k, _, _ in MAIN_FIGURES),
    "a2b_brown_share", "b2a_stripe_share", "a2b_judge_success", "b2a_judge_success",
    "judge_frechet", "judge_target_probability")


REFERENCE = "adapted"
#: What the supernet search is compared with, and on which figures (outline measures, the
#: judge's Fréchet distance and SSIM, each in its direction).
SUPERNET_RIVALS = ("supernet_uniform", "supernet_l1", "uniform", "l1_norm")
SUPERNET_FIGURES = (("a2b_stripe_share", "stripes A→B", True),
                    ("b2a_brown_share", "brown B→A", True),
                    ("judge_frechet", "judge FD (mean)", False),
                    ("ssim", "SSIM to orig.", True))


def variant_of(run: dict) -> str:
    """The fine-tuning a run had, as a key: ``steps_<n>_distill_<weight>``."""
    return f"steps_{run['finetune_steps']}_distill_{run['distill_weight']:g}"


def variants(finetune_steps, distill: float) -> list[str]:
    """The main variants: every fine-tuning length with the main distillation weight."""
    return [f"steps_{n}_distill_{distill:g}" for n in finetune_steps]


def _variant_label(variant: str) -> str:
    _, steps, _, weight = variant.split("_")
    return f"{steps} fine-tuning steps, distillation {weight}"


def mean_spread(values: list[float]) -> dict:
    """``{"mean", "std"`` (sample, 0 for one value), ``"min", "max", "n"}`` of finite values."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return {"mean": statistics.fmean(vals), "std": std, "min": min(vals), "max": max(vals),
            "n": len(vals)}


def _at(run: dict, step: int | None) -> dict:
    """Quality of a run at fine-tuning ``step`` (None: the last point)."""
    curve = run["curve"]
    if step is None:
        return curve[-1]
    return next((p for p in curve if p["step"] == step), {})


def summarize(runs: list[dict], _budgets: list[float], methods: list[str]) -> dict:
    """Per budget, method and variant: sizes and quality (after slimming = step 0, after
    fine-tuning = the last step), each as :func:`mean_spread` over seeds."""
    groups: dict = defaultdict(list)
    for r in runs:
        if r["budget"] is not None:
            groups[(r["budget"], r["method"], variant_of(r))].append(r)
    summary: dict = {}
    for (budget, method, variant), rs in sorted(groups.items(), key=lambda kv: (
            -kv[0][0], methods.index(kv[0][1]) if kv[0][1] in methods else 99, kv[0][2])):
        entry = {"seeds": sorted(r["seed"] for r in rs),
                 "pair_parameters": mean_spread([r["sizes"]["pair_parameters"] for r in rs]),
                 "max_macs": mean_spread([max(r["sizes"][g]["macs"] for g in "AB")
                                          for r in rs])}
        for stage, step in (("slimmed", 0), ("finetuned", None)):
            keys = [k for k in SUMMARY_KEYS if any(k in _at(r, step) for r in rs)]
            entry[stage] = {k: mean_spread([_at(r, step).get(k) for r in rs]) for k in keys}
        steps = sorted({p["step"] for r in rs for p in r["curve"]})
        entry["curve"] = {str(s): {k: mean_spread([_at(r, s).get(k) for r in rs])["mean"]
                                   for k in PLOT_FIGURES} for s in steps}
        summary.setdefault(str(budget), {}).setdefault(method, {})[variant] = entry
    return summary


def _fmt(stat: dict | None, digits: int = 3) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    if abs(stat["mean"]) >= 100:
        digits = 1
    if stat["n"] > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def _num(value: float | None) -> str:
    return _fmt(None if value is None else {"mean": value, "std": 0.0, "n": 1})


def _ratio(budget: float) -> str:
    return f"{1 / budget:g}x" if budget else "-"


def _budget_table(_budget: str, by_method: dict, distill_key: str, original: dict) -> list[str]:
    head = "| method | stage | params (pair) | MACs (max) | " + " | ".join(
        f"{label} {'↑' if up else '↓'}" for _, label, up in MAIN_FIGURES) + " |"
    lines = [head, "|" + "---|" * (4 + len(MAIN_FIGURES))]
    lines.append("| original | - | 1.000 | 1.000 | " + " | ".join(
        _num(original.get(k)) for k, _, _ in MAIN_FIGURES) + " |")
    for method, variants in by_method.items():
        e = variants.get(distill_key)
        if e is None:
            continue
        for stage in ("slimmed", "finetuned"):
            lines.append(f"| {method} | {stage} | {_fmt(e['pair_parameters'])} | "
                         f"{_fmt(e['max_macs'])} | " + " | ".join(
                             _fmt(e[stage].get(k)) for k, _, _ in MAIN_FIGURES) + " |")
    return lines


def best_methods(summary: dict, distill_key: str) -> list[str]:
    """A table: for each budget, stage and main figure, the best method and the reference
    search's rank among the methods (1 = best)."""
    lines = ["| budget | stage | " + " | ".join(label for _, label, _ in MAIN_FIGURES) + " |",
             "|" + "---|" * (2 + len(MAIN_FIGURES))]
    for budget, by_method in summary.items():
        for stage in ("slimmed", "finetuned"):
            cells = []
            for key, _, up in MAIN_FIGURES:
                scored = [(m, v[distill_key][stage][key]["mean"]) for m, v in by_method.items()
                          if distill_key in v and key in v[distill_key][stage]
                          and v[distill_key][stage][key]["mean"] is not None]
                if not scored:
                    cells.append("-")
                    continue
                scored.sort(key=lambda mv: -mv[1] if up else mv[1])
                names = [m for m, _ in scored]
                rank = names.index(REFERENCE) + 1 if REFERENCE in names else "-"
                cells.append(f"{scored[0][0]} ({REFERENCE} #{rank})")
            lines.append(f"| {_ratio(float(budget))} | {stage} | " + " | ".join(cells) + " |")
    return lines


def paired_wins(runs: list[dict], variant: str, reference: str = REFERENCE,
                rivals: tuple | None = None, figures: tuple = MAIN_FIGURES) -> dict:
    """``{budget: {stage: {method: [wins, comparisons]}}}``: how often ``reference`` beats
    each other method (or each of ``rivals``) on ``figures`` after the fine-tuning
    ``variant``, paired by seed (same fine-tuning batches); ties are no wins."""
    by: dict = defaultdict(dict)
    for r in runs:
        if r["budget"] is not None and variant_of(r) == variant:
            by[(r["budget"], r["seed"])][r["method"]] = r
    out: dict = {}
    for (budget, _), methods in sorted(by.items(), key=lambda kv: -kv[0][0]):
        ours = methods.get(reference)
        for m, r in methods.items():
            if ours is None or m == reference or (rivals is not None and m not in rivals):
                continue
            for stage, step in (("slimmed", 0), ("finetuned", None)):
                a, b = _at(ours, step), _at(r, step)
                cell = out.setdefault(str(budget), {}).setdefault(stage, {}).setdefault(
                    m, [0, 0])
                for key, _, up in figures:
                    if key in a and key in b:
                        cell[0] += (a[key] > b[key]) if up else (a[key] < b[key])
                        cell[1] += 1
    return out


def _wins_table(wins: dict, reference: str = REFERENCE) -> list[str]:
    methods = list(dict.fromkeys(m for b in wins.values() for st in b.values()
                                 for m in st))
    cols = [(b, st) for b in wins for st in ("slimmed", "finetuned")]
    lines = [f"| {reference} better than | " + " | ".join(
        f"{_ratio(float(b))} {st}" for b, st in cols) + " |", "|" + "---|" * (1 + len(cols))]
    for m in methods:
        cells = [wins[b].get(st, {}).get(m) for b, st in cols]
        lines.append(f"| {m} | " + " | ".join(f"{c[0]}/{c[1]}" if c else "-" for c in cells)
                     + " |")
    return lines


def _wins_sentences(wins: dict) -> list[str]:
    out = []
    for budget, stages in wins.items():
        parts = []
        for stage, cells in stages.items():
            won, total = (sum(c[i] for c in cells.values()) for i in (0, 1))
            parts.append(f"{stage} {won}/{total} ({100 * won / max(total, 1):.0f}%)")
        out.append(f"\nIn all at {_ratio(float(budget))}: " + ", ".join(parts) + ".")
    return out


def supernet_line(wins: dict) -> str:
    """One line: the supernet search's paired wins after fine-tuning against each rival,
    over every budget."""
    parts = []
    for m in SUPERNET_RIVALS:
        cells = [st["finetuned"][m] for st in wins.values() if m in st.get("finetuned", {})]
        if cells:
            won, total = sum(c[0] for c in cells), sum(c[1] for c in cells)
            parts.append(f"{m} {won}/{total}")
    if not parts:
        return "\nsupernet: no paired runs."
    return "\nsupernet better than (after fine-tuning, all budgets): " + ", ".join(parts) + "."


def console_table(results: dict) -> str:
    """A short plain-text table for the terminal: per budget and method, sizes and quality
    after the longest main fine-tuning (mean over seeds)."""
    cfg, summary = results["config"], results["summary"]
    variant = variants(cfg["finetune_steps"], cfg["distill_weight"])[-1]
    keys = list(PLOT_FIGURES)
    head = f"{'budget':>6} {'method':<17} {'params':>7} " + " ".join(f"{k[:14]:>14}"
                                                                      for k in keys)
    lines = [f"after {_variant_label(variant)}:", head]
    for budget, by_method in summary.items():
        for method, v in by_method.items():
            e = v.get(variant)
            if e is None:
                continue
            vals = [e["finetuned"].get(k, {}).get("mean") for k in keys]
            lines.append(f"{_ratio(float(budget)):>6} {method:<17} "
                         f"{e['pair_parameters']['mean']:7.3f} " + " ".join(
                             f"{v:14.4f}" if v is not None else f"{'-':>14}" for v in vals))
    if "supernet_wins" in results:
        lines.append(supernet_line(results["supernet_wins"][variant]).strip())
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """results.md: per fine-tuning variant one table per budget, the curves, the ranks and the
    paired wins; then the other variants (no distillation) and the γ sweep."""
    cfg, summary, original = results["config"], results["summary"], results["original"]
    mains = variants(cfg["finetune_steps"], cfg["distill_weight"])
    out = ["# Ablation: searches vs baselines at equal size budgets", "",
           f"Data: {results['data']}; teacher: {results['teacher']}. Seeds {cfg['seeds']} "
           f"(budgets {cfg['seeded_budgets']} with all seeds, the others with the first). "
           f"Searches: population {cfg['population']}, {cfg['generations']} generations, "
           f"{cfg['n_images']} held-out images per domain ({cfg.get('adapt_images', 0)} "
           f"adaptation images for the adapted fitness), γ = {cfg['budget_gamma']:g} at a "
           "budget; every mask repaired to the budget in parameters AND MACs (baselines meet "
           f"both too). Fine-tuning: {' and '.join(str(n) for n in cfg['finetune_steps'])} "
           f"steps, each from the slimmed masks, batch {cfg['batch_size']}, distillation "
           f"weight {cfg['distill_weight']:g}, identical for all methods (same seed, same "
           "batches). Values: mean ± sample std over seeds (no ± for one seed). 'slimmed' = "
           "right after slimming, 'finetuned' = after fine-tuning. Sizes: ratio to the "
           "original (parameters of both generators; MACs of the larger ratio of the two). "
           f"'{REFERENCE}' is the library's default search; 'paper' is the paper's "
           "(its F, roulette selection, L1-ordered repair).", ""]
    if any(m.startswith("supernet") for m in cfg["methods"]):
        out += [f"The supernet methods start from once-for-all weights "
                    f"({cfg.get('supernet')}): 'supernet' searches with the supernet fitness "
                    f"(population {cfg.get('supernet_population')}, "
                    f"{cfg.get('supernet_generations')} generations) and slims its winner from "
                    "the supernet; 'supernet_uniform' and 'supernet_l1' are the uniform and "
                    "L1-norm masks (L1 of the supernet weights) slimmed from it. They are "
                    "fine-tuned like the others, distilled toward the original generators.",
                    ""]
    if "merged" in results:
        m = results["merged"]
        out += [f"Merged: {m['runs_kept']} runs kept from {m['from']} (methods "
                    f"{', '.join(m['earlier_methods'])}), {m['runs_added']} runs added.", ""]
    for variant in mains:
        out += [f"## {_variant_label(variant)}", ""]
        for budget, by_method in summary.items():
            out += [f"### Budget {float(budget):g} ({_ratio(float(budget))} fewer parameters)",
                    ""]
            out += [*_budget_table(budget, by_method, variant, original), ""]
        out += ["### Best method per figure", ""]
        out += best_methods(summary, variant)
        out += ["", f"### How often {REFERENCE} beats each method (paired by seed)", "",
                "Count of (seed, figure) pairs, over the main figures of the budget tables, "
                f"where {REFERENCE}'s value is better than the method's (same seed, same "
                "fine-tuning batches); half the pairs is what a coin would give.", ""]
        wins = paired_wins(results["runs"], variant)
        out += _wins_table(wins) + _wins_sentences(wins) + [""]
        if "supernet_wins" in results:
            sn = results["supernet_wins"].get(variant, {})
            out += ["### How often the supernet search beats the baselines (paired by seed)",
                    "", "Count of (seed, figure) pairs where 'supernet' (searched on the "
                    "supernet's weights, slimmed from them) is better than the method, over "
                    "the outline measures, the judge's Fréchet distance (mean of both "
                    "directions) and SSIM; 'supernet_uniform'/'supernet_l1' start from the "
                    "same supernet weights, 'uniform'/'l1_norm' from the original's.", ""]
            out += [*_wins_table(sn, "supernet"), supernet_line(sn), ""]
        steps = _curve_steps(summary, variant)
        out += ["### Quality against fine-tuning steps", "",
                "Mean over seeds, measured during ONE fine-tuning run per method (the learning "
                "rate is constant for the first half and decays linearly to 0 at the last "
                "step, so intermediate points are not the end of a shorter schedule).", ""]
        out += ["| budget | method | figure | " + " | ".join(f"step {n}" for n in steps) + " |",
                "|" + "---|" * (3 + len(steps))]
        for budget, by_method in summary.items():
            for method, v in by_method.items():
                if variant not in v:
                    continue
                for k in PLOT_FIGURES:
                    vals = [v[variant]["curve"].get(str(n), {}).get(k) for n in steps]
                    if all(x is None for x in vals):
                        continue
                    out.append(f"| {_ratio(float(budget))} | {method} | {LABELS[k]} | " +
                               " | ".join(_num(x) for x in vals) + " |")
        out.append("")
    others = sorted({k for b in summary.values() for m in b.values() for k in m} - set(mains))
    for key in others:
        for budget, by_method in summary.items():
            if any(key in v for v in by_method.values()):
                out += [f"## {_variant_label(key)}, budget {float(budget):g}", "",
                        "Same masks and seeds as above.", ""]
                out += [*_budget_table(budget, by_method, key, original), ""]
    if results["gamma_sweep"]:
        out += ["## γ sweep (the paper's search and formulation: no budget, size weight γ)",
                ""]
        out += ["| γ | params A | params B | MACs A | MACs B | stage | " + " | ".join(
            label for _, label, _ in MAIN_FIGURES) + " |",
            "|" + "---|" * (6 + len(MAIN_FIGURES))]
        for r in results["gamma_sweep"]:
            sz = r["sizes"]
            for stage, pt in (("slimmed", r["curve"][0]), ("finetuned", r["curve"][-1])):
                out.append(f"| {r['gamma']:g} | {sz['A']['parameters']:.3f} | "
                           f"{sz['B']['parameters']:.3f} | {sz['A']['macs']:.3f} | "
                           f"{sz['B']['macs']:.3f} | {stage} | " + " | ".join(
                               _num(pt.get(k)) for k, _, _ in MAIN_FIGURES) + " |")
    t = results["timings"]
    out += ["", f"Run time: {t['total_s'] / 60:.1f} min ({results['environment']['workers']} "
                f"worker process(es), {results['environment']['threads']} torch thread(s) each); "
                f"searches {t['search_s'] / 60:.1f} min, fine-tuning and measuring "
                f"{t['finetune_s'] / 60:.1f} min of worker time.", ""]
    return "\n".join(out)


def _curve_steps(summary: dict, key: str) -> list[int]:
    return sorted({int(s) for b in summary.values() for m in b.values() if key in m
                   for s in m[key]["curve"]})


def plot_all(results: dict, out: Path) -> list[str]:
    """quality_vs_budget.png, finetune_curves.png, gamma_tradeoff.png (small, 60-80 dpi)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = results["config"]
    summary = results["summary"]
    mains = variants(cfg["finetune_steps"], cfg["distill_weight"])
    key = mains[0]
    budgets = sorted((float(b) for b in summary), reverse=True)
    methods = results["config"]["methods"]
    written = []
    rows = [("slimmed", mains[0], "slimmed")] + [
        ("finetuned", v, f"{v.split('_')[1]} steps") for v in mains]
    fig, axes = plt.subplots(len(rows), len(PLOT_FIGURES),
                             figsize=(3.4 * len(PLOT_FIGURES), 3 * len(rows)), squeeze=False)
    for row, (stage, variant, title) in enumerate(rows):
        for col, k in enumerate(PLOT_FIGURES):
            ax = axes[row][col]
            for m in methods:
                pts = [(1 / b, summary[str(b)][m][variant][stage].get(k)) for b in budgets
                       if m in summary[str(b)] and variant in summary[str(b)][m]]
                pts = [(x, s) for x, s in pts if s and s["mean"] is not None]
                if pts:
                    ax.errorbar([x for x, _ in pts], [s["mean"] for _, s in pts],
                                yerr=[s["std"] for _, s in pts], marker="o", ms=3,
                                capsize=2, label=m, lw=2 if m == REFERENCE else 1)
            if k in results["original"]:
                ax.axhline(results["original"][k], color="k", ls=":", lw=1, label="original")
            ax.set_xscale("log", base=2)
            ax.set_xticks([1 / b for b in budgets], [_ratio(b) for b in budgets])
            ax.minorticks_off()
            ax.set_title(f"{LABELS[k]} ({title})", fontsize=9)
            ax.set_xlabel("x fewer parameters", fontsize=8)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "quality_vs_budget.png", dpi=70)
    plt.close(fig)
    written.append("quality_vs_budget.png")

    key = mains[-1]  # the longest fine-tuning: its curve shows where quality levels off
    fig, axes = plt.subplots(len(PLOT_FIGURES), len(budgets),
                             figsize=(3.4 * len(budgets), 2.4 * len(PLOT_FIGURES)), squeeze=False)
    for col, b in enumerate(budgets):
        for row, k in enumerate(PLOT_FIGURES):
            ax = axes[row][col]
            for m in methods:
                e = summary[str(b)].get(m, {}).get(key)
                if e is None:
                    continue
                pts = [(int(s), v[k]) for s, v in e["curve"].items() if v.get(k) is not None]
                if pts:
                    pts.sort()
                    ax.plot([s for s, _ in pts], [v for _, v in pts], marker="o", ms=3,
                            label=m, lw=2 if m == REFERENCE else 1)
            ax.set_title(f"{LABELS[k]}, {_ratio(b)} fewer params", fontsize=8)
            ax.set_xlabel("fine-tuning steps", fontsize=8)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "finetune_curves.png", dpi=60)
    plt.close(fig)
    written.append("finetune_curves.png")

    sweep = results["gamma_sweep"]
    if sweep:
        fig, axes = plt.subplots(1, len(PLOT_FIGURES), figsize=(3.4 * len(PLOT_FIGURES), 3),
                                 squeeze=False)
        for col, k in enumerate(PLOT_FIGURES):
            ax = axes[0][col]
            for stage, idx, style in (("slimmed", 0, "o--"), ("finetuned", -1, "s-")):
                pts = sorted((r["sizes"]["pair_parameters"], r["curve"][idx].get(k), r["gamma"])
                             for r in sweep if r["curve"][idx].get(k) is not None)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, ms=4, label=stage)
                    for x, y, g in pts:
                        ax.annotate(f"γ={g:g}", (x, y), fontsize=6)
            ax.set_title(LABELS[k], fontsize=9)
            ax.set_xlabel("parameters (ratio to original)", fontsize=8)
        axes[0][0].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / "gamma_tradeoff.png", dpi=80)
        plt.close(fig)
        written.append("gamma_tradeoff.png")
    return written

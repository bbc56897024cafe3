"""Today's fine-tuning recipe against the new distillation terms, on the real generator.

Every cell slims the real pretrained generator (``benchmarks/real_generator.py``'s
generator, data, held-out photos and per-cell resumption) with one mask and fine-tunes it
with one recipe; paired cells share the mask, the seed, the steps, the crops and the device:

- ``today``: L1 to the original's output pixels (what ``finetune`` and ``compress`` do);
- ``feature``: L1 plus feature distillation (weight 1) on the kept channels of every channel
  group's last normalised output (``DistillLoss(feature=1)``);
- ``feature_ssim``: that plus ``0.5 * (1 - SSIM)`` and an EMA of the student (0.999).

Masks: uniform keep ratios with random channels (the better uniform baseline of the
real-generator benchmark) at ``--budgets`` (8 and 16 times fewer parameters). Quality: PSNR
and SSIM to the original's output on the held-out whole photos at 256 px, read every
``--read-every`` steps; reported as last-quarter means, with the cost per step and a plot of
quality against steps for every recipe.

    OMP_NUM_THREADS=1 python benchmarks/distillation.py --steps 5500 --seeds 0 1 2

``--toy``: a random-weight small generator, tiny images, a few steps (the test suite).
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import real_generator as rg
from vintage_generator import MissingWeights

from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.training.distill_config import DistillConfig, DistillLoss

ROOT = Path(__file__).resolve().parents[1]
RECIPES: dict[str, dict] = {
    "today": {},
    "feature": {"loss": DistillLoss(feature=1.0)},
    "feature_ssim": {"loss": DistillLoss(feature=1.0, ssim=0.5), "ema": 0.999},
}


@dataclasses.dataclass(frozen=True)
class RecipeCell(rg.Cell):
    """A real-generator cell fine-tuned with ``recipe``."""

    recipe: str = "today"

    @property
    def name(self) -> str:
        return f"{self.method}_{self.budget}x_s{self.seed}_{self.recipe}"


class RecipeContext(rg.Context):
    """The real-generator context whose fine-tuning follows each cell's recipe."""

    def finetune_config(self, cell: rg.Cell, steps: int) -> DistillConfig:
        config = super().finetune_config(cell, steps)
        return dataclasses.replace(config, **RECIPES[getattr(cell, "recipe", "today")])


def summarize(cells: dict[str, dict], recipes: Sequence[str]) -> list[dict]:
    """Per budget and recipe: last-quarter PSNR/SSIM at the large size (mean over seeds and
    per seed), the gain over ``today`` in the same seeds, and the seconds per step."""
    rows = []
    for budget in sorted({c["budget"] for c in cells.values()}):
        base = {c["seed"]: c for c in cells.values() if c["budget"] == budget
                and c["recipe"] == "today"}
        for recipe in recipes:
            mine = {c["seed"]: c for c in cells.values() if c["budget"] == budget
                    and c["recipe"] == recipe}
            if not mine:
                continue
            psnr = {s: rg._last_quarter(c, "psnr_large") for s, c in mine.items()}
            ssim = {s: rg._last_quarter(c, "ssim_large") for s, c in mine.items()}
            gain = [psnr[s] - rg._last_quarter(base[s], "psnr_large") for s in psnr
                    if s in base]
            rows.append({"budget": budget, "recipe": recipe, "seeds": sorted(psnr),
                         "psnr": statistics.fmean(psnr.values()), "psnr_per_seed": psnr,
                         "ssim": statistics.fmean(ssim.values()), "ssim_per_seed": ssim,
                         "psnr_gain": statistics.fmean(gain) if gain else None,
                         "step_s": statistics.fmean(c["step_s"] or 0.0
                                                    for c in mine.values())})
    return rows


def plot(cells: dict[str, dict], path: Path) -> None:
    """PSNR at the large size against steps, one line per cell, a colour per recipe."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    budgets = sorted({c["budget"] for c in cells.values()})
    fig, axes = plt.subplots(1, len(budgets), figsize=(5 * len(budgets), 3.6), squeeze=False)
    colours = dict(zip(RECIPES, ("tab:gray", "tab:blue", "tab:orange")))
    for ax, budget in zip(axes[0], budgets):
        for c in sorted(cells.values(), key=lambda c: c["cell"]):
            if c["budget"] == budget:
                steps = [e["step"] for e in c["readings"]]
                ax.plot(steps, [e["psnr_large"] for e in c["readings"]],
                        color=colours[c["recipe"]], alpha=0.8,
                        label=c["recipe"] if c["seed"] == min(
                            x["seed"] for x in cells.values()) else None)
        ax.set(title=f"uniform {budget}x", xlabel="fine-tuning steps",
               ylabel="PSNR to the original (dB)")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    pre.add_argument("--budgets", type=int, nargs="+", default=[8, 16])
    pre.add_argument("--distill-out",
                     default=str(ROOT / "benchmarks" / "results" / "distillation.json"))
    pre.add_argument("--distill-plot", default=str(ROOT / "docs" / "distillation.png"))
    ours, rest = pre.parse_known_args(argv)
    a = rg.parse_args(["--work", str(ROOT / "runs" / "distillation"), *rest])
    if a.steps is None:
        a.steps = 5500 if not a.toy else 8
    torch.set_num_threads(a.threads)
    try:
        base = rg.load_context(a)
    except MissingWeights as error:
        print(f"distillation: {error}", file=sys.stderr)
        return 1
    ctx = RecipeContext(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    cells: dict[str, dict] = {}
    try:
        for seed in a.seeds:
            for budget in ours.budgets:
                for recipe in ours.recipes:
                    cell = RecipeCell("uniform_random", budget, seed, recipe=recipe)
                    result = rg.run_cell(ctx, cell, a.steps, a.stop_after)
                    result["recipe"] = recipe
                    cells[cell.name] = result
                    if not a.quiet:
                        print(f"{cell.name}: {result['final']['psnr_large']:.2f} dB @ "
                              f"{a.large_size}, {result['step_s'] or 0:.3f} s/step")
    except rg.StopRun as stop:
        print(f"distillation: {stop}", file=sys.stderr)
        return 3
    rows = summarize(cells, ours.recipes)
    atomic_write_json(ours.distill_out, {
        "benchmark": "distillation", "toy": a.toy, "steps": a.steps,
        "settings": {k: v for k, v in vars(a).items() if k != "stop_after"},
        "recipes": {k: {n: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v)
                        for n, v in r.items()} for k, r in RECIPES.items()},
        "rows": rows, "cells": cells})
    plot(cells, Path(ours.distill_plot))
    if not a.quiet:
        print(f"{'budget':>6} {'recipe':<13} {'PSNR':>7} {'SSIM':>6} {'gain':>6} {'s/step':>7}")
        for r in rows:
            gain = "" if r["psnr_gain"] is None else f"{r['psnr_gain']:+.2f}"
            print(f"{r['budget']:>5}x {r['recipe']:<13} {r['psnr']:7.2f} {r['ssim']:6.3f} "
                  f"{gain:>6} {r['step_s']:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Upstream's fine-tuning recipe against the default distillation recipe, on the real
generator.

Every cell slims the real pretrained generator (``benchmarks/real_generator.py``'s
generator, data, held-out photos and per-cell resumption) with one mask and fine-tunes it
with one recipe; paired cells share the mask, the seed, the steps, the crops and the device:

- ``today``: upstream's L1 to the original's output pixels, lr 2e-4
  (``DistillConfig.upstream()``, as ``real_generator.py`` fine-tunes);
- ``new``: the library's default (L1, ``0.5 * (1 - SSIM)`` and feature distillation on the
  kept channels of every group, scale jitter 1-2 and colour jitter 0.2, lr 5e-4 after a
  200-step warm-up, an EMA of the weights with decay 0.999);
- the pilot's recipes (``--recipes``): ``feature``, ``feature_ssim`` (feature, SSIM and the
  EMA) and ``feature_ssim`` with one more change each (a gradient term, a 2,048-crop teacher
  pool, augmentation, the learning rate and warm-up).

Masks (``--masks METHOD:BUDGET``): uniform keep ratios with random channels (the better
uniform baseline of the real-generator benchmark) at 8x and 16x fewer parameters, and the
default search's 8x mask as ``real_generator.py`` stored it (``stored_search_widths``).
``--adopt`` takes ``today``'s cells from ``real_generator.py``'s stored cells when they were
computed with the same mask and settings. Quality: PSNR and SSIM to the original's output on
the held-out whole photos at 256 px, read every ``--read-every`` steps; reported as
last-quarter means, with the cost per step (both recipes timed interleaved in one process,
``--cost-steps``) and a plot of quality against steps for every recipe.

    OMP_NUM_THREADS=1 python benchmarks/distillation.py --steps 5500 --seeds 0 1 2 --adopt

``--toy``: a random-weight small generator, tiny images, a few steps (the test suite).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import real_generator as rg

from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.streams import Augment
from deap_gan_prune.training.distill import Teacher, distill_generator
from deap_gan_prune.training.distill_config import DistillConfig, DistillLoss

ROOT = Path(__file__).resolve().parents[1]
RECIPES: dict[str, dict] = {
    "today": {},
    "feature": {"loss": DistillLoss(feature=1.0)},
    "feature_ssim": {"loss": DistillLoss(feature=1.0, ssim=0.5), "ema": 0.999},
    "feature_ssim_gradient": {"loss": DistillLoss(feature=1.0, ssim=0.5, gradient=1.0),
                              "ema": 0.999},
    "feature_ssim_pool": {"loss": DistillLoss(feature=1.0, ssim=0.5), "ema": 0.999,
                          "teacher_pool": 2048},
    "feature_ssim_augment": {"loss": DistillLoss(feature=1.0, ssim=0.5), "ema": 0.999,
                             "teacher_pool": 2048,
                             "augment": Augment(scale_jitter=(1.0, 2.0), color_jitter=0.2)},
    "feature_ssim_lr": {"loss": DistillLoss(feature=1.0, ssim=0.5), "ema": 0.999,
                        "lr": 5e-4, "warmup_steps": 200},
    "new": {"loss": DistillLoss(feature=1.0, ssim=0.5), "ema": 0.999, "lr": 5e-4,
            "warmup_steps": 200,
            "augment": Augment(scale_jitter=(1.0, 2.0), color_jitter=0.2)},
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


MASKS = (("uniform_random", 8), ("uniform_random", 16), ("stored_search_widths", 8))


def mask_spec(text: str) -> tuple[str, int]:
    """``METHOD:BUDGET`` (e.g. ``uniform_random:8``, ``stored_search_widths:8``)."""
    method, _, budget = text.partition(":")
    if not (method in rg.METHODS or method.startswith("stored_")) or not budget.isdigit():
        raise argparse.ArgumentTypeError(f"--masks: METHOD:BUDGET with a method of "
                                         f"real_generator.py, got {text!r}")
    return method, int(budget)


def adopt(ctx: rg.Context, cell: RecipeCell, steps: int) -> None:
    """Today's recipe on a mask ``real_generator.py`` fine-tuned already: its stored cell is
    copied into this run's cells (marked ``adopted_from``) when it was computed with the same
    mask, fine-tuning and data settings, so it is read instead of run again."""
    target = ctx.work / "cells" / f"{cell.name}.json"
    source = rg.STORED / f"{cell.method.removeprefix('stored_')}_{cell.budget}x_s{cell.seed}.json"
    if target.exists() or not source.is_file():
        return
    stored = json.loads(source.read_text())
    settings = rg.cell_settings(ctx, cell, ctx.finetune_config(cell, steps))
    bits, _ = rg._mask_of(ctx, cell)
    same = ({k: v for k, v in stored["settings"].items() if k != "search"}
            == {k: v for k, v in settings.items() if k != "search"}
            and stored["mask"] == rg._compact(bits))
    if same:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(target, {**stored, "cell": cell.name, "method": cell.method,
                                   "settings": settings, "adopted_from": source.name})


def step_cost(ctx: rg.Context, recipes: Sequence[str], steps: int,
              rounds: int = 3) -> dict[str, float]:
    """Median seconds per update of each recipe on the 8x uniform mask, measured in this
    process with the recipes interleaved ``rounds`` times (same mask, crops and threads; a
    teacher pool of ``steps`` crops, so the original's outputs are computed before the clock
    runs; the first 5 updates of each run are not counted)."""
    bits, _ = rg._mask_of(ctx, rg.Cell("uniform_random", 8, 0))
    times: dict[str, list[float]] = {r: [] for r in recipes}
    for _ in range(rounds):
        for recipe in recipes:
            config = dataclasses.replace(
                ctx.finetune_config(RecipeCell("uniform_random", 8, 0, recipe=recipe), steps),
                teacher_pool=steps, val_images=0)
            stamps: list[float] = []
            clock = functools.partial(lambda out, *_: out.append(time.perf_counter()), stamps)
            distill_generator(slim(ctx.teacher, bits, ctx.space),
                              Teacher(ctx.teacher, (ctx.space, bits)), ctx.train_files, config,
                              RunOptions(progress=False, callback=clock))
            gaps = [b - a for a, b in itertools.pairwise(stamps[5:])]
            times[recipe].append(statistics.median(gaps))
    return {r: statistics.median(v) for r, v in times.items()}


def _masks(cells: dict[str, dict]) -> list[tuple[str, int]]:
    return sorted({(c["method"], c["budget"]) for c in cells.values()},
                  key=lambda m: (m[0] != "uniform_random", m[1], m[0]))


def _title(method: str, budget: int) -> str:
    name = {"uniform_random": "uniform", "stored_search_widths": "default search"}
    return f"{name.get(method, method)} {budget}x"


def summarize(cells: dict[str, dict], recipes: Sequence[str]) -> list[dict]:
    """Per mask and recipe: last-quarter PSNR/SSIM at the large size (mean over seeds and
    per seed), the gain over ``today`` in the same seeds, and the seconds per step."""
    rows = []
    for method, budget in _masks(cells):
        of_mask = [c for c in cells.values() if (c["method"], c["budget"]) == (method, budget)]
        base = {c["seed"]: c for c in of_mask if c["recipe"] == "today"}
        for recipe in recipes:
            mine = {c["seed"]: c for c in of_mask if c["recipe"] == recipe}
            if not mine:
                continue
            psnr = {s: rg._last_quarter(c, "psnr_large") for s, c in mine.items()}
            ssim = {s: rg._last_quarter(c, "ssim_large") for s, c in mine.items()}
            gain = [psnr[s] - rg._last_quarter(base[s], "psnr_large") for s in psnr
                    if s in base]
            rows.append({"mask": method, "budget": budget, "recipe": recipe,
                         "seeds": sorted(psnr),
                         "psnr": statistics.fmean(psnr.values()), "psnr_per_seed": psnr,
                         "ssim": statistics.fmean(ssim.values()), "ssim_per_seed": ssim,
                         "psnr_gain": statistics.fmean(gain) if gain else None,
                         "step_s": statistics.fmean(c["step_s"] or 0.0
                                                    for c in mine.values())})
    return rows


def plot(cells: dict[str, dict], path: Path) -> None:
    """PSNR at the large size against steps, a panel per mask, one line per cell, a colour
    per recipe."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    masks = _masks(cells)
    fig, axes = plt.subplots(1, len(masks), figsize=(5 * len(masks), 3.6), squeeze=False)
    colours = {**dict(zip(RECIPES, matplotlib.colormaps["tab10"].colors)),
               "today": "tab:gray", "new": "tab:orange"}
    first = min(c["seed"] for c in cells.values())
    for ax, (method, budget) in zip(axes[0], masks):
        for c in sorted(cells.values(), key=lambda c: c["cell"]):
            if (c["method"], c["budget"]) == (method, budget):
                steps = [e["step"] for e in c["readings"]]
                ax.plot(steps, [e["psnr_large"] for e in c["readings"]],
                        color=colours[c["recipe"]], alpha=0.8,
                        label=c["recipe"] if c["seed"] == first else None)
        ax.set(title=_title(method, budget), xlabel="fine-tuning steps",
               ylabel="PSNR to the original (dB)")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=["today", "new"],
                     help="(default: today new; the others are the pilot's)")
    pre.add_argument("--masks", type=mask_spec, nargs="+", default=None,
                     metavar="METHOD:BUDGET", help="masks fine-tuned with every recipe (default: "
                     "uniform with random channels at 8x and 16x, the default search's stored "
                     "mask at 8x; with --toy uniform at 8x)")
    pre.add_argument("--cost-steps", type=int, default=60,
                     help="updates per recipe of the side-by-side cost per step (0: none)")
    pre.add_argument("--adopt", action="store_true",
                     help="take today's recipe's cells from real_generator.py's stored cells "
                     "when they were computed with the same mask and settings")
    pre.add_argument("--distill-out",
                     default=str(ROOT / "benchmarks" / "results" / "distillation.json"))
    pre.add_argument("--distill-plot", default=str(ROOT / "docs" / "distillation.png"))
    ours, rest = pre.parse_known_args(argv)
    a = rg.parse_args(["--work", str(ROOT / "runs" / "distillation"), *rest])
    if a.steps is None:
        a.steps = 5500 if not a.toy else 8
    if ours.masks is None:
        ours.masks = list(MASKS) if not a.toy else [("uniform_random", 8)]
    ctx = rg.load_as(RecipeContext, a, "distillation")
    if ctx is None:
        return 1
    cells: dict[str, dict] = {}
    try:
        for seed in a.seeds:
            for method, budget in ours.masks:
                for recipe in ours.recipes:
                    cell = RecipeCell(method, budget, seed, recipe=recipe)
                    if ours.adopt and recipe == "today":
                        adopt(ctx, cell, a.steps)
                    result = rg.run_cell(ctx, cell, a.steps, a.stop_after)
                    if result.get("claimed_elsewhere"):
                        continue
                    result["recipe"] = recipe
                    cells[cell.name] = result
                    if not a.quiet:
                        print(f"{cell.name}: {result['final']['psnr_large']:.2f} dB @ "
                              f"{a.large_size}, {result['step_s'] or 0:.3f} s/step")
    except rg.StopRun as stop:
        print(f"distillation: {stop}", file=sys.stderr)
        return 3
    rows = summarize(cells, ours.recipes)
    cost = step_cost(ctx, ours.recipes, ours.cost_steps if not a.toy else 8) \
        if ours.cost_steps else {}
    for row in rows:
        row["step_s_side_by_side"] = cost.get(row["recipe"])
    atomic_write_json(ours.distill_out, {
        "benchmark": "distillation", "toy": a.toy, "steps": a.steps,
        "settings": {k: v for k, v in vars(a).items() if k != "stop_after"},
        "recipes": {k: {n: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v)
                        for n, v in r.items()} for k, r in RECIPES.items()},
        "rows": rows, "cells": cells})
    plot(cells, Path(ours.distill_plot))
    if not a.quiet:
        print(f"{'mask':<18} {'recipe':<13} {'PSNR':>7} {'SSIM':>6} {'gain':>6} {'s/step':>7}")
        for r in rows:
            gain = "" if r["psnr_gain"] is None else f"{r['psnr_gain']:+.2f}"
            cost = r["step_s_side_by_side"] or r["step_s"]
            print(f"{_title(r['mask'], r['budget']):<18} {r['recipe']:<13} {r['psnr']:7.2f} "
                  f"{r['ssim']:6.3f} {gain:>6} {cost:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

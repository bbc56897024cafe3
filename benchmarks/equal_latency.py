"""The default search against uniform pruning at equal measured latency on ONNX Runtime.

Users compress a generator to make it faster, so this benchmark compares at equal *measured*
speed, on the runtime ``export`` deploys to (ONNX Runtime's CPU provider, one thread, 256 px,
batch 1). The real pretrained generator, its data and its per-cell resumption are
``benchmarks/real_generator.py``'s. For every speed-up ``X`` of ``--speedups`` (3, 5, 8) and
every seed of ``--seeds`` (0, 1, 2):

- ``search``: the default search of ``deap-gan-prune search --generator ... --speedup X``
  (the width search under a latency budget: the ONNX latency model of the original, measured
  once and cached in ``DIR/latency.json``; the uniform mask at the same predicted latency
  seeded and among the finalists; the finalist with the best brief fine-tuned score kept),
  scored at ``--search-size`` px on the first training tiles as the command would;
- ``uniform``: uniform pruning (every group keeps the same share, random channels drawn with
  the seed), its keep ratio chosen so that its *measured* latency matches the search's
  network: starting at equal predicted latency, the budget is corrected by the measured
  ratio (the median of the ratios of rounds that run both back to back) until they are
  within ``--match-tolerance`` (2 %);
- ``l1``: L1-norm filter pruning with the matched uniform mask's per-group counts (so the
  same latency), the filters of largest L1 norm kept.

Every mask is slimmed and fine-tuned with the library's default distillation recipe
(:class:`DistillConfig`'s defaults: L1, SSIM and kept-channel features; augmentation; warm-up;
EMA) for ``--steps`` steps on 128 px crops of the training tiles, batch 1, seed = the cell's
seed, so the three networks of a (speed-up, seed) are fine-tuned identically on one device.
Quality: PSNR and SSIM to the original's output on 9 held-out tiles (three square tiles
along the long side of each held-out photo, chelsea, coffee and rocket, never searched or
fine-tuned on) at 256 px, read every ``--read-every`` steps; reported as the mean of the
readings in the last quarter, per image as well. Latency: every finished network and the
original timed round-robin on ONNX Runtime (one thread, 256 px), with parameters and MACs.

    OMP_NUM_THREADS=1 python benchmarks/equal_latency.py --read-every 100 --teacher-pool 512
    python benchmarks/equal_latency.py --stage report          # table, JSON and plot

``--toy``: a random-weight small generator, tiny images, a few steps (the test suite).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import real_generator as rg
from photo_folder import TEST_PHOTOS, photo

from deap_gan_prune.core.baselines import bits_from_ranks, random_mask_like, uniform_counts
from deap_gan_prune.evolution import Task
from deap_gan_prune.evolution.search_config import SearchConfig
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.metrics.evaluation import translate
from deap_gan_prune.metrics.fidelity import fidelity_scores
from deap_gan_prune.nets.importance import l1_importance
from deap_gan_prune.nets.latency_model import (
    LatencyModel,
    latency_model_for,
    machine_name,
    runner,
    time_round_robin,
)
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.training.distill_config import DistillConfig

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("search", "uniform", "l1")


def held_out_tiles(size: int, toy: bool) -> torch.Tensor:
    """``[N, 3, size, size]`` in [-1, 1]: three square tiles (side = the short side) along the
    long side of each held-out photo (9 images; with ``toy`` the first photo only)."""
    from PIL import Image
    out = []
    for name in TEST_PHOTOS[:1] if toy else TEST_PHOTOS:
        image = photo(name)
        h, w = image.shape[:2]
        side = min(h, w)
        starts = [round(i * (max(h, w) - side) / 2) for i in range(3)]
        for s in starts:
            tile = image[s:s + side] if h > w else image[:, s:s + side]
            tile = np.asarray(Image.fromarray(tile).resize((size, size), Image.BICUBIC))
            out.append(torch.from_numpy(tile.copy()).permute(2, 0, 1).float() / 127.5 - 1)
    return torch.stack(out)


class LatencyContext(rg.Context):
    """The real-generator context with the equal-latency cells: searches under a latency
    budget, uniform and L1 masks matched to the search's measured latency, the default
    distillation recipe, quality on held-out tiles."""

    model: LatencyModel | None = None

    def latency_model(self) -> LatencyModel:
        """The original's ONNX Runtime latency model (one thread, ``--large-size`` px), as
        ``search --speedup`` measures it, cached in ``DIR/latency.json``."""
        if self.model is None:
            self.model = latency_model_for(self.work / "latency.json", self.teacher,
                                           self.args.large_size, "onnx", 1, space=self.space,
                                           progress=not self.args.quiet)
        return self.model

    def search_config(self, cell: rg.Cell) -> SearchConfig:
        config = super().search_config(dataclasses.replace(cell, method="search_widths"))
        return dataclasses.replace(config, budget_measures=("latency",))

    def search_task(self, images: torch.Tensor) -> Task:
        return Task({"A": self.teacher}, {"A": images}, spaces={"A": self.space},
                    latency={"A": self.latency_model()})

    def finetune_config(self, cell: rg.Cell, steps: int) -> DistillConfig:
        a = self.args
        return DistillConfig(
            steps=steps, batch_size=a.batch_size, image_size=a.image_size,
            val_images=a.val_images, val_every=0, keep_best=False, teacher_pool=a.teacher_pool,
            checkpoint_every=a.read_every, log_every=a.read_every, seed=cell.seed)

    def test_set(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if size not in self.tests:
            images = held_out_tiles(size, self.args.toy)
            self.tests[size] = (images, translate(self.teacher, images, 1))
        return self.tests[size]

    def mask_of(self, cell: rg.Cell) -> tuple[list[int], dict]:
        if cell.method == "search":
            return rg._search(self, cell)
        match = matched(self, cell.budget, cell.seed)
        counts = match["counts"]
        if cell.method == "uniform":
            first = bits_from_ranks(self.space, counts, [range(g.size) for g in self.space.groups])
            return random_mask_like(self.space, first, cell.seed), {"match": match}
        scores = l1_importance(self.teacher, self.space)
        ranking = [sorted(range(g.size), key=lambda j, g=g: (-scores[g.offset + j], j))
                   for g in self.space.groups]
        return bits_from_ranks(self.space, counts, ranking), {"match": match}

    def example(self) -> torch.Tensor:
        return self.test_set(self.args.large_size)[0][:1]


def onnx_ms(ctx: LatencyContext, masks: Sequence[Sequence[int] | None], repeats: int
            ) -> list[float]:
    """Median ONNX Runtime milliseconds (CPU, one thread, ``--large-size`` px) of the slim
    networks of ``masks`` (None: the original), timed round-robin."""
    return time_round_robin(_runs(ctx, masks), repeats, warmup=2)


def _runs(ctx: LatencyContext, masks: Sequence[Sequence[int] | None]) -> list:
    cpu = ctx.teacher.to("cpu")
    return [runner(cpu if m is None else slim(cpu, m, ctx.space), ctx.example(), "onnx", 1)
            for m in masks]


def paired_ratio(ctx: LatencyContext, a: Sequence[int], b: Sequence[int], repeats: int
                 ) -> tuple[float, float, float]:
    """``(ms of a, ms of b, ratio b / a)``: each round runs both back to back (the order
    alternating) and the ratio is the median of the rounds' ratios, so that load which comes
    and goes cancels within a round."""
    runs = _runs(ctx, [a, b])
    times: list[tuple[float, float]] = []
    for r in range(repeats + 2):
        pair = [0.0, 0.0]
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            start = time.perf_counter()
            runs[i]()
            pair[i] = 1e3 * (time.perf_counter() - start)
        if r >= 2:
            times.append((pair[0], pair[1]))
    return (statistics.median(t[0] for t in times), statistics.median(t[1] for t in times),
            statistics.median(t[1] / t[0] for t in times))


def matched(ctx: LatencyContext, speedup: int, seed: int) -> dict:
    """The uniform per-group counts whose measured latency matches the search's network at
    ``speedup`` (seed ``seed``), kept in ``DIR/matches``: from equal predicted latency, the
    predicted budget is scaled by the measured ratio until within ``--match-tolerance``."""
    path = ctx.work / "matches" / f"{speedup}x_s{seed}.json"
    search_bits, _ = ctx.mask_of(rg.Cell("search", speedup, seed))
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved["search_mask"] == rg._compact(search_bits):
            return saved
    model = ctx.latency_model()
    budget = model.ratio(search_bits)
    tries = []
    best: dict | None = None
    for _ in range(ctx.args.match_tries):
        try:
            counts = uniform_counts(ctx.space, min(budget, 1.0), model)
        except ValueError:      # below what the group minimums reach: keep the best so far
            break
        first = bits_from_ranks(ctx.space, counts, [range(g.size) for g in ctx.space.groups])
        search_ms, uniform_ms, ratio = paired_ratio(ctx, search_bits, first,
                                                    ctx.args.match_repeats)
        tries.append({"budget": budget, "counts": counts, "search_ms": search_ms,
                      "uniform_ms": uniform_ms, "ratio": ratio})
        if best is None or abs(math.log(ratio)) < abs(math.log(best["ratio"])):
            best = tries[-1]
        if abs(ratio - 1) <= ctx.args.match_tolerance:
            break
        budget /= min(2.0, max(0.5, ratio))
    assert best is not None
    result = {"search_mask": rg._compact(search_bits), "counts": best["counts"],
              "budget": best["budget"], "ratio": best["ratio"], "tries": tries}
    atomic_write_json(path, result)
    return result


def per_image(ctx: LatencyContext, cell: dict) -> dict:
    """PSNR and SSIM of the cell's fine-tuned network on each held-out tile (large size)."""
    net = slim(ctx.teacher.to("cpu"), rg._uncompact(cell["mask"], ctx.space.n_bits), ctx.space)
    state = torch.load(ctx.work / "weights" / f"{cell['cell']}.pth", weights_only=True,
                       map_location="cpu")
    net.load_state_dict(state)
    images, original = ctx.test_set(ctx.args.large_size)
    outputs = translate(net, images, 1)
    scores = [fidelity_scores(outputs[i:i + 1], original[i:i + 1]) for i in range(len(images))]
    return {"psnr": [s["psnr_db"] for s in scores], "ssim": [s["ssim"] for s in scores]}


def measure_latency(ctx: LatencyContext, cells: dict[str, dict]) -> dict[str, dict]:
    """The ONNX latency of every cell of a (speed-up, seed) and the original, round-robin;
    kept in ``DIR/latency_measured.json``."""
    path = ctx.work / "latency_measured.json"
    done = json.loads(path.read_text()) if path.is_file() else {}
    groups: dict[str, list[dict]] = {}
    for c in cells.values():
        groups.setdefault(f"{c['budget']}x_s{c['seed']}", []).append(c)
    for key, cs in sorted(groups.items()):
        names = sorted(c["cell"] for c in cs)
        if done.get(key, {}).get("cells") == names:
            continue
        masks = [None, *(rg._uncompact(c["mask"], ctx.space.n_bits)
                         for c in sorted(cs, key=lambda c: c["cell"]))]
        ms = onnx_ms(ctx, masks, ctx.args.latency_repeats)
        done[key] = {"cells": names, "original_ms": ms[0], "ms": dict(zip(names, ms[1:])),
                     "machine": machine_name("onnx"), "threads": 1,
                     "size": ctx.args.large_size}
        atomic_write_json(path, done)
    return done


def summarize(ctx: LatencyContext, cells: dict[str, dict]) -> dict:
    """Per cell: sizes, measured latency and last-quarter quality; per (speed-up, seed) the
    search's gains over uniform and L1; per speed-up the means and the wins."""
    lat = measure_latency(ctx, cells)
    rows = []
    for c in sorted(cells.values(), key=lambda c: (c["budget"], c["seed"],
                                                   METHODS.index(c["method"]))):
        group = lat[f"{c['budget']}x_s{c['seed']}"]
        ms = group["ms"][c["cell"]]
        rows.append({"cell": c["cell"], "method": c["method"], "speedup_target": c["budget"],
                     "seed": c["seed"], "params_ratio": c["params_ratio"],
                     "macs_ratio": c["macs_ratio"], "onnx_ms": ms,
                     "original_ms": group["original_ms"],
                     "speedup": group["original_ms"] / ms,
                     "psnr": rg._last_quarter(c, "psnr_large"),
                     "ssim": rg._last_quarter(c, "ssim_large"),
                     "per_image": per_image(ctx, c), "device": c["device"],
                     "steps": c["finetune_steps"]})
    paired = []
    by = {(r["speedup_target"], r["seed"], r["method"]): r for r in rows}
    for r in rows:
        if r["method"] == "search":
            r["uniform_curve"] = on_curve(r, [u for u in rows if u["method"] == "uniform"
                                              and u["seed"] == r["seed"]])
    for (x, s, m), r in sorted(by.items()):
        if m != "search":
            continue
        entry: dict = {"speedup_target": x, "seed": s}
        for other in ("uniform", "l1"):
            o = by.get((x, s, other))
            if o is not None:
                entry[other] = {"psnr_gain_db": r["psnr"] - o["psnr"],
                                "ssim_gain": r["ssim"] - o["ssim"],
                                "latency_ratio": r["onnx_ms"] / o["onnx_ms"]}
        paired.append(entry)
    means = []
    for x in sorted({r["speedup_target"] for r in rows}):
        for m in METHODS:
            mine = [r for r in rows if r["speedup_target"] == x and r["method"] == m]
            if mine:
                means.append({"speedup_target": x, "method": m, "seeds": len(mine),
                              **{k: statistics.fmean(r[k] for r in mine) for k in
                                 ("params_ratio", "macs_ratio", "speedup", "psnr", "ssim")}})
    verdicts = []
    for x in sorted({p["speedup_target"] for p in paired}):
        mine = [p for p in paired if p["speedup_target"] == x and "uniform" in p]
        curves = [r["uniform_curve"] for r in rows if r["method"] == "search"
                  and r["speedup_target"] == x and r.get("uniform_curve")]
        if not mine:
            continue
        gains = [p["uniform"]["psnr_gain_db"] for p in mine]
        verdicts.append({
            "speedup_target": x, "seeds": len(mine),
            "psnr_gain_db": statistics.fmean(gains),
            "ssim_gain": statistics.fmean(p["uniform"]["ssim_gain"] for p in mine),
            "wins": sum(p["uniform"]["psnr_gain_db"] > 0 and p["uniform"]["ssim_gain"] > 0
                        for p in mine),
            "meets_1db": sum(p["uniform"]["psnr_gain_db"] >= 1 and p["uniform"]["ssim_gain"] > 0
                             for p in mine),
            "curve_psnr_gain_db": statistics.fmean(c["psnr_gain_db"] for c in curves)
            if curves else None,
            "l1_psnr_gain_db": statistics.fmean(p["l1"]["psnr_gain_db"] for p in mine
                                                if "l1" in p) if any("l1" in p for p in mine)
            else None})
    return {"rows": rows, "paired": paired, "means": means, "verdicts": verdicts}


def on_curve(row: dict, uniform: Sequence[dict]) -> dict | None:
    """The uniform cells' PSNR and SSIM at ``row``'s measured latency (linear in log latency
    between the two nearest uniform cells, extended past the ends) and ``row``'s gains over
    them; None with fewer than two uniform cells."""
    if len(uniform) < 2:
        return None
    x = math.log(row["onnx_ms"])
    ranked = sorted(uniform, key=lambda u: abs(math.log(u["onnx_ms"]) - x))[:2]
    (a, b) = sorted(ranked, key=lambda u: u["onnx_ms"])
    xa, xb = math.log(a["onnx_ms"]), math.log(b["onnx_ms"])
    t = 0.0 if xb == xa else (x - xa) / (xb - xa)
    at = {k: a[k] + t * (b[k] - a[k]) for k in ("psnr", "ssim")}
    return {"psnr": at["psnr"], "ssim": at["ssim"], "psnr_gain_db": row["psnr"] - at["psnr"],
            "ssim_gain": row["ssim"] - at["ssim"], "between": [a["cell"], b["cell"]]}


def format_table(summary: dict) -> str:
    lines = [f"{'target':>6} {'method':<8} {'n':>2} {'params':>7} {'MACs':>6} {'speed':>7} "
             f"{'PSNR':>7} {'SSIM':>6}"]
    for m in summary["means"]:
        lines.append(f"{m['speedup_target']:>5}x {m['method']:<8} {m['seeds']:>2} "
                     f"{m['params_ratio']:7.4f} {m['macs_ratio']:6.3f} {m['speedup']:6.2f}x "
                     f"{m['psnr']:7.2f} {m['ssim']:6.3f}")
    for p in summary["paired"]:
        parts = [f"vs {k} {v['psnr_gain_db']:+.2f} dB {v['ssim_gain']:+.3f} SSIM "
                 f"(latency x{v['latency_ratio']:.3f})" for k, v in p.items()
                 if isinstance(v, dict)]
        curve = next(r.get("uniform_curve") for r in summary["rows"]
                     if r["method"] == "search" and r["seed"] == p["seed"]
                     and r["speedup_target"] == p["speedup_target"])
        if curve:
            parts.append(f"vs the uniform curve {curve['psnr_gain_db']:+.2f} dB "
                         f"{curve['ssim_gain']:+.3f} SSIM")
        lines.append(f"{p['speedup_target']}x s{p['seed']}: search " + ", ".join(parts))
    for v in summary["verdicts"]:
        curve = "" if v["curve_psnr_gain_db"] is None else \
            f", {v['curve_psnr_gain_db']:+.2f} dB over the uniform curve"
        lines.append(f"{v['speedup_target']}x: search {v['psnr_gain_db']:+.2f} dB "
                     f"{v['ssim_gain']:+.3f} SSIM over matched uniform (mean of {v['seeds']}; "
                     f"wins {v['wins']}/{v['seeds']}, >= 1 dB {v['meets_1db']}/{v['seeds']})"
                     + curve)
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    """PSNR and SSIM against measured ONNX speed-up: every cell, a line through the uniform
    cells, the search's points, L1's."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    style = {"search": ("tab:orange", "o", "default search (latency budget)"),
             "uniform": ("tab:blue", "s", "uniform, matched latency"),
             "l1": ("tab:gray", "^", "L1 norm, matched latency")}
    for ax, key, label in ((axes[0], "psnr", "PSNR to the original (dB)"),
                           (axes[1], "ssim", "SSIM to the original")):
        for method, (colour, marker, name) in style.items():
            mine = sorted((r for r in summary["rows"] if r["method"] == method),
                          key=lambda r: r["speedup"])
            if not mine:
                continue
            ax.scatter([r["speedup"] for r in mine], [r[key] for r in mine], color=colour,
                       marker=marker, label=name, zorder=3)
            if method == "uniform":       # the uniform curve of each seed
                for seed in sorted({r["seed"] for r in mine}):
                    curve = [r for r in mine if r["seed"] == seed]
                    ax.plot([r["speedup"] for r in curve], [r[key] for r in curve],
                            color=colour, alpha=0.4)
        ax.set(xlabel="measured speed-up on ONNX Runtime CPU (1 thread, 256 px)",
               ylabel=label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--speedups", type=int, nargs="+", default=[8, 5, 3])
    pre.add_argument("--match-tolerance", type=float, default=0.02)
    pre.add_argument("--match-tries", type=int, default=5)
    pre.add_argument("--match-repeats", type=int, default=21)
    pre.add_argument("--methods", dest="el_methods", nargs="+", choices=METHODS,
                     default=list(METHODS))
    pre.add_argument("--el-stage", choices=["all", "cells", "report"], default="all")
    pre.add_argument("--el-out",
                     default=str(ROOT / "benchmarks" / "results" / "equal_latency.json"))
    pre.add_argument("--el-plot", default=str(ROOT / "docs" / "equal_latency.png"))
    ours, rest = pre.parse_known_args(argv)
    a = rg.parse_args(["--work", str(ROOT / "runs" / "equal_latency"), "--no-latency",
                       *rest])
    a.match_tolerance, a.match_tries = ours.match_tolerance, ours.match_tries
    a.match_repeats = ours.match_repeats if not a.toy else 2
    if a.steps is None:
        a.steps = 1000 if not a.toy else 8
    ctx = rg.load_as(LatencyContext, a, "equal_latency")
    if ctx is None:
        return 1
    cells: dict[str, dict] = {}
    try:
        for seed in a.seeds:
            for x in ours.speedups:
                for method in ours.el_methods:
                    cell = rg.Cell(method, x, seed)
                    if ours.el_stage == "report":
                        path = ctx.work / "cells" / f"{cell.name}.json"
                        if path.is_file():
                            cells[cell.name] = json.loads(path.read_text())
                        continue
                    result = rg.run_cell(ctx, cell, a.steps, a.stop_after)
                    if result.get("claimed_elsewhere"):
                        continue
                    cells[cell.name] = result
                    if not a.quiet:
                        print(f"{cell.name}: {rg._last_quarter(result, 'psnr_large'):.2f} dB, "
                              f"params {result['params_ratio']:.4f}")
    except rg.StopRun as stop:
        print(f"equal_latency: {stop}", file=sys.stderr)
        return 3
    except rg.CellMismatch as error:
        print(f"equal_latency: {error}", file=sys.stderr)
        return 1
    if ours.el_stage == "cells" or not cells:
        return 0
    summary = summarize(ctx, cells)
    atomic_write_json(ours.el_out, {
        "benchmark": "equal_latency", "toy": a.toy, "steps": a.steps,
        "settings": {k: v for k, v in vars(a).items() if k != "stop_after"},
        "speedups": ours.speedups, "finetune": ctx.finetune_config(
            rg.Cell("search", 0, 0), a.steps).settings(), **summary})
    plot(summary, Path(ours.el_plot))
    if not a.quiet:
        print(format_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

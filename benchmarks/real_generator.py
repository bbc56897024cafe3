"""Pruning a real pretrained generator on real photos: the default search against uniform,
L1-norm and random masks, every mask fine-tuned identically, quality on held-out photos.

The generator: ``vintagify`` 0.1.2's modern → vintage CycleGAN generator (ResNet, ngf 64,
9 blocks, 11.4 M parameters; ``examples/vintage_generator.py``), weights read from the
installed package (``pip install --no-deps vintagify==0.1.2``) or ``--weights FILE``; nothing
is downloaded. The data: scikit-image's bundled colour photos, split by whole photo
(``examples/photo_folder.py``: chelsea, coffee and rocket held out for testing, training tiles
of six others).

Stages, each resumable (``--work DIR``; a killed run loses at most the step since the last
checkpoint and continues where it stopped when run again with the same command):

1. ``leveloff``: one long fine-tuning of the 8x uniform first-channels mask (seed 0) at a
   constant learning rate, quality read every ``--read-every`` steps, until the validation
   PSNR (mean of the readings in the last quarter of the steps against the quarter before)
   gained less than ``--level-db`` (0.1 dB) (or ``--leveloff-steps``). That step count is
   the fine-tuning length of every cell.
2. ``cells``: one unit of work per (method, budget, seed), its result written atomically to
   ``DIR/cells/<cell>.json`` and skipped when present: the width search
   (``SearchConfig.widths``, the default of ``search --generator``), the first default search
   (:func:`search` of the one generator with ``SearchConfig(budget=1/x, seed=seed)``, scored at
   ``--search-size`` px on the first tiles, as ``deap-gan-prune search --generator ...
   --dataroot DIR/data --image-size 64 --budget ...`` would), the uniform mask with the first
   channels and with random channels, with seeds ``--seeds`` at 8x and 16x parameter budgets;
   the L1-norm mask and a random mask with the searched per-group counts at 8x and 16x with
   the first seed; the search and both uniform masks at 4x with the first seed. Every mask is
   slimmed and fine-tuned with :func:`distill_generator` in upstream's L1 recipe
   (``DistillConfig.upstream``; ``benchmarks/distillation.py`` compares it with the default
   recipe): ``--image-size`` crops of the training tiles, batch ``--batch-size``, a teacher
   pool of ``--teacher-pool`` crops, held-out validation tiles, linear decay over the second
   half, seed = the cell's seed, from a checkpoint it resumes. Quality is read along the way
   (short and long from the same run): PSNR and SSIM to the original's output on the
   held-out whole photos (resized square) at the fine-tuning size and at ``--large-size`` px.
3. ``report``: the table (printed), the JSON (``--out``), a quality-vs-size plot and a
   before/after sheet (``--plot``, ``--sheet``); also written after every cell.

Per cell: parameters and MACs (at ``--large-size``) of the slim network and their ratios,
CPU latency of the original and the slim network side by side (median of interleaved runs,
one thread, ``--large-size`` px), quality at every reading. Paired wins: per seed, the
search against the better of the two uniform masks.

    python benchmarks/real_generator.py                      # everything, resumable
    python benchmarks/real_generator.py --stage leveloff     # only the level-off run
    python benchmarks/real_generator.py --stage report       # table/plots of what is done
    python benchmarks/real_generator.py --toy --work /tmp/rg # random-weight toy, seconds

On a GPU with many CPU cores, several workers share the cells (``--claims DIR``: each cell is
run by the first worker that claims it) and ``--no-latency`` leaves the CPU latency to a later
``--stage latency`` on an idle machine; each cell records the device it was fine-tuned on.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from photo_folder import write_photo_folder
from vintage_generator import MissingWeights, VintageGenerator, load_real_generator

from deap_gan_prune import search
from deap_gan_prune.core.baselines import random_mask_like, uniform_mask
from deap_gan_prune.data import readable_images
from deap_gan_prune.evolution import Task
from deap_gan_prune.evolution.search_config import WIDTHS, SearchConfig
from deap_gan_prune.files import atomic_write_json, models_hash
from deap_gan_prune.metrics.evaluation import generator_latency, translate
from deap_gan_prune.metrics.fidelity import fidelity_scores
from deap_gan_prune.nets.baselines import l1_norm_mask
from deap_gan_prune.nets.checkpoints import save_state_dict
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.streams import holdout_split, load_images
from deap_gan_prune.training.distill import Teacher, distill_generator
from deap_gan_prune.training.distill_config import DistillConfig

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("search_widths", "search", "uniform_first", "uniform_random", "l1_norm",
           "random_like_search")
#: the cells this benchmark stored; ``stored_<method>`` cells of other benchmarks take their
#: masks from here
STORED = ROOT / "benchmarks" / "results" / "real_generator_cells"


class StopRun(Exception):
    """Raised by ``--stop-after`` (a stand-in for a kill, for tests)."""


class CellMismatch(RuntimeError):
    """A stored result was computed with other settings."""


@dataclass(frozen=True)
class Cell:
    """One unit of work: ``method`` at ``budget`` (x smaller in parameters), ``seed``."""

    method: str
    budget: int
    seed: int
    leveloff: bool = False

    @property
    def name(self) -> str:
        return "leveloff" if self.leveloff else f"{self.method}_{self.budget}x_s{self.seed}"


def plan(seeds: list[int], budgets: tuple[int, ...] = (8, 16)) -> list[Cell]:
    """The cells in the order they are run: per seed the width search and both uniform
    masks at each budget; then the first default search; then 4x (first seed); then L1 and
    random-with-searched-counts (first seed)."""
    cells = [Cell(m, b, s) for s in seeds for b in budgets
             for m in ("search_widths", "uniform_first", "uniform_random")]
    cells += [Cell("search", b, s) for s in seeds for b in budgets]
    cells += [Cell(m, 4, seeds[0]) for m in ("search_widths", "uniform_first",
                                              "uniform_random", "search")]
    cells += [Cell(m, b, seeds[0]) for b in budgets for m in ("l1_norm", "random_like_search")]
    return cells


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _compact(bits) -> str:
    """A mask as a hex string (4 bits a digit, the first bit the most significant)."""
    s = "".join(str(int(b)) for b in bits)
    s += "0" * (-len(s) % 4)
    return "".join(f"{int(s[i:i + 4], 2):x}" for i in range(0, len(s), 4))


def _uncompact(text: str, n: int) -> list[int]:
    return [int(c) for c in "".join(f"{int(h, 16):04b}" for h in text)][:n]


@dataclass
class Context:
    """The generator, data, settings and folders of one benchmark run."""

    args: argparse.Namespace
    teacher: torch.nn.Module
    space: object
    data: Path
    manifest: dict
    train_files: list[Path]
    tests: dict = field(default_factory=dict)       # size -> (images, original outputs)
    search_images: torch.Tensor | None = None

    @property
    def work(self) -> Path:
        return Path(self.args.work)

    def finetune_config(self, cell: Cell, steps: int) -> DistillConfig:
        a = self.args
        return DistillConfig.upstream(
            steps=steps, batch_size=a.batch_size, lr=a.lr,
            decay_start=1.0 if cell.leveloff else 0.5, image_size=a.image_size,
            val_images=a.val_images, val_every=0, keep_best=False, teacher_pool=a.teacher_pool,
            checkpoint_every=a.read_every, log_every=a.read_every, seed=cell.seed)

    def search_config(self, cell: Cell) -> SearchConfig:
        a = self.args
        extra = {} if not a.toy else {"population": 2, "generations": 1, "n_images": 2,
                                      "adapt_images": 2, "adapt_steps": 1, "batch_size": 2,
                                      "finalist_steps": 2}
        if cell.method == "search_widths":
            extra = {**WIDTHS, **extra}
        return SearchConfig(budget=1.0 / cell.budget, seed=cell.seed, **extra)

    def mask_of(self, cell: Cell) -> tuple[list[int], dict]:
        """The cell's mask and what produced it (:func:`_mask_of`)."""
        return _mask_of(self, cell)

    def search_task(self, images: torch.Tensor) -> Task:
        """The task a search cell runs on ``images``: the original generator alone."""
        return Task({"A": self.teacher}, {"A": images})

    def base_settings(self) -> dict:
        a = self.args
        return {"weights": models_hash(self.teacher), "data": _hash(self.manifest),
                "image_size": a.image_size, "large_size": a.large_size,
                "read_every": a.read_every, "search_size": a.search_size}

    # -- evaluation ----------------------------------------------------------------------
    def test_set(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out whole photos at ``size``² and the original's outputs on them."""
        if size not in self.tests:
            files = sorted((self.data / "testA").iterdir())
            images = load_images(files, size)
            self.tests[size] = (images, translate(self.teacher, images, 1))
        return self.tests[size]

    def quality(self, net: torch.nn.Module) -> dict:
        """PSNR (dB) and SSIM to the original's outputs on the test photos at both sizes."""
        out = {}
        for tag, size in (("ft", self.args.image_size), ("large", self.args.large_size)):
            images, original = self.test_set(size)
            scores = fidelity_scores(translate(net, images, 1), original)
            out[f"psnr_{tag}"], out[f"ssim_{tag}"] = scores["psnr_db"], scores["ssim"]
        return out


class Readings:
    """The fine-tuning callback: quality every ``read_every`` steps (test photos, and the
    validation tiles held out of training), written atomically to ``path``; the step time;
    ``--stop-after``; with ``level_db`` the level-off criterion, which ends the run."""

    def __init__(self, ctx: Context, student, path: Path, val: tuple, steps: int,
                 level_db: float | None, stop_after: int | None) -> None:
        self.ctx, self.student, self.path = ctx, student, path
        self.val_images, self.val_targets = val
        self.steps, self.level_db, self.stop_after = steps, level_db, stop_after
        self.entries: list[dict] = []
        self.times: list[float] = []
        self.last = None
        self.ran = 0
        self.levelled_at: int | None = None

    def read(self, step: int, net=None) -> None:
        net = self.student if net is None else net
        val = fidelity_scores(translate(net, self.val_images, 1), self.val_targets)
        entry = {"step": step, **self.ctx.quality(net), "psnr_val": val["psnr_db"],
                 "ssim_val": val["ssim"]}
        self.entries = [e for e in self.entries if e["step"] != step] + [entry]
        self.entries.sort(key=lambda e: e["step"])
        atomic_write_json(self.path, self.entries)

    def levelled(self) -> int | None:
        """The first reading step S (at least 8 readings in) where the mean validation PSNR
        of the readings in the last quarter (0.75·S, S] exceeds that of the quarter before
        (0.5·S, 0.75·S] by less than ``level_db``: means over a quarter, since single
        readings of a batch-1 run at a constant learning rate swing by a dB or more."""
        if self.level_db is None:
            return None
        for entry in self.entries:
            s = entry["step"]
            if s < 8 * self.ctx.args.read_every:
                continue
            last = [e["psnr_val"] for e in self.entries if 0.75 * s < e["step"] <= s]
            before = [e["psnr_val"] for e in self.entries if 0.5 * s < e["step"] <= 0.75 * s]
            if last and before and statistics.fmean(last) - statistics.fmean(before) \
                    < self.level_db:
                return s
        return None

    def __call__(self, done: int, _logs: dict) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.times.append(now - self.last)
        self.ran += 1
        if self.stop_after is not None and self.ran >= self.stop_after:
            raise StopRun(f"stopped after {self.ran} steps (--stop-after)")
        if done % self.ctx.args.read_every == 0 or done == self.steps:
            self.read(done)
            self.levelled_at = self.levelled()
            if self.levelled_at is not None:
                raise _Levelled()
        self.last = time.perf_counter()

    def step_time(self) -> float | None:
        return statistics.median(self.times) if self.times else None


class _Levelled(Exception):
    pass


def _stale(ctx: Context, path: Path) -> None:
    """A stored result computed with other settings (e.g. changed search defaults): moved
    aside to ``*.stale.json`` with ``--replace-stale`` (then recomputed), else an error."""
    if not ctx.args.replace_stale:
        raise CellMismatch(f"{path}: computed with other settings (e.g. another fine-tuning "
                           "length or search defaults); --replace-stale recomputes it, or "
                           "use another --work")
    path.replace(path.with_suffix(".stale.json"))


def _mask_of(ctx: Context, cell: Cell) -> tuple[list[int], dict]:
    """The cell's mask and what produced it (a search is resumable and kept in
    ``DIR/searches``)."""
    if cell.method in ("uniform_first",) or cell.leveloff:
        return uniform_mask(ctx.space, 1.0 / cell.budget), {}
    if cell.method == "uniform_random":
        return random_mask_like(ctx.space, uniform_mask(ctx.space, 1.0 / cell.budget),
                                cell.seed), {}
    if cell.method == "l1_norm":
        return l1_norm_mask(ctx.teacher, ctx.space, 1.0 / cell.budget), {}
    if cell.method == "random_like_search":
        searched, _ = _mask_of(ctx, Cell("search", cell.budget, cell.seed))
        return random_mask_like(ctx.space, searched, cell.seed), {}
    if cell.method.startswith("stored_"):
        path = STORED / f"{cell.method.removeprefix('stored_')}_{cell.budget}x_s{cell.seed}.json"
        return _uncompact(json.loads(path.read_text())["mask"], ctx.space.n_bits), {
            "stored": path.name}
    return _search(ctx, cell)


def _search(ctx: Context, cell: Cell) -> tuple[list[int], dict]:
    folder = ctx.work / "searches"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{cell.method}_{cell.budget}x_s{cell.seed}.json"
    config = ctx.search_config(cell)
    settings = {**ctx.base_settings(), "search": config.to_dict()}
    if out.is_file():
        saved = json.loads(out.read_text())
        if saved["settings"] == settings:
            return _uncompact(saved["mask"], ctx.space.n_bits), saved["info"]
        _stale(ctx, out)
    if ctx.search_images is None:
        n = config.n_images + config.adapt_images
        ctx.search_images = load_images(ctx.train_files[:n], ctx.args.search_size)
    start = time.perf_counter()
    result = search(ctx.search_task(ctx.search_images), config,
                    RunOptions(device=ctx.args.device, progress=not ctx.args.quiet,
                               checkpoint=folder / f"{out.stem}.ckpt", resume=True))
    logbook, mask = result.logbook, result.masks["A"]
    info = {"seconds_this_process": time.perf_counter() - start, "terms": result.terms["A"],
            "best_fitness_by_generation": [r["max"] for r in logbook],
            "finalists": [{"kept": ctx.space.kept(f["A"]), "score": f["score"]}
                          for f in result.finalists],
            "device": str(ctx.args.device)}
    atomic_write_json(out, {"settings": settings, "mask": _compact(mask), "info": info})
    (folder / f"{out.stem}.ckpt").unlink(missing_ok=True)
    return mask, info


def _size(ctx: Context, bits) -> dict:
    sp, large = ctx.space, ctx.args.large_size
    return {"params": sp.size(bits), "params_ratio": sp.size_ratio(bits),
            f"macs_{large}": sp.size(bits, "macs", large),
            "macs_ratio": sp.size_ratio(bits, "macs", large),
            "kept": sp.kept(bits)}


def cell_settings(ctx: Context, cell: Cell, config: DistillConfig) -> dict:
    """What a stored cell must have been computed with to be read instead of run."""
    return {**ctx.base_settings(), "finetune": config.settings(),
            "level_db": ctx.args.level_db if cell.leveloff else None,
            "search": ctx.search_config(cell).to_dict() if "search" in cell.method
            and not cell.method.startswith("stored_") and not cell.leveloff else None}


def run_cell(ctx: Context, cell: Cell, steps: int, stop_after: int | None = None) -> dict:
    """The cell's result (computed, or read when already done)."""
    a = ctx.args
    path = ctx.work / "cells" / f"{cell.name}.json"
    config = ctx.finetune_config(cell, steps)
    settings = cell_settings(ctx, cell, config)
    if not path.is_file() and a.claims is not None and not _claim(Path(a.claims), cell):
        return {"cell": cell.name, "claimed_elsewhere": True}
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved["settings"] == settings:
            saved["skipped"] = True
            return saved
        _stale(ctx, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bits, origin = ctx.mask_of(cell)
    student = slim(ctx.teacher, bits, ctx.space)
    ckpt_dir = ctx.work / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    ckpt, readings_path = ckpt_dir / f"{cell.name}.pt", ckpt_dir / f"{cell.name}.readings.json"
    _, val_files = holdout_split(ctx.train_files, config.val_images, config.seed)
    val_images = load_images(val_files, config.image_size)
    val = (val_images, translate(ctx.teacher, val_images, 1))
    reader = Readings(ctx, student, readings_path, val, steps,
                      a.level_db if cell.leveloff else None, stop_after)
    resumed_at = 0
    if ckpt.is_file() and readings_path.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        resumed_at = int(state["step"])
        reader.entries = [e for e in json.loads(readings_path.read_text())
                          if e["step"] <= resumed_at]
        if resumed_at % a.read_every == 0 and all(e["step"] != resumed_at
                                                  for e in reader.entries):
            net = slim(ctx.teacher, bits, ctx.space)
            net.load_state_dict(state["student"])
            reader.read(resumed_at, net)
    else:
        ckpt.unlink(missing_ok=True)
        reader.read(0)
    if cell.leveloff and reader.levelled() is not None:
        reader.levelled_at = reader.levelled()
    else:
        try:
            options = RunOptions(device=next(student.parameters()).device,
                                 progress=not a.quiet, callback=reader, checkpoint=ckpt,
                                 resume=True)
            result = distill_generator(student, Teacher(ctx.teacher, (ctx.space, bits)),
                                       ctx.train_files, config, options)
            assert not set(map(str, result.val_files)) & set(map(str, result.train_files))
        except _Levelled:
            pass
    entries = reader.entries
    final = entries[-1]
    quarter = min(entries, key=lambda e: abs(e["step"] - final["step"] / 4))
    lat = None if a.no_latency else latency(ctx, bits)
    weights = ctx.work / "weights" / f"{cell.name}.pth"
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_state_dict(student.state_dict(), weights)
    data = {"cell": cell.name, "method": "uniform_first" if cell.leveloff else cell.method,
            "budget": cell.budget, "seed": cell.seed, "settings": settings,
            "mask": _compact(bits), **_size(ctx, bits), "origin": origin,
            "finetune_steps": final["step"], "step_s": reader.step_time(),
            "resumed_at": resumed_at, "readings": entries, "final": final,
            "quarter": quarter,
            "latency": lat, "device": str(a.device),
            "train_files": [f.name for f in ctx.train_files if f not in set(val_files)],
            "val_files": [f.name for f in val_files]}
    if cell.leveloff:
        data["levelled_at"] = reader.levelled_at
    atomic_write_json(path, data)
    ckpt.unlink(missing_ok=True)
    readings_path.unlink(missing_ok=True)
    data["skipped"] = False
    return data


def _claim(folder: Path, cell: Cell) -> bool:
    """True when this process takes ``cell`` (parallel workers share ``--claims DIR``)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(folder / f"{cell.name}.claim", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def latency(ctx: Context, bits) -> dict:
    """CPU latency (one thread, ``--large-size`` px, median of interleaved runs) of the
    original and the slim network, side by side."""
    cpu = torch.device("cpu")
    original = ctx.teacher.to(cpu)
    small = slim(original, bits, ctx.space).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        example = ctx.test_set(ctx.args.large_size)[0][:1]
        lat = generator_latency({"original": original, "slim": small}, example,
                                repeats=ctx.args.latency_repeats, warmup=1)
    finally:
        torch.set_num_threads(threads)
        ctx.teacher.to(ctx.args.device)
    return {"original_ms": 1e3 * lat["original"]["median_s"],
            "slim_ms": 1e3 * lat["slim"]["median_s"],
            "speedup": lat["original"]["median_s"] / lat["slim"]["median_s"],
            "runs": lat["slim"]["runs"], "size": ctx.args.large_size, "threads": 1}


def fill_latency(ctx: Context) -> int:
    """Measure the latency of finished cells stored without it (``--no-latency`` runs, e.g.
    fine-tuned on a GPU); returns how many were filled."""
    filled = 0
    for p in sorted((ctx.work / "cells").glob("*.json")):
        c = json.loads(p.read_text())
        if p.name.endswith(".stale.json") or c.get("latency") is not None:
            continue
        c["latency"] = latency(ctx, _uncompact(c["mask"], ctx.space.n_bits))
        atomic_write_json(p, c)
        filled += 1
        if not ctx.args.quiet:
            print(f"{c['cell']}: {c['latency']['speedup']:.2f}x")
    return filled


# -- report ------------------------------------------------------------------------------
def _mean(xs):
    return sum(xs) / len(xs) if xs else None


def _last_quarter(cell: dict, key: str) -> float:
    """The mean of ``key`` over the readings of the last quarter of the fine-tuning (single
    readings of a batch-1 run swing by a dB or more)."""
    end = cell["final"]["step"]
    return statistics.fmean(e[key] for e in cell["readings"] if e["step"] > 0.75 * end)


def _paired(cells: dict[str, dict], seeds: list[int], method: str) -> dict:
    """Per budget and seed, ``method`` against the better of the two uniform masks."""
    paired = {}
    margin = {8: 0.5, 16: 1.0, 4: 0.0}
    for budget in sorted({c["budget"] for c in cells.values() if c["cell"] != "leveloff"}):
        per_seed = []
        for s in seeds:
            get = {m: cells.get(f"{m}_{budget}x_s{s}") for m in
                   (method, "uniform_first", "uniform_random")}
            if any(v is None for v in get.values()):
                continue
            entry = {"seed": s}
            for tag in ("ft", "large"):
                best = max(("uniform_first", "uniform_random"),
                           key=lambda m: get[m]["final"][f"psnr_{tag}"])
                dp = get[method]["final"][f"psnr_{tag}"] - get[best]["final"][f"psnr_{tag}"]
                ds = get[method]["final"][f"ssim_{tag}"] - get[best]["final"][f"ssim_{tag}"]
                entry[tag] = {"better_uniform": best, "psnr_gain_db": dp, "ssim_gain": ds,
                              "search_wins": dp > 0 and ds > 0,
                              "meets_target": dp >= margin.get(budget, 0.0) and ds > 0}
            per_seed.append(entry)
        if per_seed:
            paired[str(budget)] = {
                "target_db": margin.get(budget, 0.0), "per_seed": per_seed,
                "wins_large": sum(e["large"]["search_wins"] for e in per_seed),
                "meets_target_large": sum(e["large"]["meets_target"] for e in per_seed),
                "seeds": len(per_seed)}
    return paired


def summarize(cells: dict[str, dict], seeds: list[int]) -> dict:
    """Means per (method, budget) and the paired comparison per seed."""
    groups: dict[tuple, list] = {}
    for c in cells.values():
        if c["cell"] != "leveloff":
            groups.setdefault((c["method"], c["budget"]), []).append(c)
    rows = []
    for (method, budget), cs in sorted(groups.items(), key=lambda kv: (-kv[0][1],
                                                                       METHODS.index(kv[0][0]))):
        row = {"method": method, "budget": budget, "seeds": sorted(c["seed"] for c in cs),
               "params_ratio": _mean([c["params_ratio"] for c in cs]),
               "macs_ratio": _mean([c["macs_ratio"] for c in cs]),
               "speedup": _mean([c["latency"]["speedup"] for c in cs if c.get("latency")])}
        for k in ("psnr_ft", "ssim_ft", "psnr_large", "ssim_large"):
            row[k] = _mean([c["final"][k] for c in cs])
            row[f"{k}_last_quarter"] = _mean([_last_quarter(c, k) for c in cs])
            row[f"{k}_quarter"] = _mean([c["quarter"][k] for c in cs])
            row[f"{k}_before"] = _mean([c["readings"][0][k] for c in cs])
        rows.append(row)
    paired = {m: _paired(cells, seeds, m) for m in ("search_widths", "search")}
    return {"rows": rows, "paired": paired}


def format_table(result: dict) -> str:
    s = result["settings"]
    ft, lg = s["image_size"], s["large_size"]
    lines = [f"Real generator ({result['generator']['params']:,} params) on held-out photos "
             f"{', '.join(result['data']['test_photos'])}; fine-tuned "
             f"{result['finetune_steps']} steps; PSNR/SSIM to the original's output.", "",
             f"{'method':<20}{'x':>4}{'n':>3}{'params':>8}{'MACs':>7}{'speed':>7}"
             f"{'dB@' + str(ft):>9}{'SSIM':>7}{'dB@' + str(lg):>9}{'SSIM':>7}"
             f"{'dB@1/4':>8}{'before':>8}"]
    for r in result["summary"]["rows"]:
        lines.append(f"{r['method']:<20}{r['budget']:>4}{len(r['seeds']):>3}"
                     f"{r['params_ratio']:>8.4f}{r['macs_ratio']:>7.3f}"
                     f"{r['speedup'] or float('nan'):>6.2f}x"
                     f"{r['psnr_ft']:>9.2f}{r['ssim_ft']:>7.3f}{r['psnr_large']:>9.2f}"
                     f"{r['ssim_large']:>7.3f}{r['psnr_large_quarter']:>8.2f}"
                     f"{r['psnr_large_before']:>8.2f}")
    for method, per_budget in result["summary"]["paired"].items():
        for budget, p in per_budget.items():
            gains = ", ".join(f"s{e['seed']} {e['large']['psnr_gain_db']:+.2f} dB "
                              f"{e['large']['ssim_gain']:+.3f}" for e in p["per_seed"])
            lines.append(f"{budget}x {method} vs better uniform @{lg}: wins "
                         f"{p['wins_large']}/{p['seeds']}, meets +{p['target_db']} dB "
                         f"{p['meets_target_large']}/{p['seeds']} ({gains})")
    lo = result.get("leveloff")
    if lo:
        lines.append(f"level-off: {lo['levelled_at']} steps (run {lo['steps_run']}), "
                     f"{lo['step_s']:.3f} s/step" if lo["step_s"] else "level-off: done")
    return "\n".join(lines)


def plot_quality(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lg = result["settings"]["large_size"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, method in enumerate(METHODS):
        cs = [c for c in result["cells"].values() if c["method"] == method
              and c["cell"] != "leveloff"]
        if cs:
            ax.scatter([c["params_ratio"] for c in cs], [c["final"]["psnr_large"] for c in cs],
                       label=method, marker="*os^vD"[i], alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("parameter ratio (slim / original)")
    ax.set_ylabel(f"PSNR to original @ {lg} px (dB)")
    ax.set_title("Real generator: quality after fine-tuning vs size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def image_sheet(ctx: Context, result: dict, path: Path) -> None:
    """Inputs, the original's outputs and those of the 8x cells of the first seed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    s = ctx.args.seeds[0]
    names = [n for n in (f"uniform_first_8x_s{s}", f"uniform_random_8x_s{s}", f"search_8x_s{s}",
                         f"search_widths_8x_s{s}")
             if n in result["cells"] and (ctx.work / "weights" / f"{n}.pth").is_file()]
    images, original = ctx.test_set(ctx.args.large_size)
    columns = [("input", images), ("original", original)]
    for n in names:
        net = slim(ctx.teacher, _uncompact(result["cells"][n]["mask"],
                                                           ctx.space.n_bits), ctx.space)
        state = torch.load(ctx.work / "weights" / f"{n}.pth", weights_only=True, map_location="cpu")
        net.load_state_dict(state)
        columns.append((f"{n} ({result['cells'][n]['final']['psnr_large']:.1f} dB)",
                        translate(net, images, 1)))
    fig, axes = plt.subplots(len(images), len(columns), squeeze=False,
                             figsize=(2.4 * len(columns), 2.4 * len(images)))
    for j, (title, batch) in enumerate(columns):
        for i in range(len(images)):
            ax = axes[i][j]
            ax.imshow(((batch[i].permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(ctx: Context, steps: int | None, leveloff: dict | None, quiet: bool,
           figures: bool = True) -> dict:
    """Collect every finished cell into the JSON, the table, the plot and the sheet."""
    cells = {}
    for p in sorted((ctx.work / "cells").glob("*.json")):
        if p.name.endswith(".stale.json"):
            continue
        c = json.loads(p.read_text())
        cells[c["cell"]] = c
    a = ctx.args
    result = {"benchmark": "real_generator", "toy": a.toy,
              "generator": {"params": ctx.space.size(ctx.space.full()),
                            f"macs_{a.large_size}": ctx.space.size(ctx.space.full(), "macs",
                                                                   a.large_size),
                            "weights_hash": models_hash(ctx.teacher)},
              "data": {k: ctx.manifest[k] for k in ("train_photos", "test_photos", "scales",
                                                    "tile_px")}
              | {"train_tiles": len(ctx.train_files)},
              "settings": {k: v for k, v in vars(a).items() if k not in ("stop_after",)},
              "finetune_steps": steps, "cells_done": len(cells),
              "cells_planned": len(plan(a.seeds)) + 1,
              "leveloff": None, "cells": cells}
    if leveloff is not None:
        result["leveloff"] = {"levelled_at": leveloff.get("levelled_at"),
                              "steps_run": leveloff["finetune_steps"],
                              "step_s": leveloff["step_s"], "readings": leveloff["readings"]}
    result["summary"] = summarize(cells, a.seeds)
    atomic_write_json(Path(a.out), result)
    if not quiet:
        print(format_table(result))
    if figures and result["summary"]["rows"]:
        plot_quality(result, Path(a.plot))
        image_sheet(ctx, result, Path(a.sheet))
    return result


# -- main --------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="weights file (default: the installed "
                   "vintagify package's)")
    p.add_argument("--work", default=str(ROOT / "runs" / "real_generator"),
                   help="data, per-cell results, checkpoints (default runs/real_generator)")
    p.add_argument("--stage", choices=["all", "leveloff", "cells", "latency", "report"],
                   default="all", help="latency: measure it for cells stored without")
    p.add_argument("--device", default="cpu", help="where searches and fine-tuning run "
                   "(latency is always measured on the CPU)")
    p.add_argument("--no-latency", action="store_true", help="store cells without latency "
                   "(fill it later with --stage latency)")
    p.add_argument("--claims", default=None, help="a folder shared by parallel workers: each "
                   "cell is run by the first worker that claims it")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=None,
                   help="run only these methods' cells")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--image-size", type=int, default=None, help="fine-tuning crops (128)")
    p.add_argument("--large-size", type=int, default=None, help="second quality size and "
                   "latency (256)")
    p.add_argument("--search-size", type=int, default=None, help="search scoring size (64)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--teacher-pool", type=int, default=None, help="crops with the "
                   "original's outputs computed once (1024)")
    p.add_argument("--val-images", type=int, default=None, help="validation tiles (16)")
    p.add_argument("--read-every", type=int, default=None, help="steps between quality "
                   "readings and checkpoints (500)")
    p.add_argument("--leveloff-steps", type=int, default=None, help="longest level-off run "
                   "(24000)")
    p.add_argument("--level-db", type=float, default=0.1,
                   help="levelled when the validation PSNR gained less over the last "
                        "quarter (dB; means of the readings of each quarter)")
    p.add_argument("--steps", type=int, default=None,
                   help="fine-tuning length of the cells (default: the level-off result)")
    p.add_argument("--replace-stale", action="store_true",
                   help="recompute cells stored with other settings (old ones kept as "
                        "*.stale.json) instead of stopping")
    p.add_argument("--latency-repeats", type=int, default=None, help="(10)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--toy", action="store_true",
                   help="a random-weight small VintageGenerator, tiny images, a few steps")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "real_generator.json"))
    p.add_argument("--plot", default=str(ROOT / "docs" / "real_generator_quality.png"))
    p.add_argument("--sheet", default=str(ROOT / "docs" / "real_generator_sheet.png"))
    p.add_argument("--stop-after", type=int, default=None,
                   help="for tests: stop (exit 3) after N fine-tuning steps, as a kill would")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    real = {"image_size": 128, "large_size": 256, "search_size": 64, "teacher_pool": 1024,
            "val_images": 16, "read_every": 500, "leveloff_steps": 24000, "latency_repeats": 10}
    toy = {"image_size": 16, "large_size": 32, "search_size": 16, "teacher_pool": 8,
           "val_images": 2, "read_every": 4, "leveloff_steps": 40, "latency_repeats": 2}
    for k, v in (toy if a.toy else real).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    return a


def load_context(a: argparse.Namespace) -> Context:
    if a.toy:
        torch.manual_seed(0)
        teacher = VintageGenerator(ngf=8, n_blocks=2).eval()
        data = write_photo_folder(Path(a.work) / "data", tile_px=24, test_px=40)
    else:
        teacher = load_real_generator(a.weights)
        data = write_photo_folder(Path(a.work) / "data", tile_px=256)
    teacher = teacher.to(a.device)
    root = Path(a.work) / "data"
    train_files = readable_images(root / "trainA")[0]
    space = space_of(teacher, torch.zeros(1, 3, a.image_size, a.image_size, device=a.device))
    return Context(a, teacher, space, root, data, train_files)


ContextT = TypeVar("ContextT", bound=Context)


def load_as(cls: type[ContextT], a: argparse.Namespace, name: str) -> ContextT | None:
    """The context of ``a`` (torch at ``a.threads`` threads) as ``cls``, a subclass of
    :class:`Context` (another benchmark's); None, the reason printed as ``name: ...``, when
    the generator's weights are missing."""
    torch.set_num_threads(a.threads)
    try:
        base = load_context(a)
    except MissingWeights as error:
        print(f"{name}: {error}", file=sys.stderr)
        return None
    return cls(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        ctx = load_context(a)
    except MissingWeights as error:
        print(f"real_generator: {error}", file=sys.stderr)
        return 1
    leveloff = None
    try:
        if a.stage in ("all", "leveloff") or (a.stage == "cells" and a.steps is None):
            leveloff = run_cell(ctx, Cell("uniform_first", 8, a.seeds[0], leveloff=True),
                                a.leveloff_steps, a.stop_after)
            if not a.quiet:
                print(f"level-off: {leveloff['levelled_at']} steps "
                      f"({'skipped, done before' if leveloff['skipped'] else 'done'})")
            if not leveloff["skipped"]:
                report(ctx, a.steps or leveloff["levelled_at"] or leveloff["finetune_steps"],
                       leveloff, quiet=True, figures=False)
        elif (ctx.work / "cells" / "leveloff.json").is_file():
            leveloff = json.loads((ctx.work / "cells" / "leveloff.json").read_text())
        steps = a.steps or (leveloff and (leveloff["levelled_at"] or leveloff["finetune_steps"]))
        if a.stage == "latency":
            fill_latency(ctx)
        if a.stage in ("all", "cells"):
            for cell in plan(a.seeds):
                if a.methods is not None and cell.method not in a.methods:
                    continue
                c = run_cell(ctx, cell, steps, a.stop_after)
                if c.get("claimed_elsewhere"):
                    continue
                if not a.quiet:
                    state = "skipped, done before" if c["skipped"] else "done"
                    print(f"{cell.name}: {state}; {c['final']['psnr_large']:.2f} dB @ "
                          f"{a.large_size}, params ratio {c['params_ratio']:.4f}")
                if not c["skipped"] and a.claims is None:
                    report(ctx, steps, leveloff, quiet=True)
    except StopRun as stop:
        print(f"real_generator: {stop}", file=sys.stderr)
        return 3
    except CellMismatch as error:
        print(f"real_generator: {error}", file=sys.stderr)
        return 1
    report(ctx, steps, leveloff, a.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())

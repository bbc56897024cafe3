"""Does scoring candidates at 64 px rank masks as scoring them at the fine-tuning resolution
(128 px) does? On the real generator, one run, side by side.

The candidates are those the width search (``SearchConfig.widths``) looks at: the uniform
mask with random channels and ``--candidates`` masks with its counts moved by capacity moves
(:func:`initMaskCounts`, ``init_moves`` moves), all at one parameter budget. Each is scored
by the search's adapted fitness (distilled ``adapt_steps`` steps toward the original, then
L1 on held-out tiles) built from the same training tiles at each size. Reported: the
scores, Spearman's rank correlation between the sizes, whether the best mask at one size is
among the best three at the other, and the seconds per candidate at each size (one thread).

    python benchmarks/search_resolution.py                       # the installed weights
    python benchmarks/search_resolution.py --toy --sizes 16 32 --out /tmp/res.json
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from photo_folder import write_photo_folder
from vintage_generator import MissingWeights, VintageGenerator, load_real_generator

from deap_gan_prune.data import readable_images
from deap_gan_prune.evolution.fitnesses import make_fitnesses
from deap_gan_prune.evolution.search_config import SearchConfig
from deap_gan_prune.evolution.task import Task
from deap_gan_prune.evolution.uniform import uniform_individual
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.operators import initMaskCounts
from deap_gan_prune.streams import load_images

ROOT = Path(__file__).resolve().parents[1]


def candidates(space, config: SearchConfig, n: int, seed: int) -> list[list[int]]:
    """The width search's seed and ``n`` of its starting masks, drawn with ``seed``."""
    first = uniform_individual(space, config, list)
    counts = list(space.kept(first).values())
    state = random.getstate()
    random.seed(seed)
    try:
        return [first] + [initMaskCounts(list, space, counts, config.init_moves,
                                         config.move_fraction, config.budget_measures[0])
                          for _ in range(n)]
    finally:
        random.setstate(state)


def score_at(generator, files: list[Path], size: int, config: SearchConfig,
             masks: list[list[int]]) -> dict:
    """The adapted fitness of every mask at ``size`` px and the seconds each took."""
    n = config.n_images + config.adapt_images
    images = load_images(files[:n], size)
    space = space_of(generator, images)
    fitness = make_fitnesses(Task({"A": generator}, {"A": images}), config, {"A": space})["A"]
    fitness.reference()
    scores, seconds = [], []
    for bits in masks:
        start = time.perf_counter()
        scores.append(float(fitness(bits)[0]))
        seconds.append(time.perf_counter() - start)
    return {"size": size, "scores": scores, "seconds_per_candidate": statistics.median(seconds)}


def compare(low: dict, high: dict) -> dict:
    """Rank agreement of two sizes' scores (higher fitness is better)."""
    rho = spearmanr(low["scores"], high["scores"]).statistic
    best = {k: max(range(len(d["scores"])), key=d["scores"].__getitem__)
            for k, d in (("low", low), ("high", high))}

    def top3(d: dict) -> list[int]:
        return sorted(range(len(d["scores"])), key=lambda i: -d["scores"][i])[:3]
    return {"sizes": [low["size"], high["size"]], "spearman": float(rho),
            "best_low_in_top3_high": best["low"] in top3(high),
            "best_high_in_top3_low": best["high"] in top3(low),
            "same_best": best["low"] == best["high"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="weights file (default: the installed "
                   "vintagify package's)")
    p.add_argument("--work", default=str(ROOT / "runs" / "real_generator"),
                   help="the photo folder lives in WORK/data (default runs/real_generator)")
    p.add_argument("--sizes", type=int, nargs=2, default=[64, 128])
    p.add_argument("--budget", type=float, default=0.125)
    p.add_argument("--candidates", type=int, default=11, help="masks beside the seed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--toy", action="store_true", help="a random-weight small generator")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                        "search_resolution.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.toy:
        torch.manual_seed(0)
        generator = VintageGenerator(ngf=8, n_blocks=2).eval()
        write_photo_folder(Path(a.work) / "data", tile_px=24, test_px=40)
        extra = {"n_images": 2, "adapt_images": 2, "adapt_steps": 2, "batch_size": 2}
    else:
        try:
            generator = load_real_generator(a.weights)
        except MissingWeights as error:
            print(f"search_resolution: {error}", file=sys.stderr)
            return 1
        write_photo_folder(Path(a.work) / "data", tile_px=256)
        extra = {}
    files = readable_images(Path(a.work) / "data" / "trainA")[0]
    config = SearchConfig.widths(budget=a.budget, seed=a.seed, **extra)
    space = space_of(generator, torch.zeros(1, 3, a.sizes[0], a.sizes[0]))
    masks = candidates(space, config, a.candidates, a.seed)
    low, high = (score_at(generator, files, s, config, masks) for s in a.sizes)
    result = {"benchmark": "search_resolution", "toy": a.toy, "budget": a.budget,
              "config": config.to_dict(), "candidates": len(masks),
              "kept": [space.kept(m) for m in masks], "low": low, "high": high,
              "agreement": compare(low, high), "threads": 1}
    atomic_write_json(Path(a.out), result)
    ag = result["agreement"]
    print(f"{'size':>6}{'s/candidate':>13}  scores (seed first)")
    for d in (low, high):
        print(f"{d['size']:>6}{d['seconds_per_candidate']:>13.2f}  "
              + " ".join(f"{v:.3f}" for v in d["scores"]))
    print(f"Spearman {ag['spearman']:.3f}; same best: {ag['same_best']}; best at "
          f"{a.sizes[0]} px in the top 3 at {a.sizes[1]}: {ag['best_low_in_top3_high']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

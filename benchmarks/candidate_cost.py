"""The cost of scoring one candidate of the default ``--generator`` search on the real
generator, at 64, 128 and 256 px, on one CPU thread, side by side in one run.

The candidate's fitness is the default adapted fitness (``SearchConfig(budget=...)``: the
slim network distilled ``adapt_steps`` steps toward the original on ``adapt_images`` tiles,
then scored by L1 on ``n_images`` tiles), built as ``deap-gan-prune search --generator ...
--dataroot ... --budget`` builds it (:func:`make_fitnesses`). Reported per size: the one-off
cost (the original's outputs on the scoring and adaptation images) and the seconds per
candidate (median over ``--candidates`` distinct masks within the budget, after one untimed:
the uniform mask and random masks with its per-group counts), and what a default search
(population × (generations + 1) candidates) would cost at that size.

    python benchmarks/candidate_cost.py                 # the installed vintagify weights
    python benchmarks/candidate_cost.py --toy --sizes 16 32 --out /tmp/cost.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from photo_folder import write_photo_folder
from vintage_generator import MissingWeights, VintageGenerator, load_real_generator

from deap_gan_prune.core.baselines import random_mask_like, uniform_mask
from deap_gan_prune.data import readable_images
from deap_gan_prune.evolution.fitnesses import make_fitnesses
from deap_gan_prune.evolution.search_config import SearchConfig
from deap_gan_prune.evolution.task import Task
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.streams import load_images

ROOT = Path(__file__).resolve().parents[1]


def measure(generator, files: list[Path], size: int, config: SearchConfig,
            candidates: int) -> dict:
    """One-off and per-candidate seconds of the default fitness at ``size`` px."""
    n = config.n_images + config.adapt_images
    images = load_images(files[:n], size)
    space = space_of(generator, images)
    fitness = make_fitnesses(Task({"A": generator}, {"A": images}), config, {"A": space})["A"]
    start = time.perf_counter()
    fitness.reference()
    setup = time.perf_counter() - start
    base = uniform_mask(space, config.budget)
    fitness(random_mask_like(space, base, 10_000))  # warm-up, not timed
    masks = [base] + [random_mask_like(space, base, seed) for seed in range(candidates - 1)]
    times = []
    for bits in masks:
        start = time.perf_counter()
        fitness(bits)
        times.append(time.perf_counter() - start)
    per = statistics.median(times)
    evaluations = config.population * (config.generations + 1)
    return {"size": size, "setup_s": setup, "candidate_s": per, "candidate_runs_s": times,
            "search_estimate_s": setup + evaluations * per, "evaluations": evaluations}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None)
    p.add_argument("--work", default=str(ROOT / "runs" / "real_generator"),
                   help="where the photo folder is (written if missing)")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--budget", type=float, default=0.125)
    p.add_argument("--candidates", type=int, default=2)
    p.add_argument("--toy", action="store_true", help="random-weight small generator")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "candidate_cost.json"))
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        if a.toy:
            torch.manual_seed(0)
            generator = VintageGenerator(ngf=8, n_blocks=2).eval()
            write_photo_folder(Path(a.work) / "data", tile_px=24, test_px=40)
        else:
            generator = load_real_generator(a.weights)
            write_photo_folder(Path(a.work) / "data", tile_px=256)
    except MissingWeights as error:
        print(f"candidate_cost: {error}", file=sys.stderr)
        return 1
    files = readable_images(Path(a.work) / "data" / "trainA")[0]
    config = SearchConfig(budget=a.budget)
    if a.toy:
        config = SearchConfig(budget=a.budget, n_images=2, adapt_images=2, adapt_steps=2)
    rows = [measure(generator, files, size, config, a.candidates) for size in a.sizes]
    result = {"benchmark": "candidate_cost", "toy": a.toy, "threads": 1, "budget": a.budget,
              "config": config.to_dict(), "rows": rows}
    atomic_write_json(Path(a.out), result)
    if not a.quiet:
        print(f"Default --generator search, budget {a.budget}, one thread: "
              f"{config.adapt_steps} adaptation steps on {config.adapt_images} images, scored "
              f"on {config.n_images}; {rows[0]['evaluations']} candidates a search.\n")
        print(f"{'px':>5}{'setup s':>10}{'s/candidate':>13}{'search est. min':>17}")
        for r in rows:
            print(f"{r['size']:>5}{r['setup_s']:>10.2f}{r['candidate_s']:>13.2f}"
                  f"{r['search_estimate_s'] / 60:>17.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which selection finds better masks when fitness values lie close together?

The search's own loop (:func:`iterCoevolve`: elitism 1, then children by crossover 0.7,
mutation 0.1 or copy, every child repaired to the budget) runs on a surrogate fitness whose
values spread as narrowly as the real ones: on the shipped teacher the fitness of masks at one
budget differs by only about ±7 % inside a generation. Each channel c of the teacher's mask
space gets a hidden value w_c (log-normal, so a few channels matter much more than most); a
mask's quality is q = Σ kept w_c / Σ w_c and its fitness F = 1 / (1 + s·(1 − q)), with s
chosen so that random masks at the budget spread by about ±7 %. Every selection sees the same
starting populations, operators and seeds; the table gives the best quality q reached
(mean ± std over seeds) and how often each selection beats the paper's roulette, paired by
seed.

    python benchmarks/selection_pressure.py [--seeds 20] [--out result.json]

The search is pure Python (the mask space is traced once from the teacher's architecture):
about a minute.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from pathlib import Path

from deap import base

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.evolution.coevolution import iterCoevolve
from deap_gan_prune.evolution.registration import Operators, create_types, register
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator

SELECTIONS = {"roulette (paper)": {"select": "roulette"},
              "rank, pressure 1.5": {"select": "rank", "rank_pressure": 1.5},
              "rank, pressure 2": {"select": "rank", "rank_pressure": 2.0},
              "tournament 2": {"select": "tournament", "tournsize": 2},
              "tournament 3": {"select": "tournament", "tournsize": 3}}


class Surrogate:
    """``F = 1 / (1 + spread·(1 − q))``, q the kept share of the hidden channel values."""

    uses_partner = False

    def __init__(self, space: MaskSpace, seed: int, spread: float) -> None:
        rng = random.Random(seed)
        self.values = [math.exp(rng.gauss(0.0, 1.0)) for _ in range(space.n_bits)]
        self.total = sum(self.values)
        self.spread = spread

    def quality(self, bits) -> float:
        return sum(v for v, b in zip(self.values, bits) if b) / self.total

    def __call__(self, bits, partner=None) -> tuple[float]:  # noqa: ARG002 (passed by keyword)
        return (1.0 / (1.0 + self.spread * (1.0 - self.quality(bits))),)


def run_once(space: MaskSpace, select: dict, seed: int, args) -> float:
    """Best quality q of one search with one selection."""
    _, ind_cls = create_types()
    fitness = Surrogate(space, seed, args.spread)
    toolboxes = []
    for _ in range(2):
        tb = register(base.Toolbox(), space, ind_cls, Operators(**select), budget=args.budget)
        tb.register("evaluate", fitness)
        toolboxes.append(tb)
    random.seed(seed)
    populations = (toolboxes[0].population(n=args.population),
                   toolboxes[1].population(n=args.population))
    best = 0.0
    for state in iterCoevolve(populations, tuple(toolboxes), args.generations, cxpb=0.7,
                              mutpb=0.1, elitism=1):
        best = max(best, *(fitness.quality(ind) for pop in state.populations for ind in pop))
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--population", type=int, default=12)
    p.add_argument("--generations", type=int, default=8)
    p.add_argument("--budget", type=float, default=0.25)
    p.add_argument("--spread", type=float, default=1.0,
                   help="s in F = 1/(1 + s(1 - q)) (default 1: about ±7 %% at 4x)")
    p.add_argument("--quick", action="store_true", help="toy run: 3 seeds, 2 generations")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.generations, args.population = 3, 2, 6
    space = space_of(ResnetGenerator(ngf=16, n_blocks=6))   # the teacher's 544 bits
    probe = Surrogate(space, 0, args.spread)
    register_tb = register(base.Toolbox(), space, create_types()[1], budget=args.budget)
    random.seed(0)
    sample = [probe(register_tb.individual())[0] for _ in range(200)]
    spread = (max(sample) - min(sample)) / 2 / statistics.fmean(sample)
    results = {name: [run_once(space, sel, seed, args) for seed in range(args.seeds)]
               for name, sel in SELECTIONS.items()}
    paper = results["roulette (paper)"]
    table = {name: {"mean": statistics.fmean(v),
                    "std": statistics.stdev(v) if len(v) > 1 else 0.0,
                    "wins_vs_roulette": sum(a > b for a, b in zip(v, paper)),
                    "seeds": len(v)} for name, v in results.items()}
    print(f"surrogate fitness on {space.n_bits} bits at budget {args.budget}: random masks "
          f"spread ±{100 * spread:.1f} % around their mean; population {args.population}, "
          f"{args.generations} generations, {args.seeds} seeds")
    print(f"{'selection':<22}{'best quality q':>18}{'beats roulette':>16}")
    for name, row in table.items():
        print(f"{name:<22}{row['mean']:>11.4f} ± {row['std']:.4f}"
              f"{row['wins_vs_roulette']:>10}/{row['seeds']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"config": {k: (str(v) if isinstance(v, Path) else v)
                                                   for k, v in vars(args).items()},
                                        "random_spread": spread, "results": results,
                                        "table": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

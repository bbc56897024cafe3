"""A custom GA pipeline from our pieces and DEAP's own: one generator scored by the adapted
fitness (10 distillation steps per candidate), tournament selection, our group-boundary
crossover and bit-flip mutation under a 4x size budget, DEAP's ``eaMuPlusLambda``; the
fitness curve is plotted.

    python examples/custom_pipeline.py [--generations 15] [--out runs/custom]

Everything below is plain DEAP: swap any registered piece for your own.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch
from deap import algorithms, base, tools

import deap_gan_prune as dgp
from deap_gan_prune.fitness import Adaptation
from deap_gan_prune.synthetic import SyntheticHorseZebra
from deap_gan_prune.teacher import load_teacher


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generations", type=int, default=15)
    p.add_argument("--mu", type=int, default=12, help="parents kept each generation")
    p.add_argument("--lambda", dest="lambda_", type=int, default=24, help="children each "
                                                                           "generation")
    p.add_argument("--budget", type=float, default=0.25,
                   help="size ratio to meet in parameters and MACs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/custom")
    args = p.parse_args(argv)
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    # The horse→zebra generator of the shipped teacher and 40 horses: candidates are distilled
    # on 24 of them and scored on the 16 others. No partner generator, no cycle term.
    gan = load_teacher()
    horses = SyntheticHorseZebra(n=40, size=64, seed=args.seed).images("A")
    space = dgp.space_of(gan.g_a, horses)
    fitness = dgp.AdaptedFitness(gan.g_a, space, horses[:16],
                                 adaptation=Adaptation(horses[16:], steps=10, seed=args.seed))

    # DEAP types and toolbox, registered by hand (dgp.register does the same in one call).
    _, Individual = dgp.create_types("FitnessCustom", "CustomMask")
    toolbox = base.Toolbox()
    toolbox.register("individual", dgp.initMaskBernoulli, Individual, space, p_keep=0.5)
    toolbox.register("mate", dgp.cxGroupBoundary, space=space)
    toolbox.register("mutate", dgp.mutFlipMask, space=space, indpb=2.0 / space.n_bits)
    # Random-order trimming to the budget in both measures (pass scores= for L1 order).
    repair = dgp.BudgetRepair(space, args.budget, measure=("parameters", "macs"))
    for slot in ("individual", "mate", "mutate"):
        toolbox.decorate(slot, repair)
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("select", tools.selTournament, tournsize=3)   # DEAP's own selection
    toolbox.register("evaluate", fitness)

    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    for name, func in (("max", np.max), ("avg", np.mean), ("min", np.min)):
        stats.register(name, func)
    hof = tools.HallOfFame(1)
    population = toolbox.population(n=args.mu)
    population, logbook = algorithms.eaMuPlusLambda(
        population, toolbox, mu=args.mu, lambda_=args.lambda_, cxpb=0.6, mutpb=0.3,
        ngen=args.generations, stats=stats, halloffame=hof, verbose=True)

    best = hof[0]
    terms = fitness.terms(best)
    small = dgp.slim(gan.g_a, best, space)
    out = Path(args.out)
    dgp.plot_fitness(logbook, out / "custom_fitness.png",
                     title="one generator, tournament + group crossover, (mu + lambda)")
    dgp.save_generator(small, out / "custom_G_A.pth")
    print(f"best: fitness {terms['fitness']:.4f}, L1 to the original {terms['score']:.4g}, "
          f"{dgp.count_module_parameters(small):,} of "
          f"{dgp.count_module_parameters(gan.g_a):,} parameters ({terms['size_ratio']:.3f}); "
          f"wrote {out}/custom_fitness.png and custom_G_A.pth")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

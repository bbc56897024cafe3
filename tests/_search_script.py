"""A tiny checkpointed co-evolution run as its own process (tests kill it and resume it).

    python _search_script.py CHECKPOINT OUT [--resume] [--delay SECONDS] [--generations N]

Writes OUT (JSON: final populations, best pair, logbook records, resumed_from) at the end.
``--delay`` sleeps before each evaluation (it slows the run, it does not change it).
With ``SEARCH_SCRIPT_KILL=POINT:N`` in the environment the process kills itself (SIGKILL)
inside the N-th checkpoint write (generation N of a fresh run); POINT is ``write`` (the
temporary file half-written), ``before-rename`` (written, not yet moved into place) or
``after-rename`` (just moved into place).
"""
import argparse
import functools
import json
import os
import random
import signal
import sys
import time

import numpy as np
import torch
from deap import base, tools

import deap_gan_prune.evolution.resume as resume_module
from deap_gan_prune.evolution.logbooks import logbook_records
from deap_gan_prune.evolution.registration import Operators, create_types, register
from deap_gan_prune.evolution.resume import models_hash, read_checkpoint, run_with_checkpoints
from deap_gan_prune.fitness.base import Partner
from deap_gan_prune.fitness.paper import GeneratorFitness
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator

KILL_ENV = "SEARCH_SCRIPT_KILL"
KILL_POINTS = ("write", "before-rename", "after-rename")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm_kill_point(spec: str) -> None:
    """Make this process SIGKILL itself at ``POINT:N`` (see the module docstring)."""
    point, _, number = spec.partition(":")
    if point not in KILL_POINTS or not number.isdigit():
        raise SystemExit(f"{KILL_ENV}={spec!r}: expected POINT:N with POINT in {KILL_POINTS}")
    target, writes = int(number), []
    real_atomic_write, real_replace = resume_module.atomic_write, os.replace

    def atomic_write(path, write):
        writes.append(path)

        def write_then_maybe_die(tmp):
            write(tmp)
            if point == "write" and len(writes) - 1 == target:
                os.truncate(tmp, os.path.getsize(tmp) // 2)
                _die()
        real_atomic_write(path, write_then_maybe_die)

    def replace(src, dst):
        armed = len(writes) - 1 == target and os.fspath(dst) == os.fspath(writes[-1])
        if armed and point == "before-rename":
            _die()
        real_replace(src, dst)
        if armed and point == "after-rename":
            _die()

    resume_module.atomic_write = atomic_write
    os.replace = replace


def tiny_cyclegan():
    """Random tiny generators and discriminators, and 32x32 images, from torch seed 0."""
    torch.manual_seed(0)
    nets = (ResnetGenerator(ngf=4, n_blocks=2), ResnetGenerator(ngf=4, n_blocks=2),
            NLayerDiscriminator(ndf=4), NLayerDiscriminator(ndf=4))
    images = (torch.rand(3, 3, 32, 32) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1)
    return nets, images


def paper_fitnesses(nets, images, weight=10.0):
    """The paper's fitness of G_A (judged by D_A, G_B as cycle partner with λ = ``weight``)
    and of G_B (likewise)."""
    (g_a, g_b, d_a, d_b), (x_a, x_b) = nets, images
    space_a, space_b = space_of(g_a, x_a), space_of(g_b, x_b)
    return (GeneratorFitness(g_a, space_a, x_a, discriminator=d_a,
                             partner=Partner(g_b, space_b, weight)),
            GeneratorFitness(g_b, space_b, x_b, discriminator=d_b,
                             partner=Partner(g_a, space_a, weight)))


class DyingFitness:
    """Wraps a fitness; in any process but the one that made it, the ``die_at``-th call kills
    that process (``os._exit``), as a crashed evaluation worker."""

    def __init__(self, inner, die_at: int) -> None:
        self.inner, self.die_at, self.home, self.calls = inner, die_at, os.getpid(), 0
        self.space, self.terms = inner.space, inner.terms

    def __call__(self, individual, partner=None):
        self.calls += 1
        if os.getpid() != self.home and self.calls >= self.die_at:
            os._exit(3)
        return self.inner(individual, partner)


def statistics():
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("max", np.max)
    stats.register("avg", np.mean)
    return stats


def slow_map(func, iterable, delay):
    out = []
    for item in iterable:
        time.sleep(delay)
        out.append(func(item))
    return out


def toolboxes(fitnesses, delay=0.0, map_function=None):
    _, individual = create_types()
    boxes = []
    for fit in fitnesses:
        tb = base.Toolbox()
        register(tb, fit.space, individual, Operators(mate="group_boundary"))
        tb.register("evaluate", fit)
        tb.register("terms", fit.terms)
        if map_function is not None:
            tb.register("map", map_function)
        elif delay:
            tb.register("map", functools.partial(slow_map, delay=delay))
        boxes.append(tb)
    return boxes


def run(checkpoint, *, resume=False, delay=0.0, generations=6, callback=None,
        map_function=None) -> dict:
    """Run (or resume) the tiny search with a checkpoint after every generation; returns the
    final populations, their fitness, the best pair and the logbook records."""
    nets, images = tiny_cyclegan()
    fitnesses = paper_fitnesses(nets, images, weight=1.0)
    random.seed(3)
    np.random.seed(3)
    boxes = toolboxes(fitnesses, delay, map_function)
    populations = (boxes[0].population(n=6), boxes[1].population(n=6))
    config = {"population": 6, "generations": generations, "seed": 3}
    resumed_from = None
    if resume:
        try:
            resumed_from = read_checkpoint(checkpoint)["generation"]
        except ValueError:
            resumed_from = None
    pops, logbook, best = run_with_checkpoints(
        populations, boxes, generations, path=checkpoint, config=config,
        models_hash=models_hash(*nets), resume=resume,
        stats=(statistics(), statistics()), callback=callback)
    return {"populations": [[list(i) for i in pop] for pop in pops],
            "fitness": [[list(i.fitness.values) for i in pop] for pop in pops],
            "best": [list(b) for b in best], "logbook": logbook_records(logbook),
            "resumed_from": resumed_from}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--generations", type=int, default=6)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if os.environ.get(KILL_ENV):
        arm_kill_point(os.environ[KILL_ENV])
    result = run(args.checkpoint, resume=args.resume, delay=args.delay,
                 generations=args.generations)
    with open(args.out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

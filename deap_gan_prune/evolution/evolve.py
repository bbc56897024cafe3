"""Evolution of one population, in DEAP's algorithms style: the generation step that the
co-evolution runs per species (:func:`breed`, :func:`evaluate_invalid`) and the loop of one
species alone (:func:`iterEvolve`, :func:`eaEvolve`).

A toolbox registers ``evaluate``, ``select``, ``mate``, ``mutate``, ``clone`` and ``map``
(``terms`` optional: the best's fitness terms are then logged as ``best_*``). Every evaluation
goes through ``toolbox.map`` with one iterable, so a process pool or Ray plugs in there.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from deap import algorithms, base, tools


@dataclass
class EvolutionState:
    """Where the evolution of one population stands after generation ``gen`` (what a
    checkpoint must hold)."""

    gen: int
    population: list
    halloffame: tools.HallOfFame
    logbook: tools.Logbook
    nevals: int = 0


def evaluate_invalid(population: list, toolbox: base.Toolbox, partner: Any = None,
                     rescore: bool = False) -> int:
    """Evaluate the individuals with no valid fitness (all of them when ``rescore``) through
    ``toolbox.map``, as ``toolbox.evaluate(ind, partner=partner)``; returns how many."""
    if rescore:
        for ind in population:
            del ind.fitness.values
    invalid = [ind for ind in population if not ind.fitness.valid]
    evaluate = functools.partial(toolbox.evaluate, partner=partner)
    for ind, fit in zip(invalid, toolbox.map(evaluate, invalid)):
        ind.fitness.values = fit
    return len(invalid)


def breed(population: list, toolbox: base.Toolbox, cxpb: float, mutpb: float,
          elitism: int) -> list:
    """The next generation: ``toolbox.select`` parents (roulette in the paper), then each
    child is a crossover child (cxpb), a mutant (mutpb) or a copy (the rest); the ``elitism``
    best are carried unchanged."""
    n = len(population)
    elite = [toolbox.clone(ind) for ind in tools.selBest(population, elitism)]
    parents = toolbox.select(population, n)
    children = algorithms.varOr(parents, toolbox, n - len(elite), cxpb, mutpb)
    return elite + children


def iterEvolve(population: list | EvolutionState, toolbox: base.Toolbox, ngen: int, *,
               cxpb: float = 0.7, mutpb: float = 0.1, elitism: int = 1,
               stats: tools.Statistics | None = None,
               halloffame: tools.HallOfFame | None = None) -> Iterator[EvolutionState]:
    """Yield the state after every generation, from 0 to ``ngen``; stop iterating to stop
    early. ``population``: the starting population, or a saved :class:`EvolutionState` to
    resume from (its hall of fame kept; the random state is the caller's). Each generation
    after the first is :func:`breed` then :func:`evaluate_invalid`; the logbook records
    ``gen``, ``nevals``, the statistics and the hall of fame's best ``best_*`` terms.
    """
    if isinstance(population, EvolutionState):
        state = population
    else:
        logbook = tools.Logbook()
        logbook.header = ["gen", "nevals", "max", "avg", "min"]
        state = EvolutionState(-1, population, tools.HallOfFame(1) if halloffame is None
                               else halloffame, logbook)
    for gen in range(state.gen + 1, ngen + 1):
        pop = state.population
        if gen > 0:
            pop = breed(pop, toolbox, cxpb, mutpb, elitism)
        nevals = evaluate_invalid(pop, toolbox)
        hof = state.halloffame
        hof.update(pop)
        terms = toolbox.terms(hof[0]).items() if hasattr(toolbox, "terms") else ()
        state.logbook.record(gen=gen, nevals=nevals,
                             **(stats.compile(pop) if stats is not None else {}),
                             **{f"best_{k}": float(v) for k, v in terms})
        state = EvolutionState(gen, pop, hof, state.logbook, nevals)
        yield state


def eaEvolve(population: list, toolbox: base.Toolbox, ngen: int, *,
             callback: Callable[[EvolutionState], bool | None] | None = None,
             verbose: bool = False, **options: Any) -> tuple[list, tools.Logbook]:
    """Evolve one mask population for ``ngen`` generations (:func:`iterEvolve`, with
    ``options``: cxpb, mutpb, elitism, stats, halloffame); ``callback(state)`` after every
    generation, True stops. Returns ``(population, logbook)``, as DEAP's ``eaSimple``."""
    state = None
    for state in iterEvolve(population, toolbox, ngen, **options):
        if verbose:
            print(state.logbook.stream)
        if callback is not None and callback(state):
            break
    assert state is not None  # generation 0 is always yielded
    return state.population, state.logbook

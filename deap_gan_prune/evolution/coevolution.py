"""Cooperative co-evolution of the two generators' masks, in DEAP's algorithms style.

Two populations (species), one per generator, each with its own toolbox (``evaluate``,
``select``, ``mate``, ``mutate``, ``clone``, ``map``; ``terms`` optional). A population is
scored with the other's best individual as cycle partner: ``toolbox.evaluate(ind, partner)``.
Every evaluation goes through ``toolbox.map`` with ONE iterable (the partner is bound with
``functools.partial``), so a process pool, Ray or Dask plugs in there.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from deap import base, tools

from .evolve import breed, evaluate_invalid

Schedule = Literal["latest", "previous"]

#: Pairs kept by a co-evolution's hall of fame (``state.halloffame``).
HALL_OF_FAME_SIZE = 5


@dataclass
class CoevolutionState:
    """Where a co-evolution stands after generation ``gen`` (what a checkpoint must hold)."""

    gen: int
    populations: tuple[list, ...]
    best: tuple[object, object]
    logbook: tools.Logbook
    nevals: tuple[int, ...] = (0, 0)
    halloffame: PairHallOfFame | None = None
    extra: dict = field(default_factory=dict)
    #: per-population archives (``tools.ParetoFront``) of a multi-objective search, or None
    archives: tuple[tools.ParetoFront, tools.ParetoFront] | None = None


class PairHallOfFame:
    """The best distinct (A, B) pairs seen, ranked by their joint score: A's weighted fitness
    with B as partner plus B's with A as partner (:func:`pair_score`), so every pair is scored
    on the same terms, generation 0 included. A pair already held is not added again."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.items: list[tuple[Any, Any, int, float]] = []

    def update(self, ind_a: Any, ind_b: Any, gen: int, score: float,
               clone: Callable[[Any], Any] | None = None) -> None:
        """Offer the pair ``(ind_a, ind_b)`` found at generation ``gen`` with joint ``score``
        (higher is better); copies are kept (``clone``)."""
        if any(list(a) == list(ind_a) and list(b) == list(ind_b) for a, b, _, _ in self.items):
            return
        clone = clone or (lambda ind: ind)
        self.items.append((clone(ind_a), clone(ind_b), gen, float(score)))
        self.items.sort(key=lambda item: -item[3])  # stable: earlier pairs win ties
        del self.items[self.maxsize:]

    def __getitem__(self, i: int) -> tuple[Any, Any, int, float]:
        return self.items[i]

    def __len__(self) -> int:
        return len(self.items)


def pair_score(toolboxes: tuple[base.Toolbox, base.Toolbox], ind_a: Any, ind_b: Any) -> float:
    """A's weighted fitness with ``ind_b`` as partner plus B's with ``ind_a`` as partner.

    When a toolbox's ``evaluate`` says it ignores the partner (``uses_partner`` False, as the
    adapted fitness without cycle term) the individual's own fitness is used; otherwise the
    individual is scored again with that partner, through ``toolbox.map``."""
    total = 0.0
    for toolbox, ind, partner in ((toolboxes[0], ind_a, ind_b), (toolboxes[1], ind_b, ind_a)):
        if ind.fitness.valid and not getattr(toolbox.evaluate, "uses_partner", True):
            values = ind.fitness.values
        else:
            evaluate = functools.partial(toolbox.evaluate, partner=partner)
            (values,) = toolbox.map(evaluate, [ind])
        total += sum(w * v for w, v in zip(ind.fitness.weights, values))
    return total


def _record(logbook: tools.Logbook, gen: int, nevals: tuple[int, int],
            populations: Sequence[list], best: Sequence[Any], partners: Sequence[Any],
            toolboxes: Sequence[base.Toolbox], stats: Sequence[tools.Statistics | None]) -> None:
    chapters = {}
    for name, pop, ind, partner, toolbox, st, n in zip("AB", populations, best, partners,
                                                        toolboxes, stats, nevals):
        record = st.compile(pop) if st is not None else {}
        record["nevals"] = n
        if hasattr(toolbox, "terms"):
            record.update({f"best_{k}": float(v) for k, v in
                           toolbox.terms(ind, partner=partner).items()})
        chapters[name] = record
    logbook.record(gen=gen, **chapters)


def iterCoevolve(populations: tuple[list, list] | CoevolutionState,
                 toolboxes: tuple[base.Toolbox, base.Toolbox], ngen: int, *,
                 cxpb: float = 0.7, mutpb: float = 0.1, elitism: int = 1,
                 schedule: Schedule = "latest", stats: tuple | None = None
                 ) -> Iterator[CoevolutionState]:
    """Yield the state after every generation, from 0 to ``ngen``; stop iterating to stop
    early. ``populations``: the two starting populations, or a saved
    :class:`CoevolutionState` to resume from (the random state is the caller's).

    Generation 0 scores A's population without a cycle term, then B's. Each later generation
    breeds and scores A against B's best, then B against A's best: the one just found
    (``schedule="latest"``, Gauss–Seidel, as the paper) or the previous generation's
    (``"previous"``, Jacobi). When a partner changes, the whole population is re-scored (its
    fitness depends on the partner), the carried elite included. ``state.halloffame`` keeps
    the :data:`HALL_OF_FAME_SIZE` best pairs seen (:class:`PairHallOfFame`).
    """
    stats = stats or (None, None)
    if not isinstance(populations, CoevolutionState):
        halloffame = PairHallOfFame(HALL_OF_FAME_SIZE)
        logbook = tools.Logbook()
        logbook.header = ["gen", "A", "B"]
        nevals = (evaluate_invalid(populations[0], toolboxes[0]),
                  evaluate_invalid(populations[1], toolboxes[1]))
        best = (tools.selBest(populations[0], 1)[0], tools.selBest(populations[1], 1)[0])
        _record(logbook, 0, nevals, populations, best, (None, None), toolboxes, stats)
        halloffame.update(*best, 0, pair_score(toolboxes, *best), toolboxes[0].clone)
        state = CoevolutionState(0, tuple(populations), best, logbook, nevals, halloffame)
        yield state
    else:
        state = populations
    for gen in range(state.gen + 1, ngen + 1):
        pop_a, pop_b = state.populations
        best_a, best_b = state.best
        pop_a = breed(pop_a, toolboxes[0], cxpb, mutpb, elitism)
        n_a = evaluate_invalid(pop_a, toolboxes[0], best_b, rescore=True)
        new_a = tools.selBest(pop_a, 1)[0]
        partner_b = new_a if schedule == "latest" else best_a
        pop_b = breed(pop_b, toolboxes[1], cxpb, mutpb, elitism)
        n_b = evaluate_invalid(pop_b, toolboxes[1], partner_b, rescore=True)
        new_b = tools.selBest(pop_b, 1)[0]
        _record(state.logbook, gen, (n_a, n_b), (pop_a, pop_b), (new_a, new_b),
                (best_b, partner_b), toolboxes, stats)
        if state.halloffame is not None:  # None: a front search's state
            state.halloffame.update(new_a, new_b, gen, pair_score(toolboxes, new_a, new_b),
                                    toolboxes[0].clone)
        state = CoevolutionState(gen, (pop_a, pop_b), (new_a, new_b), state.logbook,
                                 (n_a, n_b), state.halloffame, state.extra)
        yield state


def eaCoevolve(populations: tuple[list, list], toolboxes: tuple[base.Toolbox, base.Toolbox],
               ngen: int, *, callback: Callable[[CoevolutionState], bool | None] | None = None,
               verbose: bool = False, **options: Any
               ) -> tuple[tuple[list, ...], tools.Logbook, tuple[object, object]]:
    """Co-evolve two mask populations for ``ngen`` generations (:func:`iterCoevolve`, with
    ``options``: cxpb, mutpb, elitism, schedule, stats).

    ``callback(state)`` runs after every generation; returning True stops early.
    Returns ``(populations, logbook, best_pair)``; the logbook has chapters ``"A"`` and
    ``"B"`` (statistics of each population, ``nevals`` and the best's fitness terms as
    ``best_*`` when the toolbox registers ``terms``).
    """
    state = None
    for state in iterCoevolve(populations, toolboxes, ngen, **options):
        if verbose:
            print(state.logbook.stream)
        if callback is not None and callback(state):
            break
    assert state is not None  # generation 0 is always yielded
    return state.populations, state.logbook, state.best

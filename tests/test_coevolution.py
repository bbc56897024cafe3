"""Co-evolution of both generators on a tiny CycleGAN: improves, reproducible, logged, plotted."""
import random

import numpy as np
import pytest
import torch
from deap import base, tools

from deap_gan_prune.evolution.coevolution import HALL_OF_FAME_SIZE, eaCoevolve, iterCoevolve
from deap_gan_prune.evolution.registration import Operators, create_types, register
from deap_gan_prune.fitness.base import Partner, Scoring
from deap_gan_prune.fitness.paper import GeneratorFitness
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.plotting import plot_fitness


@pytest.fixture(scope="module")
def fitnesses():
    torch.manual_seed(0)
    g_a, g_b = ResnetGenerator(ngf=4, n_blocks=2), ResnetGenerator(ngf=4, n_blocks=2)
    d_a, d_b = NLayerDiscriminator(ndf=4), NLayerDiscriminator(ndf=4)
    x_a, x_b = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    space_a, space_b = space_of(g_a, x_a), space_of(g_b, x_b)
    scoring = Scoring(gamma=1.0)
    return (GeneratorFitness(g_a, space_a, x_a, scoring, discriminator=d_a,
                             partner=Partner(g_b, space_b, 1.0)),
            GeneratorFitness(g_b, space_b, x_b, scoring, discriminator=d_b,
                             partner=Partner(g_a, space_a, 1.0)))


def _toolboxes(fitnesses):
    _, individual = create_types()
    boxes = []
    for fit in fitnesses:
        tb = base.Toolbox()
        register(tb, fit.space, individual, Operators(mate="group_boundary"))
        tb.register("evaluate", fit)
        tb.register("terms", fit.terms)
        boxes.append(tb)
    return boxes


def _stats():
    st = tools.Statistics(lambda ind: ind.fitness.values[0])
    st.register("max", np.max)
    st.register("avg", np.mean)
    return st


def _run(fitnesses, seed, ngen=5, **kw):
    random.seed(seed)
    boxes = _toolboxes(fitnesses)
    pops = (boxes[0].population(n=8), boxes[1].population(n=8))
    states = []
    result = eaCoevolve(pops, boxes, ngen, stats=(_stats(), _stats()), callback=states.append,
                        **kw)
    return result, states[-1].halloffame


def test_coevolution_improves_and_is_reproducible(fitnesses, tmp_path):
    (pops, logbook, best), hof = _run(fitnesses, seed=1)
    again, _ = _run(fitnesses, seed=1)
    assert [list(i) for i in pops[0]] == [list(i) for i in again[0][0]]
    assert logbook.chapters["A"].select("max") == again[1].chapters["A"].select("max")
    assert [list(b) for b in best] == [list(b) for b in again[2]]
    # generation 0 has no cycle term; from then on the best is scored with its partner
    first_a = logbook.chapters["A"][0]
    assert first_a["best_l_cyc"] == 0.0
    assert logbook.chapters["A"][1]["best_l_cyc"] > 0
    for name in "AB":
        assert logbook.chapters[name].select("best_size_ratio")[-1] < 1.0
    assert len(logbook) == 6
    assert 3 <= len(hof) <= HALL_OF_FAME_SIZE  # distinct best pairs of the 6 generations
    png = plot_fitness(logbook, tmp_path / "fitness.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5000


def _joint(fitnesses, a, b):
    """Fitness of a pair, each scored with the other as its cycle partner."""
    return fitnesses[0](a, partner=b)[0] + fitnesses[1](b, partner=a)[0]


@pytest.mark.parametrize("seed", [1, 2])
def test_best_pair_improves_over_generations(fitnesses, seed):
    random.seed(seed)
    boxes = _toolboxes(fitnesses)
    pops = (boxes[0].population(n=8), boxes[1].population(n=8))
    pairs = [tuple(boxes[0].clone(b) for b in state.best)
             for state in iterCoevolve(pops, boxes, 6)]
    assert _joint(fitnesses, *pairs[-1]) > _joint(fitnesses, *pairs[1])


def test_every_evaluation_goes_through_one_iterable_map(fitnesses):
    calls = []

    def recording_map(func, iterable):
        items = list(iterable)
        calls.append(len(items))
        return list(map(func, items))

    random.seed(2)
    boxes = _toolboxes(fitnesses)
    for tb in boxes:
        tb.register("map", recording_map)
    pops = (boxes[0].population(n=6), boxes[1].population(n=6))
    _, logbook, _ = eaCoevolve(pops, boxes, 2)
    # partner changes -> every individual rescored; then the hall of fame scores the
    # generation's best pair jointly (A's best with B's as partner, and B's with A's)
    assert calls == [6, 6, 1, 1] * 3
    assert logbook.chapters["A"].select("nevals") == [6, 6, 6]


def test_early_stopping_and_iterator_form(fitnesses):
    random.seed(3)
    boxes = _toolboxes(fitnesses)
    pops = (boxes[0].population(n=4), boxes[1].population(n=4))
    _, logbook, _ = eaCoevolve(pops, boxes, 10, callback=lambda s: s.gen >= 2)
    assert logbook.select("gen") == [0, 1, 2]
    random.seed(3)
    pops = (boxes[0].population(n=4), boxes[1].population(n=4))
    states = iterCoevolve(pops, boxes, 10, schedule="previous")
    gens = [next(states).gen for _ in range(3)]
    assert gens == [0, 1, 2]


def test_plot_of_a_plain_logbook(tmp_path):
    logbook = tools.Logbook()
    for g in range(4):
        logbook.record(gen=g, max=g + 1.0, avg=g * 0.5)
    assert plot_fitness(logbook, tmp_path / "p.png").exists()


def test_plot_samples_writes_a_grid(tmp_path):
    from deap_gan_prune.plotting import plot_samples
    rows = {"input": torch.rand(3, 3, 16, 16) * 2 - 1, "output": torch.zeros(3, 3, 16, 16)}
    path = plot_samples(rows, tmp_path / "samples.png", columns=3)
    assert path.read_bytes()[:4] == b"\x89PNG"

"""One population's evolution (iterEvolve / eaEvolve) and the skeleton the searches share."""
import importlib
import random

import pytest
from deap import base, creator, tools

import deap_gan_prune.evolution.front as front
from deap_gan_prune.evolution import skeleton
from deap_gan_prune.evolution.evolve import breed, eaEvolve, evaluate_invalid, iterEvolve
from deap_gan_prune.runoptions import RunOptions

if not hasattr(creator, "FitnessOneMaxTest"):
    creator.create("FitnessOneMaxTest", base.Fitness, weights=(1.0,))
    creator.create("OneMaxTest", list, fitness=creator.FitnessOneMaxTest)


def _toolbox(calls=None):
    toolbox = base.Toolbox()
    toolbox.register("bit", random.randint, 0, 1)
    toolbox.register("individual", tools.initRepeat, creator.OneMaxTest, toolbox.bit, 24)
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)

    def evaluate(ind, partner=None):
        if calls is not None:
            calls.append(partner)
        return (float(sum(ind)),)
    toolbox.register("evaluate", evaluate)
    toolbox.register("mate", tools.cxTwoPoint)
    toolbox.register("mutate", tools.mutFlipBit, indpb=0.05)
    toolbox.register("select", tools.selTournament, tournsize=3)
    toolbox.register("terms", lambda ind: {"fitness": sum(ind), "ones": sum(ind)})
    return toolbox


def test_ea_evolve_improves_one_max_and_logs_every_generation():
    random.seed(0)
    toolbox = _toolbox()
    population = toolbox.population(n=20)
    hof = tools.HallOfFame(3)
    stats = skeleton.fitness_statistics()
    final, logbook = eaEvolve(population, toolbox, 15, cxpb=0.6, mutpb=0.3, stats=stats,
                              halloffame=hof)
    assert [r["gen"] for r in logbook] == list(range(16))
    assert logbook[-1]["max"] > logbook[0]["max"]
    assert len(hof) == 3
    assert logbook[-1]["best_ones"] == hof[0].fitness.values[0] == max(logbook.select("max"))
    assert len(final) == 20


def test_iter_evolve_resumes_from_a_state_to_the_same_end():
    def run(stop=None):
        random.seed(1)
        toolbox = _toolbox()
        states = iterEvolve(toolbox.population(n=10), toolbox, 6,
                            halloffame=tools.HallOfFame(2), stats=skeleton.fitness_statistics())
        for state in states:
            if state.gen == stop:
                return state, random.getstate()
        return state, None
    full, _ = run()
    cut, rng = run(stop=2)
    random.setstate(rng)
    toolbox = _toolbox()
    state = list(iterEvolve(cut, toolbox, 6, stats=skeleton.fitness_statistics()))[-1]
    assert state.gen == 6
    assert [list(i) for i in state.population] == \
        [list(i) for i in full.population]
    assert list(state.logbook) == list(full.logbook)


def test_breed_keeps_the_elite_and_evaluate_invalid_scores_only_new_ones():
    random.seed(2)
    calls = []
    toolbox = _toolbox(calls)
    population = toolbox.population(n=8)
    assert evaluate_invalid(population, toolbox) == 8
    assert len(calls) == 8
    best = tools.selBest(population, 1)[0]
    children = breed(population, toolbox, cxpb=0.5, mutpb=0.5, elitism=1)
    assert list(children[0]) == list(best)
    assert children[0].fitness.valid
    n = evaluate_invalid(children, toolbox, partner="P")
    assert n == sum(1 for c in calls[8:])
    assert all(p == "P" for p in calls[8:])
    assert evaluate_invalid(children, toolbox, rescore=True) == 8


def test_the_searches_run_on_the_one_skeleton():
    # the module, not the function ``evolution.search`` that shadows its name
    search = importlib.import_module("deap_gan_prune.evolution.search")
    for module in (search, front):
        assert module.evolve is skeleton.evolve
        assert module.attach_pool is skeleton.attach_pool
        assert module.identity is skeleton.identity


def test_contradicting_options_are_refused():
    with pytest.raises(ValueError, match="not both"):
        skeleton.check_options(RunOptions(map_function=map, workers=2))
    with pytest.raises(ValueError, match="checkpoint"):
        skeleton.check_options(RunOptions(resume=True))
    skeleton.check_options(RunOptions(workers=2))
    assert skeleton.identity(None, {}, [], []) is None

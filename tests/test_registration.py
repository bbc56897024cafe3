"""create_types / register, and our operators inside DEAP's own algorithms."""
import random
import uuid
import warnings

import pytest
from deap import algorithms, base, creator, tools
from resnet_oracle import resnet_space

from deap_gan_prune import GeneratorWidths
from deap_gan_prune.evolution.registration import Operators, create_types, register
from deap_gan_prune.operators import cxTwoPointMask, initMaskBernoulli, mutSegmentInvert

SPACE = resnet_space(GeneratorWidths.default(ngf=4, n_blocks=2))       # 72 bits


@pytest.fixture
def names():
    """Fresh creator names, removed afterwards."""
    made = [f"T{uuid.uuid4().hex[:8]}{what}" for what in ("Fit", "Ind")]
    yield made
    for name in made:
        if hasattr(creator, name):
            delattr(creator, name)


def test_create_types_creates_then_reuses_silently(names):
    fit, ind = create_types(*names, weights=(-1.0,))
    assert fit is getattr(creator, names[0])
    assert ind is getattr(creator, names[1])
    assert fit.weights == (-1.0,)
    assert issubclass(ind, list)
    assert isinstance(ind([1, 0]).fitness, fit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert create_types(*names, weights=(-1,)) == (fit, ind)


def test_create_types_refuses_to_clobber(names):
    creator.create(names[0], base.Fitness, weights=(1.0,))
    with pytest.raises(ValueError, match=names[0]):
        create_types(*names, weights=(-1.0,))
    creator.create(names[1], set, fitness=getattr(creator, names[0]))
    with pytest.raises(ValueError, match=names[1]):
        create_types(*names, weights=(1.0,))
    assert issubclass(getattr(creator, names[1]), set)                  # not replaced


def test_create_types_refuses_individual_with_other_fitness(names):
    other = f"{names[0]}Other"
    creator.create(other, base.Fitness, weights=(1.0,))
    try:
        creator.create(names[1], list, fitness=getattr(creator, other))
        with pytest.raises(ValueError, match=names[1]):
            create_types(*names)
    finally:
        delattr(creator, other)


def test_register_fills_slots_but_not_evaluate(names):
    _, ind_cls = create_types(*names)
    tb = register(base.Toolbox(), SPACE, ind_cls)
    for slot in ("individual", "population", "mate", "mutate", "select"):
        assert callable(getattr(tb, slot))
    assert not hasattr(tb, "evaluate")
    random.seed(0)
    pop = tb.population(n=6)
    assert len(pop) == 6
    assert all(type(p) is ind_cls and SPACE.is_valid(p) for p in pop)
    a, b = tb.mate(pop[0], pop[1])
    assert (a, b) == (pop[0], pop[1])
    assert tb.mutate(pop[2])[0] is pop[2]
    for p in pop:
        p.fitness.values = (float(sum(p)),)
    assert len(tb.select(pop, 9)) == 9


def test_register_options_and_errors(names):
    _, ind_cls = create_types(*names)
    tb = register(base.Toolbox(), SPACE, ind_cls,
                  Operators(mate="uniform_group", mate_indpb=1.0, mutate="flip",
                            mutate_indpb=1.0, elitism=2))
    x, y = ind_cls(SPACE.full()), ind_cls(i % 2 for i in range(SPACE.n_bits))
    assert tb.mate(ind_cls(x), ind_cls(y)) == (y, x)
    assert tb.mutate(ind_cls(y))[0] == [1 - b for b in y]
    for bad in ({"mate": "one_point"}, {"mutate": "gauss"}, {"select": "best"}):
        with pytest.raises(ValueError, match="unknown"):
            register(base.Toolbox(), SPACE, ind_cls, Operators(**bad))


def test_register_selections(names):
    _, ind_cls = create_types(*names)
    pop = [ind_cls(SPACE.full()) for _ in range(5)]
    for i, p in enumerate(pop):
        p.fitness.values = (1.0 + 0.01 * i,)
    for select, options in (("roulette", {"elitism": 1}), ("rank", {"elitism": 1}),
                            ("tournament", {"tournsize": 50})):
        tb = register(base.Toolbox(), SPACE, ind_cls, Operators(select=select, **options))
        random.seed(2)
        chosen = tb.select(pop, 4)
        assert len(chosen) == 4
        assert chosen[0] is pop[4]    # elite first / whole tournament


def test_register_budget_decorates_init_and_variation(names):
    _, ind_cls = create_types(*names)
    random.seed(1)
    scores = [random.random() for _ in range(SPACE.n_bits)]
    tb = register(base.Toolbox(), SPACE, ind_cls, Operators(p_keep=0.9), budget=0.3,
                  measure="macs", image_size=32, scores=scores)
    pop = tb.population(n=4)
    children = [*tb.mate(ind_cls(SPACE.full()), ind_cls(SPACE.full())),
                *tb.mutate(ind_cls(SPACE.full()))]
    for ind in pop + children:
        assert SPACE.is_valid(ind)
        assert SPACE.size_ratio(ind, "macs", 32) <= 0.3


def test_register_equals_the_documented_plain_calls(names):
    _, ind_cls = create_types(*names)
    ours = register(base.Toolbox(), SPACE, ind_cls)
    plain = base.Toolbox()
    plain.register("individual", initMaskBernoulli, ind_cls, SPACE, p_keep=0.5)
    plain.register("population", tools.initRepeat, list, plain.individual)
    plain.register("mate", cxTwoPointMask, space=SPACE)
    plain.register("mutate", mutSegmentInvert, space=SPACE, max_length=None)
    plain.register("select", tools.selTournament, tournsize=3)

    def trace(tb):
        random.seed(5)
        pop = tb.population(n=4)
        tb.mate(pop[0], pop[1])
        tb.mutate(pop[2])
        for p in pop:
            p.fitness.values = (float(sum(p)),)
        return [list(p) for p in pop], [list(p) for p in tb.select(pop, 3)]
    assert trace(ours) == trace(plain)


# -- our operators inside DEAP's algorithms ------------------------------------------------
_rng = random.Random(99)
TARGET = [1 if _rng.random() < 0.4 else 0 for _ in range(SPACE.n_bits)]


def toy_fitness(ind):
    """Agreement with a hidden target mask minus a size penalty (maximised)."""
    agree = sum(a == b for a, b in zip(ind, TARGET)) / len(ind)
    return (agree - 0.2 * SPACE.size_ratio(ind),)


def evolve(algorithm, ind_cls, seed=2024):
    tb = register(base.Toolbox(), SPACE, ind_cls,
                  Operators(mate="group_boundary", mutate="flip", mutate_indpb=0.03,
                            elitism=1))
    tb.register("evaluate", toy_fitness)
    random.seed(seed)
    pop = tb.population(n=24)
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("max", max)
    if algorithm == "simple":
        pop, log = algorithms.eaSimple(pop, tb, cxpb=0.7, mutpb=0.3, ngen=25, stats=stats,
                                       verbose=False)
    else:
        tb.register("mate", cxTwoPointMask, space=SPACE)
        pop, log = algorithms.eaMuPlusLambda(pop, tb, mu=24, lambda_=24, cxpb=0.6,
                                             mutpb=0.3, ngen=25, stats=stats, verbose=False)
    return [list(p) for p in pop], log.select("max")


@pytest.mark.parametrize("algorithm", ["simple", "mu_plus_lambda"])
def test_deap_algorithms_improve_and_reproduce(names, algorithm):
    _, ind_cls = create_types(*names)
    pop, best = evolve(algorithm, ind_cls)
    assert best[-1] > best[0] + 0.05
    assert all(SPACE.is_valid(p) for p in pop)
    assert evolve(algorithm, ind_cls) == (pop, best)                    # identical rerun
    assert evolve(algorithm, ind_cls, seed=7)[0] != pop

"""DEAP contract, roulette, crossovers, mutations and repairs of deap_gan_prune.operators."""
import random
from collections import Counter

import pytest
from deap import base
from resnet_oracle import group_name, resnet_space

from deap_gan_prune import GeneratorWidths
from deap_gan_prune.operators import (
    BudgetRepair,
    MinSizeRepair,
    ParentSizeRepair,
    cxGroupBoundary,
    cxTwoPointMask,
    cxUniformGroup,
    initMaskBernoulli,
    initMaskCounts,
    initMaskFull,
    initMaskImportance,
    initMaskSize,
    initMaskSizeRange,
    mutFlipMask,
    mutMoveChannels,
    mutSegmentInvert,
    rank_shares,
    repairBudget,
    repairMinKeep,
    repairMinSize,
    roulette_shares,
    selRouletteRank,
    selRouletteWeighted,
    size_strata,
)

W4 = GeneratorWidths.default(ngf=4, n_blocks=2)
SPACE = resnet_space(W4)                                                 # 72 bits, 7 groups
SPACE_MIN = resnet_space(W4, min_keep={group_name(W4, "stream"): 5, group_name(W4, "up2"): 3,
                                       group_name(W4, "inner1"): 0})
TIED = resnet_space(W4, "tied")


class FitMax(base.Fitness):
    weights = (1.0,)


class FitMin(base.Fitness):
    weights = (-1.0,)


class Ind(list):
    def __init__(self, *args, fit_cls=FitMax):
        super().__init__(*args)
        self.fitness = fit_cls()


def with_fitness(values, fit_cls=FitMax):
    pop = []
    for v in values:
        ind = Ind([0], fit_cls=fit_cls)
        ind.fitness.values = (v,)
        pop.append(ind)
    return pop


def valid(ind, space):
    return all(isinstance(b, int) and b in (0, 1) for b in ind) and space.is_valid(ind)


def alternating(space):
    return Ind(i % 2 for i in range(space.n_bits))


VARIATIONS = [
    ("cx", lambda a, b, s: cxTwoPointMask(a, b, s)),
    ("cx", lambda a, b, s: cxGroupBoundary(a, b, s)),
    ("cx", lambda a, b, s: cxUniformGroup(a, b, s, indpb=0.5)),
    ("mut", lambda a, s: mutFlipMask(a, s, indpb=0.3)),
    ("mut", lambda a, s: mutSegmentInvert(a, s)),
    ("mut", lambda a, s: mutSegmentInvert(a, s, max_length=5)),
    ("mut", lambda a, s: mutMoveChannels(a, s)),
    ("mut", lambda a, s: mutMoveChannels(a, s, fraction=1.0, measure="macs", image_size=32)),
    ("mut", lambda a, s: repairMinKeep(a, s)),
    ("mut", lambda a, s: repairBudget(a, s, 0.3)),
]


@pytest.mark.parametrize(("kind", "op"), VARIATIONS)
@pytest.mark.parametrize("space", [SPACE, SPACE_MIN, TIED])
def test_variation_contract(kind, op, space):
    random.seed(1)
    for _trial in range(30):
        parents = [Ind(random.random() < 0.2 for _ in range(space.n_bits)) for _ in range(2)]
        for p in parents:
            p.fitness.values = (1.5,)
        out = op(*parents, space) if kind == "cx" else op(parents[0], space)
        assert isinstance(out, tuple)
        assert len(out) == (2 if kind == "cx" else 1)
        assert all(o is p for o, p in zip(out, parents))               # in place, same objects
        for ind in out:
            assert len(ind) == space.n_bits
            assert valid(ind, space)
            assert ind.fitness.values == (1.5,)                       # fitness untouched


@pytest.mark.parametrize(("kind", "op"), VARIATIONS)
def test_variation_is_deterministic_under_seed(kind, op):
    def run():
        random.seed(7)
        a, b = alternating(SPACE), Ind(SPACE.full())
        for _ in range(5):
            op(a, b, SPACE) if kind == "cx" else op(a, SPACE)
        return list(a), list(b)
    assert run() == run()


def test_wrong_length_is_rejected():
    with pytest.raises(ValueError, match="72"):
        mutFlipMask(Ind([1, 0, 1]), SPACE, 0.1)
    with pytest.raises(ValueError, match="72"):
        cxTwoPointMask(Ind(SPACE.full()), Ind([1]), SPACE)


# -- init ----------------------------------------------------------------------------------
def test_init_bernoulli_and_full():
    random.seed(0)
    big = resnet_space(GeneratorWidths.default())
    ind = initMaskBernoulli(Ind, big)
    assert type(ind) is Ind
    assert valid(ind, big)
    assert 0.45 < sum(ind) / big.n_bits < 0.55
    empty = initMaskBernoulli(Ind, SPACE_MIN, p_keep=0.0)
    assert SPACE_MIN.kept(empty) == {g.name: max(g.min_keep, 1) for g in SPACE_MIN.groups}
    assert initMaskBernoulli(Ind, SPACE, p_keep=1.0) == SPACE.full()
    assert initMaskFull(Ind, SPACE) == SPACE.full()
    assert type(initMaskFull(Ind, SPACE)) is Ind
    with pytest.raises(ValueError, match="p_keep"):
        initMaskBernoulli(Ind, SPACE, p_keep=1.5)


def test_init_importance():
    random.seed(3)
    scores = [random.random() for _ in range(SPACE.n_bits)]
    exact = initMaskImportance(Ind, SPACE, scores, keep_ratio=0.5, noise=0.0)
    assert valid(exact, SPACE)
    for g in SPACE.groups:
        part = scores[g.offset:g.stop]
        top = sorted(range(g.size), key=part.__getitem__, reverse=True)[:round(g.size / 2)]
        assert [exact[g.offset + j] for j in range(g.size)] == [int(j in top)
                                                               for j in range(g.size)]
    noisy = [initMaskImportance(Ind, SPACE, scores, noise=0.2) for _ in range(20)]
    assert len({tuple(n) for n in noisy}) > 1                            # individuals differ
    kept = [s for n in noisy for s, b in zip(scores, n) if b]
    dropped = [s for n in noisy for s, b in zip(scores, n) if not b]
    assert sum(kept) / len(kept) > sum(dropped) / len(dropped) + 0.2   # still follows scores
    with pytest.raises(ValueError, match="scores"):
        initMaskImportance(Ind, SPACE, scores[:-1])


# -- roulette ------------------------------------------------------------------------------
def frequencies(pop, k=20000, **kw):
    chosen = selRouletteWeighted(pop, k, **kw)
    assert len(chosen) == k
    assert all(any(c is p for p in pop) for c in chosen[:50])
    counts = Counter(id(c) for c in chosen)
    return [counts[id(p)] / k for p in pop]


def test_roulette_maximisation_is_proportional():
    random.seed(11)
    freq = frequencies(with_fitness([1.0, 2.0, 3.0, 4.0]))
    for f, expected in zip(freq, [0.1, 0.2, 0.3, 0.4]):
        assert abs(f - expected) < 0.015


def test_roulette_minimisation_prefers_small_values():
    random.seed(12)
    freq = frequencies(with_fitness([1.0, 2.0, 3.0, 4.0], FitMin))
    # weighted values -1..-4, m = -4: shares v + 4 + 1 = 4:3:2:1
    for f, expected in zip(freq, [0.4, 0.3, 0.2, 0.1]):
        assert abs(f - expected) < 0.015


def test_roulette_shares_are_pinned_and_continuous_across_zero():
    assert roulette_shares([1.0, 2.0, 3.0, 4.0]) == [1.0, 2.0, 3.0, 4.0]
    # a zero gets no share and leaves everybody else's unchanged (no switch of rule)
    assert roulette_shares([0.0, 2.0, 3.0, 4.0]) == [0.0, 2.0, 3.0, 4.0]
    assert roulette_shares([-2.0, -1.0, 0.5, 3.0]) == [0.5, 1.5, 3.0, 5.5]
    assert roulette_shares([0.0, 0.0]) == [1.0, 1.0]
    assert roulette_shares([-2.0, -2.0]) == [1.0, 1.0]
    # continuity: a value moving from +e through 0 to -e changes the shares by O(e)
    for e in (1e-3, 1e-6):
        up, down = roulette_shares([e, 1.0, 2.0]), roulette_shares([-e, 1.0, 2.0])
        assert max(abs(a - b) for a, b in zip(up, down)) < 4 * e


def test_rank_shares_and_rank_selection():
    assert rank_shares([0.3, 0.1, 0.2], pressure=1.5) == [1.5, 0.5, 1.0]
    assert rank_shares([5.0, 5.0, 1.0], pressure=2.0) == [1.5, 1.5, 0.0]   # ties: mean rank
    assert rank_shares([1.0, 2.0], pressure=1.0) == [1.0, 1.0]
    with pytest.raises(ValueError, match="pressure"):
        rank_shares([1.0, 2.0], pressure=3.0)
    random.seed(16)
    # values 1% apart: fitness-proportional is nearly uniform, rank keeps its pressure
    pop = with_fitness([1.00, 1.01, 1.02, 1.03])
    chosen = selRouletteRank(pop, 20000, pressure=2.0)
    counts = Counter(id(c) for c in chosen)
    freq = [counts[id(p)] / 20000 for p in pop]
    for f, expected in zip(freq, [0.0, 1 / 6, 2 / 6, 3 / 6]):
        assert abs(f - expected) < 0.015
    assert selRouletteRank(pop, 3, elitism=1)[0] is pop[3]


def test_roulette_all_zero_and_all_equal_are_uniform():
    random.seed(13)
    for value in (0.0, 5.0, -2.0):
        freq = frequencies(with_fitness([value] * 5))
        assert all(abs(f - 0.2) < 0.02 for f in freq)


def test_roulette_mixed_signs_does_not_always_pick_the_best():
    random.seed(14)
    freq = frequencies(with_fitness([-2.0, -1.0, 0.5, 3.0]))
    for f, expected in zip(freq, [0.5 / 10.5, 1.5 / 10.5, 3.0 / 10.5, 5.5 / 10.5]):
        assert abs(f - expected) < 0.015                      # the worst keeps a small share


def test_roulette_k_larger_than_population_and_elitism():
    random.seed(15)
    pop = with_fitness([0.3, 0.9, 0.1])
    assert len(selRouletteWeighted(pop, 10)) == 10
    chosen = selRouletteWeighted(pop, 7, elitism=2)
    assert len(chosen) == 7
    assert chosen[0] is pop[1]
    assert chosen[1] is pop[0]
    assert len(selRouletteWeighted(pop, 2, elitism=5)) == 2
    assert selRouletteWeighted(pop, 0) == []
    lows = with_fitness([3.0, 1.0, 2.0], FitMin)
    assert selRouletteWeighted(lows, 1, elitism=1)[0] is lows[1]


def test_roulette_rejects_bad_input():
    pop = with_fitness([1.0, 2.0])
    del pop[0].fitness.values
    with pytest.raises(ValueError, match="no fitness"):
        selRouletteWeighted(pop, 3)
    with pytest.raises(ValueError, match="empty"):
        selRouletteWeighted([], 3)


# -- crossovers and mutations --------------------------------------------------------------
def random_valid(space):
    return Ind(initMaskBernoulli(list, space, 0.6))


def test_group_crossovers_exchange_whole_groups():
    random.seed(21)
    for cx in (cxGroupBoundary, cxUniformGroup):
        for _ in range(30):
            p1, p2 = random_valid(SPACE), random_valid(SPACE)
            c1, c2 = cx(Ind(p1), Ind(p2), SPACE)
            swapped = []
            for g in SPACE.groups:
                s = slice(g.offset, g.stop)
                assert (c1[s], c2[s]) in ((p1[s], p2[s]), (p2[s], p1[s]))
                swapped.append(c1[s] != p1[s])
            if cx is cxGroupBoundary:                          # one contiguous run of groups
                runs = "".join("1" if x else "0" for x in swapped).strip("0")
                assert "0" not in runs


def test_uniform_group_probability_extremes():
    p1, p2 = random_valid(SPACE), random_valid(SPACE)
    c1, c2 = cxUniformGroup(Ind(p1), Ind(p2), SPACE, indpb=0.0)
    assert (c1, c2) == (p1, p2)
    c1, c2 = cxUniformGroup(Ind(p1), Ind(p2), SPACE, indpb=1.0)
    assert (c1, c2) == (p2, p1)


def test_two_point_swaps_one_flat_segment():
    random.seed(22)
    p1, p2 = Ind(SPACE.full()), alternating(SPACE)          # repair never needed
    inside_group = False
    for _ in range(30):
        c1, c2 = cxTwoPointMask(Ind(p1), Ind(p2), SPACE)
        n = SPACE.n_bits
        cuts = [(a, b) for a in range(n) for b in range(a + 1, n + 1)
                if c1 == p1[:a] + p2[a:b] + p1[b:] and c2 == p2[:a] + p1[a:b] + p2[b:]]
        assert cuts
        inside_group |= any(a not in SPACE.boundaries for a, _ in cuts)
    assert inside_group


def test_mutations():
    random.seed(23)
    start = alternating(SPACE)
    assert mutFlipMask(Ind(start), SPACE, 0.0)[0] == start
    assert mutFlipMask(Ind(start), SPACE, 1.0)[0] == [1 - b for b in start]
    for max_length in (None, 4):
        for _ in range(20):
            (m,) = mutSegmentInvert(Ind(start), SPACE, max_length=max_length)
            diff = [i for i in range(SPACE.n_bits) if m[i] != start[i]]
            assert diff
            assert diff == list(range(diff[0], diff[-1] + 1))    # one segment
            assert max_length is None or len(diff) <= max_length


# -- repairs -------------------------------------------------------------------------------
def test_repair_min_keep_restores_most_important_first():
    random.seed(31)
    scores = [random.random() for _ in range(SPACE_MIN.n_bits)]
    (ind,) = repairMinKeep(Ind([0] * SPACE_MIN.n_bits), SPACE_MIN, scores)
    for g in SPACE_MIN.groups:
        need = max(g.min_keep, 1)
        assert sum(ind[g.offset:g.stop]) == need
        best = sorted(range(g.offset, g.stop), key=scores.__getitem__, reverse=True)[:need]
        assert all(ind[i] for i in best)
    bools = Ind([True] * SPACE.n_bits)
    repairMinKeep(bools, SPACE)
    assert all(type(b) is int for b in bools)


BIG = resnet_space(GeneratorWidths.default())                           # 2,944 bits


@pytest.mark.parametrize("measure", ["parameters", "macs"])
def test_budget_repair_reaches_budget_keeping_important_channels(measure):
    random.seed(32)
    scores = [random.random() for _ in range(BIG.n_bits)]
    for budget in (0.5, 0.25, 0.1):
        ind = Ind(BIG.full())
        repairBudget(ind, BIG, budget, measure=measure, image_size=64, scores=scores)
        ratio = BIG.size_ratio(ind, measure, image_size=64)
        assert valid(ind, BIG)
        assert budget * 0.95 < ratio <= budget
        for g in BIG.groups:
            kept = [scores[i] for i in range(g.offset, g.stop) if ind[i]]
            dropped = [scores[i] for i in range(g.offset, g.stop) if not ind[i]]
            assert not dropped or min(kept) >= max(dropped)


def test_budget_repair_without_scores_and_when_unreachable():
    random.seed(33)
    ind = initMaskBernoulli(Ind, BIG, 0.8)
    repairBudget(ind, BIG, 0.2)
    assert valid(ind, BIG)
    assert BIG.size_ratio(ind) <= 0.2
    smallest = SPACE_MIN.size_ratio(SPACE_MIN.join({g.name: [1] * max(g.min_keep, 1) +
                                                   [0] * (g.size - max(g.min_keep, 1))
                                                   for g in SPACE_MIN.groups}), "macs", 32)
    with pytest.raises(ValueError, match=f"smallest reachable size is {smallest:.4g} of the "
                                         f"original's macs"):
        repairBudget(Ind([0] * SPACE_MIN.n_bits), SPACE_MIN, 1e-6, measure="macs",
                     image_size=32)
    with pytest.raises(ValueError, match="cannot be met"):
        BudgetRepair(SPACE_MIN, smallest * 0.99, measure="macs", image_size=32)
    at_min = Ind([0] * SPACE_MIN.n_bits)           # the smallest size itself is reachable
    repairBudget(at_min, SPACE_MIN, smallest, measure="macs", image_size=32)
    assert SPACE_MIN.kept(at_min) == {g.name: max(g.min_keep, 1) for g in SPACE_MIN.groups}
    full = Ind(SPACE.full())
    repairBudget(full, SPACE, 1.0)
    assert full == SPACE.full()                                     # within budget: untouched
    for bad in (0, -0.5):
        with pytest.raises(ValueError, match="budget"):
            repairBudget(Ind(SPACE.full()), SPACE, bad)
    with pytest.raises(ValueError, match="measure"):
        repairBudget(Ind(SPACE.full()), SPACE, 0.5, measure="flops")


def test_budget_repair_meets_every_measure_at_once():
    random.seed(35)
    for _ in range(5):
        ind = initMaskBernoulli(Ind, BIG, 0.9)
        repairBudget(ind, BIG, 0.25, measure=("parameters", "macs"), image_size=64)
        params, macs = BIG.size_ratio(ind, "parameters"), BIG.size_ratio(ind, "macs", 64)
        assert params <= 0.25
        assert macs <= 0.25
        assert max(params, macs) > 0.25 * 0.95


def test_budget_repair_order_is_random_not_l1_by_default():
    """Without scores the drops ignore importance: over many repairs every channel of a group
    is dropped about equally often, whatever its score; with scores the lowest go first."""
    random.seed(36)
    scores = [float(i % 7) for i in range(BIG.n_bits)]
    group = BIG.groups[2]
    dropped = [0] * group.size
    n = 40
    for _ in range(n):
        ind = Ind(BIG.full())
        repairBudget(ind, BIG, 0.25)
        for j in range(group.size):
            dropped[j] += 1 - ind[group.offset + j]
    low = [dropped[j] for j in range(group.size) if scores[group.offset + j] == 0]
    high = [dropped[j] for j in range(group.size) if scores[group.offset + j] == 6]
    assert abs(sum(low) / len(low) - sum(high) / len(high)) < 0.25 * n
    ordered = Ind(BIG.full())
    repairBudget(ordered, BIG, 0.25, scores=scores)
    kept = [scores[i] for i in range(group.offset, group.stop) if ordered[i]]
    gone = [scores[i] for i in range(group.offset, group.stop) if not ordered[i]]
    assert min(kept) >= max(gone)


def test_budget_decorator_repairs_every_returned_individual():
    random.seed(34)
    tb = base.Toolbox()
    tb.register("mate", cxTwoPointMask, space=SPACE)
    tb.register("mutate", mutSegmentInvert, space=SPACE)
    tb.register("individual", initMaskFull, Ind, SPACE)
    for slot in ("mate", "mutate", "individual"):
        tb.decorate(slot, BudgetRepair(SPACE, 0.3, measure="macs", image_size=32))
    assert SPACE.size_ratio(tb.individual(), "macs", 32) <= 0.3
    a, b = tb.mate(Ind(SPACE.full()), Ind(SPACE.full()))
    (m,) = tb.mutate(Ind(SPACE.full()))
    for ind in (a, b, m):
        assert valid(ind, SPACE)
        assert SPACE.size_ratio(ind, "macs", 32) <= 0.3


@pytest.mark.parametrize("measure", ["parameters", "macs"])
def test_parent_size_repair_keeps_every_child_within_its_parents_size(measure):
    random.seed(7)
    tb = base.Toolbox()
    tb.register("mate", cxTwoPointMask, space=SPACE)
    tb.register("mutate", mutFlipMask, space=SPACE, indpb=0.3)
    for slot in ("mate", "mutate"):
        tb.decorate(slot, ParentSizeRepair(SPACE, measure, image_size=32))
    size = lambda ind: SPACE.size_ratio(ind, measure, 32)  # noqa: E731
    grew = 0
    for _ in range(30):
        r1, r2 = random.uniform(0.15, 0.3), random.uniform(0.3, 0.9)
        a, b = initMaskSize(Ind, SPACE, r1, measure, 32), initMaskSize(Ind, SPACE, r2, measure, 32)
        caps = size(a), size(b)
        # unrepaired, flips turn a small mask's dropped channels on: it grows
        plain = Ind(a)
        mutFlipMask(plain, SPACE, indpb=0.3)
        grew += size(plain) > caps[0]
        (m,) = tb.mutate(Ind(a))
        c1, c2 = tb.mate(Ind(a), Ind(b))
        for child, cap in ((m, caps[0]), (c1, caps[0]), (c2, caps[1])):
            assert valid(child, SPACE)
            assert size(child) <= cap + 1e-12
    assert grew >= 20
    same = initMaskSize(Ind, SPACE, 0.2)
    kept = Ind(same)
    ParentSizeRepair(SPACE)(lambda ind: (ind,))(kept)  # an unchanged child stays unchanged
    assert kept == same
    with pytest.raises(ValueError, match="unknown size measure"):
        ParentSizeRepair(SPACE, "flops")
    with pytest.raises(ValueError, match="growth must be >= 1"):
        ParentSizeRepair(SPACE, growth=0.9)


def test_parent_size_repair_lets_children_grow_by_the_factor():
    random.seed(8)
    grow = ParentSizeRepair(SPACE, growth=1.5)(lambda ind: mutFlipMask(ind, SPACE, indpb=0.3))
    over = 0
    for _ in range(30):
        parent = initMaskSize(Ind, SPACE, random.uniform(0.05, 0.2))
        cap = SPACE.size_ratio(parent)
        (child,) = grow(Ind(parent))
        assert valid(child, SPACE)
        assert SPACE.size_ratio(child) <= 1.5 * cap + 1e-12
        over += SPACE.size_ratio(child) > cap
    assert over >= 10  # children do grow past their parent, up to the factor


@pytest.mark.parametrize("measure", ["parameters", "macs"])
def test_min_size_repair_turns_channels_back_on_up_to_the_floor(measure):
    random.seed(9)
    size = lambda ind: SPACE.size_ratio(ind, measure, 32)  # noqa: E731
    for floor in (0.2, 0.4, 0.7):
        ind = initMaskSize(Ind, SPACE, 0.15, measure, 32)
        before = list(ind)
        repairMinSize(ind, SPACE, floor, measure, 32)
        assert valid(ind, SPACE)
        assert size(ind) >= floor
        assert all(a <= b for a, b in zip(before, ind))  # only turned channels on
        added = [i for i, (a, b) in enumerate(zip(before, ind)) if a != b]
        # the fewest of its order: without the last channel it turned on, below the floor
        assert any(size([0 if j == i else b for j, b in enumerate(ind)]) < floor
                   for i in added)
    big = Ind(SPACE.full())
    repairMinSize(big, SPACE, 0.5)
    assert big == SPACE.full()
    floored = MinSizeRepair(SPACE, 0.3)(lambda ind: mutFlipMask(ind, SPACE, indpb=0.0))
    (child,) = floored(initMaskSize(Ind, SPACE, 0.1))
    assert SPACE.size_ratio(child) >= 0.3
    with pytest.raises(ValueError, match="unknown size measure"):
        MinSizeRepair(SPACE, 0.3, "flops")


def test_init_at_a_size_and_stratified_sizes():
    random.seed(3)
    for r in (0.05, 0.2, 0.7):
        ind = initMaskSize(Ind, SPACE, r)
        assert valid(ind, SPACE)
        assert r * 0.7 <= SPACE.size_ratio(ind) <= r
    random.seed(3)
    ratios = size_strata(0.05, 0.5, 5)
    edges = [0.05 * 10 ** (i / 5) for i in range(6)]
    assert all(lo <= r <= hi for r, lo, hi in zip(ratios, edges, edges[1:]))
    random.seed(3)
    again = size_strata(0.05, 0.5, 5)
    assert again == ratios
    assert size_strata(0.2, 0.2, 3) == pytest.approx([0.2] * 3)
    random.seed(3)
    ranged = initMaskSizeRange(Ind, SPACE, 0.2, 0.2)
    random.seed(3)
    random.random()  # the range's draw of the size
    assert ranged == initMaskSize(Ind, SPACE, 0.2)
    for bad in ((0.5, 0.1, 3), (0.0, 0.5, 3), (0.1, 0.5, 0)):
        with pytest.raises(ValueError, match="size_strata"):
            size_strata(*bad)
    with pytest.raises(ValueError, match="initMaskSize"):
        initMaskSize(Ind, SPACE, 1.5)


def test_operators_import_only_pure_python():
    """In a fresh interpreter, the operators and the pure part of the mask space (widths,
    groups, sizes) load neither torch nor numpy, through no import path (the package root and
    ``nets`` included), and work."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import deap_gan_prune.operators as ops\n"
        "from deap_gan_prune.core.maskspace import MaskSpace\n"
        "from deap_gan_prune.core.widths import GeneratorWidths\n"
        "from deap_gan_prune import MaskSpace as RootMaskSpace, repairBudget\n"
        "from resnet_oracle import resnet_space\n"
        "assert RootMaskSpace is MaskSpace and repairBudget is ops.repairBudget\n"
        "space = resnet_space(GeneratorWidths.default(ngf=8, n_blocks=2)).tied()\n"
        "ind = space.full()\n"
        "ops.mutFlipMask(ind, space, 0.5)\n"
        "ops.repairBudget(ind, space, 0.5)\n"
        "assert space.size_ratio(ind) <= 0.5\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- capacity moves ------------------------------------------------------------------------
@pytest.mark.parametrize("space", [SPACE, SPACE_MIN, TIED])
@pytest.mark.parametrize("measure", ["parameters", "macs"])
def test_move_channels_changes_two_widths_at_no_more_size(space, measure):
    random.seed(3)
    moved = 0
    for _ in range(40):
        ind = Ind(initMaskSize(list, space, 0.4))
        before, size = space.kept(ind), space.size(ind, measure, 32)
        mutMoveChannels(ind, space, measure=measure, image_size=32)
        after = space.kept(ind)
        assert space.is_valid(ind)
        assert space.size(ind, measure, 32) <= size
        changed = [g for g in before if before[g] != after[g]]
        assert len(changed) in (0, 1, 2)        # the donor, and the receiver if it could take any
        if changed:
            moved += 1
            assert min(after[g] - before[g] for g in changed) < 0    # the donor lost channels
    assert moved >= 30


def test_move_channels_rejects_bad_fraction():
    with pytest.raises(ValueError, match="fraction"):
        mutMoveChannels(Ind(SPACE.full()), SPACE, fraction=0.0)


def test_init_counts_keeps_the_counts_then_moves():
    random.seed(5)
    counts = [max(1, g.size // 3) for g in SPACE.groups]
    a, b = initMaskCounts(list, SPACE, counts), initMaskCounts(list, SPACE, counts)
    assert list(SPACE.kept(a).values()) == counts == list(SPACE.kept(b).values())
    assert a != b                                                   # random channels
    plain = SPACE.size(a)
    moved = [initMaskCounts(list, SPACE, counts, moves=3) for _ in range(10)]
    assert all(SPACE.size(m) <= plain and SPACE.is_valid(m) for m in moved)
    assert any(list(SPACE.kept(m).values()) != counts for m in moved)
    with pytest.raises(ValueError, match="counts for"):
        initMaskCounts(list, SPACE, counts[:-1])
    with pytest.raises(ValueError, match="asked to keep"):
        initMaskCounts(list, SPACE, [g.size + 1 for g in SPACE.groups])


def test_decorators_are_classes_with_one_name_each():
    import deap_gan_prune.operators as ops
    for name in ("MinKeepRepair", "BudgetRepair", "ParentSizeRepair", "MinSizeRepair"):
        assert isinstance(getattr(ops, name), type)
        assert name in ops.__all__
        assert name[0].lower() + name[1:] not in ops.__all__  # no second spelling

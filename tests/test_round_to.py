"""round_to: kept channels in multiples of 4, 8 or 16 in the repair, the capacity moves, the
uniform masks, the search and its command line."""
import random

import pytest
import torch
from resnet_oracle import resnet_space

from deap_gan_prune import GeneratorWidths, RunOptions, SearchConfig, Task, search
from deap_gan_prune.core.baselines import uniform_counts, uniform_mask
from deap_gan_prune.core.maskspace import ChannelGroup, allowed_counts, round_count
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.operators import (
    BudgetRepair,
    initMaskBernoulli,
    initMaskCounts,
    mutMoveChannels,
    repairBudget,
)

W = GeneratorWidths.default(ngf=16, n_blocks=2)
SPACE = resnet_space(W)                                     # groups of 16, 32 and 64 channels


def on_grid(space, bits, multiple):
    """True when every group keeps an allowed count (a multiple, or all its channels)."""
    return all(c in allowed_counts(g, multiple)
               for g, c in zip(space.groups, space.kept(bits).values()))


def _group(size, min_keep=1, block=1):
    return ChannelGroup("g", 0, size, ("g",), min_keep, block)


def test_allowed_counts_are_multiples_or_the_whole_group():
    assert allowed_counts(_group(64), 16) == [16, 32, 48, 64]
    assert allowed_counts(_group(20), 8) == [8, 16, 20]
    assert allowed_counts(_group(20, min_keep=10), 8) == [16, 20]
    assert allowed_counts(_group(6), 8) == [6]                  # smaller than one multiple
    assert allowed_counts(_group(8, block=4), 8) == [2, 4, 6, 8]  # 4 channels a bit
    assert allowed_counts(_group(5), 1) == [1, 2, 3, 4, 5]
    sixteens = allowed_counts(_group(64), 16)
    assert (round_count(sixteens, 23), round_count(sixteens, 24)) == (16, 16)
    assert round_count(sixteens, 25) == 32
    assert round_count(sixteens, 31, "down") == 16
    with pytest.raises(ValueError, match="round_to"):
        allowed_counts(_group(8), 0)


@pytest.mark.parametrize("multiple", [4, 8])
@pytest.mark.parametrize("measure", ["parameters", "macs"])
def test_repair_meets_the_budget_on_the_grid(multiple, measure):
    random.seed(0)
    for budget in (0.3, 0.45, 0.6):
        for _ in range(20):
            ind = initMaskBernoulli(list, SPACE, random.random())
            repairBudget(ind, SPACE, budget, measure, round_to=multiple)
            assert on_grid(SPACE, ind, multiple)
            assert SPACE.size_ratio(ind, measure) <= budget + 1e-12
    # the decorator and the importance order do the same
    scores = [random.random() for _ in range(SPACE.n_bits)]
    repair = BudgetRepair(SPACE, 0.3, round_to=multiple, scores=scores)
    ind = initMaskBernoulli(list, SPACE, 0.9)
    repair.fix(ind)
    assert on_grid(SPACE, ind, multiple)
    assert SPACE.size_ratio(ind) <= 0.3


def test_rounding_without_a_budget_and_multiple_one_changes_nothing():
    random.seed(1)
    ind = initMaskBernoulli(list, SPACE, 0.5)
    assert not on_grid(SPACE, ind, 8)
    same = list(ind)
    BudgetRepair(SPACE, 1.0, round_to=8).fix(ind)             # rounds only
    assert on_grid(SPACE, ind, 8)
    state = random.getstate()
    repairBudget(same, SPACE, 1.0)                             # multiple 1: nothing to do
    assert random.getstate() == state


def test_moves_step_between_allowed_counts_at_one_size():
    random.seed(2)
    start = uniform_mask(SPACE, 0.4, round_to=8)
    for _ in range(30):
        ind = list(start)
        before = SPACE.size(ind)
        mutMoveChannels(ind, SPACE, 0.5, round_to=8)
        assert on_grid(SPACE, ind, 8)
        assert SPACE.size(ind) <= before
    moved = [list(start) for _ in range(30)]
    for ind in moved:
        mutMoveChannels(ind, SPACE, 0.5, round_to=8)
    assert any(SPACE.kept(m) != SPACE.kept(start) for m in moved)  # widths do change
    counts = list(SPACE.kept(start).values())
    ind = initMaskCounts(list, SPACE, counts, moves=3, round_to=8)
    assert on_grid(SPACE, ind, 8)


@pytest.mark.parametrize("measure", ["parameters", "macs"])
def test_uniform_counts_on_the_grid_within_budget(measure):
    for budget in (0.15, 0.3, 0.5, 0.8):
        counts = uniform_counts(SPACE, budget, measure, round_to=8)
        assert all(c in allowed_counts(g, 8) for g, c in zip(SPACE.groups, counts))
        bits = uniform_mask(SPACE, budget, measure, round_to=8)
        assert list(SPACE.kept(bits).values()) == counts
        assert SPACE.size_ratio(bits, measure) <= budget
        assert SPACE.size_ratio(bits, measure) > budget / 2      # not far below it


def test_search_keeps_every_count_on_the_grid():
    torch.manual_seed(0)
    generator = ResnetGenerator(ngf=8, n_blocks=2)
    images = torch.rand(8, 3, 32, 32) * 2 - 1
    config = SearchConfig.widths(population=4, generations=2, n_images=4, adapt_images=4,
                                 adapt_steps=1, budget=0.4, finalists=2, finalist_steps=1,
                                 round_to=8)
    result = search(Task({"A": generator}, {"A": images}), config, RunOptions(progress=False))
    space = result.spaces["A"]
    assert on_grid(space, result.masks["A"], 8)
    assert all(on_grid(space, ind, 8) for ind in result.populations["A"])
    assert all(on_grid(space, f["A"], 8) for f in result.finalists)
    assert space.size_ratio(result.masks["A"]) <= 0.4
    plain = search(Task({"A": generator}, {"A": images}),
                   SearchConfig.widths(**{**config.to_dict(), "round_to": 1,
                                          "budget_measures": ("parameters",)}),
                   RunOptions(progress=False))
    assert not all(on_grid(space, ind, 8) for ind in plain.populations["A"])


def test_round_to_on_the_command_line_and_in_compress():
    from deap_gan_prune.cli import build_parser
    from deap_gan_prune.cli.search_cmd import config_from
    from deap_gan_prune.compression.config import CompressConfig
    from deap_gan_prune.compression.stages import search_config
    args = build_parser().parse_args(["search", "--round-to", "8", "--budget", "0.3"])
    assert config_from(args).round_to == 8
    assert config_from(build_parser().parse_args(["search"])).round_to == 1
    assert search_config(CompressConfig(round_to=16)).round_to == 16
    with pytest.raises(ValueError, match="round_to"):
        SearchConfig(round_to=0)

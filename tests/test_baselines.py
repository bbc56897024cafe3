import copy

import pytest
import torch
from resnet_oracle import group_name, resnet_space

from deap_gan_prune.core.baselines import (
    convert_mask,
    random_mask_like,
    uniform_counts,
    uniform_mask,
)
from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.baselines import l1_norm_mask, matching_baselines
from deap_gan_prune.nets.counting import count_module_macs, count_module_parameters
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim

BUDGETS = (1 / 4, 1 / 8, 1 / 16)
FULL = GeneratorWidths.default(64, 9)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return ResnetGenerator(ngf=16, n_blocks=6).eval()


@pytest.mark.parametrize("layout", ["independent", "tied"])
@pytest.mark.parametrize("measure", ["parameters", "macs"])
def test_uniform_mask_meets_the_budget_closely_on_the_full_generator(layout, measure):
    space = resnet_space(FULL, layout)
    for budget in BUDGETS:
        bits = uniform_mask(space, budget, measure)
        ratio = space.size_ratio(bits, measure)
        assert space.is_valid(bits)
        assert 0.97 * budget <= ratio <= budget, (budget, ratio)


def test_uniform_mask_keeps_the_same_share_everywhere_up_to_one_channel():
    space = resnet_space(FULL)
    counts = uniform_counts(space, 1 / 8, "macs")
    shares = [c / g.size for c, g in zip(counts, space.groups)]
    low = min(shares)
    for share, g in zip(shares, space.groups):
        assert share - low <= 1 / g.size + 1e-9
    bits = uniform_mask(space, 1 / 8, "macs")
    for g, c in zip(space.groups, counts):  # the first channels of every group
        assert bits[g.offset:g.stop] == [1] * c + [0] * (g.size - c)


def test_l1_norm_mask_meets_the_budget_and_keeps_the_largest_filters(generator):
    generator = copy.deepcopy(generator)
    space = space_of(generator)
    first = generator.slot_convs()["first"]
    with torch.no_grad():  # make the first conv's filter norms rise with the channel index
        first.weight.copy_(first.weight.sign() * torch.arange(1.0, 17.0).view(-1, 1, 1, 1))
    for measure in ("parameters", "macs"):
        for budget in BUDGETS:
            bits = l1_norm_mask(generator, space, budget, measure)
            ratio = space.size_ratio(bits, measure)
            assert space.is_valid(bits)
            assert 0.95 * budget <= ratio <= budget
            assert list(space.kept(bits).values()) == uniform_counts(space, budget, measure)
            g = space.group("model.1")  # the first conv's channels
            kept = bits[g.offset:g.stop]
            k = sum(kept)
            assert kept == [0] * (g.size - k) + [1] * k  # the largest-norm filters


def test_l1_norm_mask_slims_to_a_network_of_the_predicted_size(generator):
    space = space_of(generator)
    bits = l1_norm_mask(generator, space, 0.25, "macs", image_size=32)
    small = slim(generator, bits, space)
    assert count_module_parameters(small) == space.size(bits, "parameters")
    assert count_module_macs(small, 32) == space.size(bits, "macs", 32)
    assert count_module_macs(small, 32) <= 0.25 * count_module_macs(generator, 32)
    assert small(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_random_mask_like_keeps_the_counts_and_varies_with_the_seed():
    space = resnet_space(FULL)
    target = uniform_mask(space, 1 / 8, "parameters")
    r0, r0b, r1 = (random_mask_like(space, target, s) for s in (0, 0, 1))
    assert r0 == r0b
    assert r0 != r1
    assert r0 != target
    for bits in (r0, r1):
        assert space.kept(bits) == space.kept(target)
        assert space.size_ratio(bits) == space.size_ratio(target)


def test_matching_baselines_are_at_the_size_of_a_search_result(generator, rng):
    space = space_of(generator)
    result = [1 if rng.random() < 0.4 else 0 for _ in range(space.n_bits)]
    for g in space.groups:
        result[g.offset] = 1
    target = space.size_ratio(result, "macs")
    masks = matching_baselines(generator, space, result, "macs", seed=3)
    assert set(masks) == {"l1_norm", "uniform", "random"}
    for name, bits in masks.items():
        ratio = space.size_ratio(bits, "macs")
        assert space.is_valid(bits), name
        assert 0.95 * target <= ratio <= target + 1e-12, name


def test_budgets_at_and_above_one_keep_everything_and_bad_budgets_fail():
    space = resnet_space(GeneratorWidths.default(4, 2))
    assert uniform_mask(space, 1.0) == space.full()
    assert uniform_mask(space, 3.0, "macs") == space.full()
    with pytest.raises(ValueError, match="cannot be met"):
        uniform_mask(space, 0.001)
    with pytest.raises(ValueError, match="budget must be"):
        uniform_mask(space, 0)
    with pytest.raises(ValueError, match="size measure"):
        uniform_mask(space, 0.5, "flops")


def test_min_keep_is_respected():
    space = resnet_space(FULL, min_keep=8)
    bits = uniform_mask(space, 1 / 16, "parameters")
    assert min(space.kept(bits).values()) >= 8


def test_convert_mask_between_layouts():
    tied, independent = resnet_space(FULL, "tied"), resnet_space(FULL)
    bits = uniform_mask(tied, 1 / 8)
    converted = convert_mask(bits, tied, independent)
    assert len(converted) == independent.n_bits
    assert independent.widths_of(converted) == tied.widths_of(bits)
    assert convert_mask(converted, independent, tied) == bits
    uneven = uniform_mask(independent, 1 / 8)
    uneven[independent.group(group_name(FULL, "inner0")).offset] ^= 1
    with pytest.raises(ValueError, match="prunes differently"):
        convert_mask(uneven, independent, tied)
    other = resnet_space(GeneratorWidths.default(32, 9))
    with pytest.raises(ValueError, match="different networks"):
        convert_mask(other.full(), other, tied)

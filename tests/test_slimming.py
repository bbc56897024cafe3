"""Masked evaluation and physical slimming agree, on random masks, depths and widths."""
import random

import pytest
import torch

from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.counting import count_module_parameters
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import masked, slim


def _random_valid_mask(space, rnd, p_keep):
    bits = [int(rnd.random() < p_keep) for _ in range(space.n_bits)]
    for g in space.groups:  # at least one channel per group
        if not any(bits[g.offset:g.stop]):
            bits[g.offset + rnd.randrange(g.size)] = 1
    return bits


@pytest.mark.parametrize(("ngf", "n_blocks", "layout", "dropout", "size"), [
    (4, 1, "independent", False, 16), (8, 3, "independent", False, 24),
    (6, 2, "tied", True, 20), (16, 4, "independent", False, 32)])
def test_masked_forward_equals_slim_forward(ngf, n_blocks, layout, dropout, size):
    torch.manual_seed(ngf)
    g = ResnetGenerator(ngf=ngf, n_blocks=n_blocks, use_dropout=dropout).eval()
    x = torch.randn(2, 3, size, size)
    space = space_of(g, x, layout)
    rnd = random.Random(ngf * 10 + n_blocks)
    for p_keep in (0.2, 0.5, 0.9):
        bits = _random_valid_mask(space, rnd, p_keep)
        small = slim(g, bits, space)
        assert small.widths == space.widths_of(bits)
        assert count_module_parameters(small) == space.size(bits)
        with torch.no_grad():
            with masked(g, bits, space):
                y_masked = g(x)
            y_slim = small(x)
        assert torch.allclose(y_masked, y_slim, atol=1e-5)


def test_full_mask_is_identity_and_hooks_are_removed(tiny_generator):
    space = space_of(tiny_generator)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        before = tiny_generator(x)
        small = slim(tiny_generator, space.full())
        assert torch.allclose(small(x), before, atol=1e-6)
        bits = space.full()
        bits[0] = 0
        with masked(tiny_generator, bits):
            assert not torch.allclose(tiny_generator(x), before)
        assert torch.equal(tiny_generator(x), before)


def test_slim_copies_the_kept_slices(tiny_generator):
    space = space_of(tiny_generator)
    bits = space.full()
    g = space.group("model.11.conv_block.1")  # block 1's inner width
    bits[g.offset:g.stop] = [0, 1] + [0] * (g.size - 2)
    small = slim(tiny_generator, bits, space)
    src = tiny_generator.model[11].conv_block
    dst = small.model[11].conv_block
    assert torch.equal(dst[1].weight, src[1].weight[1:2])
    assert torch.equal(dst[1].bias, src[1].bias[1:2])
    assert torch.equal(dst[5].weight, src[5].weight[:, 1:2])
    assert set(small.state_dict()) == set(tiny_generator.state_dict())


def test_slim_rejects_empty_or_misaligned_masks(tiny_generator):
    space = space_of(tiny_generator)
    with pytest.raises(ValueError, match="keeps no channel"):
        slim(tiny_generator, [0] * 4 + space.full()[4:])
    with pytest.raises(ValueError, match="bits"):
        slim(tiny_generator, space.full()[1:], space)
    with pytest.raises(ValueError, match="bits"), masked(tiny_generator, [1, 0], space):
        pass
    with pytest.raises(KeyError, match="unknown"):  # per-group masks name the space's groups
        slim(tiny_generator, space.join({"bogus": [1]}), space)
    other = space_of(ResnetGenerator(ngf=4, n_blocks=1))
    with pytest.raises(ValueError, match="does not describe"):
        slim(tiny_generator, other.full(), other)


def test_slim_of_slim_equals_composed_mask():
    torch.manual_seed(0)
    g = ResnetGenerator(widths=GeneratorWidths(6, 8, 10, (7, 5), 8, 6)).eval()
    space = space_of(g)
    bits = _random_valid_mask(space, random.Random(1), 0.6)
    once = slim(g, bits, space)
    inner_space = space_of(once)
    assert inner_space.widths == once.widths == space.widths_of(bits)
    twice = slim(once, inner_space.full(), inner_space)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(once(x), twice(x), atol=1e-6)


def test_slim_copies_nothing_it_shares_with_the_original(tiny_generator):
    """The slim network owns every tensor (no meta placeholder left, none shared), and the
    original is unchanged by slimming and by training the slim copy."""
    space = space_of(tiny_generator)
    before = {k: v.clone() for k, v in tiny_generator.state_dict().items()}
    small = slim(tiny_generator, _random_valid_mask(space, random.Random(3), 0.5), space)
    originals = {t.data_ptr() for t in tiny_generator.state_dict().values()}
    for key, tensor in small.state_dict().items():
        assert tensor.device.type == "cpu", key
        assert tensor.data_ptr() not in originals, key
    with torch.no_grad():
        for p in small.parameters():
            p.add_(1.0)
    assert all(torch.equal(before[k], v) for k, v in tiny_generator.state_dict().items())

"""Parameters and MACs: the mask space's closed form, hooks and torch's flop counter agree
(METHOD.md §4)."""
import random

import pytest
import torch
from resnet_oracle import resnet_space

from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.counting import (
    count_module_macs,
    count_module_parameters,
    example_input,
    flop_counter_macs,
    image_channels,
)
from deap_gan_prune.nets.models import ResnetGenerator


def _meta_generator(**kw):
    with torch.device("meta"):
        return ResnetGenerator(**kw)


def count_parameters(w):
    """Parameters of the ResNet of widths ``w``, in closed form (its full mask space)."""
    space = resnet_space(w)
    return space.size(space.full())


def count_macs(w, size, convention="output"):
    """MACs of the ResNet of widths ``w`` at ``size`` pixels, in closed form."""
    space = resnet_space(w)
    return space.size(space.full(), "macs", size, convention)


def test_default_generator_figures():
    g = _meta_generator()
    w = g.widths
    assert count_parameters(w) == count_module_parameters(g) == 11_378_179
    assert count_macs(w, 256, "output") == count_module_macs(g, 256, "output")
    assert count_macs(w, 256, "real") == count_module_macs(g, 256, "real")
    assert round(count_macs(w, 256, "output") / 1e9, 2) == 56.80
    assert round(count_macs(w, 256, "real") / 1e9, 2) == 49.55


def test_flop_counter_reports_real_arithmetic():
    g = ResnetGenerator(ngf=8, n_blocks=2)
    assert flop_counter_macs(g, 32) == count_macs(g.widths, 32, "real") \
        == count_module_macs(g, 32, "real")


def test_slim_generator_of_2_7m_parameters_matches_the_formula():
    w = GeneratorWidths(32, 64, 160, (96, 64, 128, 96, 112, 80, 64, 96, 128), 64, 32)
    c1, c2, c3, c4, c5 = w.first, w.down1, w.stream, w.up1, w.up2
    formula = (148 * c1 + (9 * c1 + 1) * c2 + (9 * c2 + 1) * c3
               + sum((9 * c3 + 1) * m + (9 * m + 1) * c3 for m in w.inner)
               + (9 * c3 + 1) * c4 + (9 * c4 + 1) * c5 + (49 * c5 + 1) * 3)
    g = _meta_generator(widths=w)
    assert count_module_parameters(g) == count_parameters(w) == formula
    assert 2.6e6 < formula < 2.8e6
    assert count_macs(w, 256, "output") == count_module_macs(g, 256, "output")
    assert count_macs(w, (128, 96), "real") == count_module_macs(g, (128, 96), "real")


def test_random_widths_agree():
    rnd = random.Random(0)
    for _ in range(5):
        w = GeneratorWidths(*(rnd.randint(1, 12) for _ in range(3)),
                            tuple(rnd.randint(1, 12) for _ in range(rnd.randint(1, 4))),
                            rnd.randint(1, 12), rnd.randint(1, 12),
                            rnd.randint(1, 4), rnd.randint(1, 4))
        g = _meta_generator(widths=w)
        assert count_module_parameters(g) == count_parameters(w)
        for conv in ("output", "real"):
            assert count_module_macs(g, 32, conv) == count_macs(w, 32, conv)


def test_bad_arguments():
    w = GeneratorWidths.default(4, 1)
    with pytest.raises(ValueError, match="convention"):
        count_macs(w, 32, "weird")
    with pytest.raises(ValueError, match="convention"):
        count_module_macs(ResnetGenerator(ngf=4, n_blocks=1), 32, "weird")


def test_example_input_is_the_smallest_image_that_runs():
    g = ResnetGenerator(input_nc=1, ngf=4, n_blocks=1)
    x = example_input(g)
    assert x.shape == (1, 1, 32, 32)
    assert image_channels(g) == 1
    assert g.training  # run in eval mode, given back as it was

    class Big(torch.nn.Module):
        def forward(self, x):
            if x.shape[-1] < 1000:
                raise RuntimeError("too small")
            return x
    with pytest.raises(ValueError, match="runs on no image"):
        example_input(Big())

"""The fitness scores a candidate on the network its mask slims to; that must be exactly what
the physically slim network of :func:`slim` computes, or the search optimises something
else."""
import random

import pytest
import torch

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.fitness.base import Partner, Scoring
from deap_gan_prune.fitness.paper import GeneratorFitness
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.nets.slimming import slim


def _nets(use_dropout: bool = False):
    torch.manual_seed(0)
    g = ResnetGenerator(ngf=8, n_blocks=3, use_dropout=use_dropout).eval()
    partner = ResnetGenerator(ngf=8, n_blocks=3).eval()
    d = NLayerDiscriminator(ndf=8).eval()
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    return g, partner, d, images


def _random_masks(space: MaskSpace, n: int, keep: float, seed: int) -> list[list[int]]:
    """``n`` valid masks keeping about ``keep`` of every group (well under 95%: no masked
    forward)."""
    rng = random.Random(seed)
    masks = []
    for _ in range(n):
        bits = [int(rng.random() < keep) for _ in range(space.n_bits)]
        for g in space.groups:  # at least one channel per group
            if not any(bits[g.offset:g.stop]):
                bits[g.offset + rng.randrange(g.size)] = 1
        masks.append(bits)
    return masks


@pytest.mark.parametrize("use_dropout", [False, True])
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.8])
def test_the_scored_network_equals_the_slim_network(use_dropout, keep):
    g, _, d, images = _nets(use_dropout)
    space = space_of(g, images)
    fitness = GeneratorFitness(g, space, images, discriminator=d)
    for bits in _random_masks(space, 4, keep, seed=int(keep * 10)):
        with fitness._network_for(bits) as net:
            assert net is not g  # a slim copy, not the original
            with torch.inference_mode():
                sliced = net(images)
        small = slim(g, bits, space).eval()
        assert small.widths == space.widths_of(bits)
        with torch.inference_mode():
            expected = small(images)
        torch.testing.assert_close(sliced, expected, rtol=0, atol=1e-5)


def test_fitness_terms_equal_those_computed_from_slim_networks():
    g, partner, d, images = _nets()
    space, partner_space = space_of(g, images), space_of(partner, images)
    fitness = GeneratorFitness(g, space, images,
                               Scoring(gamma=1.0, batch_size=2),  # batches of 2, 2, 1:
                               discriminator=d,                    # weighting checked too
                               partner=Partner(partner, partner_space, 10.0))
    partner_bits = _random_masks(partner_space, 1, 0.6, seed=7)[0]
    small_partner = slim(partner, partner_bits, partner_space).eval()
    with torch.inference_mode():
        reference = g(images)
        judged_reference = d(reference)
    for bits in _random_masks(space, 3, 0.4, seed=3):
        small = slim(g, bits, space).eval()
        with torch.inference_mode():
            fake = small(images)
            l_gen = (fake - reference).pow(2).mean().item()
            l_dis = (d(fake) - judged_reference).pow(2).mean().item()
            l_cyc = (small_partner(fake) - images).abs().mean().item()
        size = space.size_ratio(bits, "parameters")
        terms = fitness.terms(bits, partner_bits)
        for name, value in (("l_gen", l_gen), ("l_dis", l_dis), ("l_cyc", l_cyc),
                            ("size_ratio", size)):
            assert terms[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name
        assert terms["fitness"] == pytest.approx(1 / (l_dis + 10.0 * l_cyc + size), rel=1e-5)

"""The fitness adapter's terms on tiny random generators."""
import math
import pickle

import pytest
import torch

from deap_gan_prune.fitness.base import InvalidMaskWarning, Partner, Scoring
from deap_gan_prune.fitness.paper import GeneratorFitness
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return (ResnetGenerator(ngf=4, n_blocks=2).eval(), ResnetGenerator(ngf=4, n_blocks=2).eval(),
            NLayerDiscriminator(ndf=4).eval(), NLayerDiscriminator(ndf=4).eval(),
            torch.rand(6, 3, 32, 32) * 2 - 1, torch.rand(6, 3, 32, 32) * 2 - 1)


def _pair(nets, scoring=None):
    """G_A's and G_B's fitnesses, each with the other as cycle partner (λ = 10)."""
    g_a, g_b, d_a, d_b, x_a, x_b = nets
    space_a, space_b = space_of(g_a, x_a), space_of(g_b, x_b)
    scoring = scoring or Scoring(gamma=1.0)
    return (GeneratorFitness(g_a, space_a, x_a, scoring, discriminator=d_a,
                             partner=Partner(g_b, space_b, 10.0)),
            GeneratorFitness(g_b, space_b, x_b, scoring, discriminator=d_b,
                             partner=Partner(g_a, space_a, 10.0)))


def _half(space):
    bits = space.full()
    for g in space.groups:
        bits[g.offset:g.offset + g.size // 2] = [0] * (g.size // 2)
    return bits


def test_full_mask_has_no_perceptual_loss_and_size_one(nets):
    g_a, _, d_a, _, x_a, _ = nets
    for perceptual in ("discriminator", "features", "pixel"):
        fit = GeneratorFitness(g_a, space_of(g_a, x_a), x_a, Scoring(gamma=2.0),
                               discriminator=d_a, perceptual=perceptual)
        terms = fit.terms(fit.space.full())
        assert terms["l_dis"] == 0
        assert terms["l_gen"] == 0
        assert terms["size_ratio"] == 1.0
        assert terms["l_cyc"] == 0
        assert terms["fitness"] == pytest.approx(1 / 2.0)
        assert fit(fit.space.full()) == (terms["fitness"],)
        assert all(type(v) is float for v in terms.values())


def test_smaller_mask_smaller_size_and_positive_losses(nets):
    fit_a, fit_b = _pair(nets, Scoring(gamma=1.0, size_measure="macs"))
    half = _half(fit_a.space)
    terms = fit_a.terms(half, partner=fit_b.space.full())
    assert 0 < terms["size_ratio"] < 1
    assert terms["l_dis"] > 0
    assert terms["l_gen"] > 0
    assert terms["size_ratio"] == pytest.approx(fit_a.space.size_ratio(half, "macs"))
    manual = terms["l_dis"] + 10.0 * terms["l_cyc"] + 1.0 * terms["size_ratio"]
    assert terms["loss"] == pytest.approx(manual)
    assert terms["fitness"] == pytest.approx(1 / manual)
    # the cycle goes through the partner's mask: another partner, another cycle loss
    other = fit_a.terms(half, partner=_half(fit_b.space))
    assert other["l_cyc"] != terms["l_cyc"]
    assert other["l_dis"] == terms["l_dis"]


def test_cycle_term_equals_a_manual_computation(nets):
    g_a, g_b, _, _, x_a, x_b = nets
    fit_a, _ = _pair(nets, Scoring(gamma=1.0, batch_size=4))
    with torch.no_grad():
        expected = (g_b(g_a(x_a)) - x_a).abs().mean().item()
    full_b = space_of(g_b, x_b).full()
    terms = fit_a.terms(fit_a.space.full(), partner=full_b)
    assert terms["l_cyc"] == pytest.approx(expected, rel=1e-5)
    assert terms["l_dis"] == 0.0


def test_invalid_mask_gets_the_worst_fitness_with_a_warning(nets):
    g_a, _, d_a, _, x_a, _ = nets
    fit = GeneratorFitness(g_a, space_of(g_a, x_a), x_a, discriminator=d_a)
    bits = fit.space.full()
    g = fit.space.group("model.7")  # the residual stream
    bits[g.offset:g.stop] = [0] * g.size
    with pytest.warns(InvalidMaskWarning, match="model.7"):
        assert fit(bits) == (0.0,)


def test_non_finite_loss_gets_the_worst_fitness(nets):
    _g_a, _, d_a, _, x_a, _ = nets
    broken = ResnetGenerator(ngf=4, n_blocks=2).eval()
    with torch.no_grad():
        broken.model[1].weight.fill_(float("nan"))
    fit = GeneratorFitness(broken, space_of(broken, x_a), x_a, discriminator=d_a)
    with pytest.warns(InvalidMaskWarning, match="not finite"):
        assert fit(_half(fit.space)) == (0.0,)


def test_picklable_deterministic_and_memoised(nets):
    g_a, g_b, d_a, _, x_a, _ = nets
    fit_a, fit_b = _pair(nets)
    half, partner = _half(fit_a.space), _half(fit_b.space)
    first = fit_a.terms(half, partner)
    clone = pickle.loads(pickle.dumps(fit_a))
    assert clone._memo == {}
    assert clone.terms(half, partner) == first
    blob = len(pickle.dumps(fit_a))
    weights = sum(p.numel() * 4 for m in (g_a, g_b, d_a) for p in m.parameters())
    assert blob < 2 * weights + x_a.numel() * 4 + 200_000  # no cached outputs in the pickle
    assert fit_a.terms(half, partner) == first
    assert len(fit_a._memo) == 1


def test_the_callers_networks_are_untouched(nets):
    g_a, _, d_a, _, x_a, _ = nets
    before = {k: v.clone() for k, v in g_a.state_dict().items()}
    fit = GeneratorFitness(g_a, space_of(g_a, x_a), x_a, discriminator=d_a)
    fit(_half(fit.space))
    assert all(torch.equal(before[k], v) for k, v in g_a.state_dict().items())
    assert all(p.requires_grad for p in g_a.parameters())


def test_bad_arguments(nets):
    g_a, _, d_a, _, x_a, _ = nets
    space = space_of(g_a, x_a)
    with pytest.raises(ValueError, match="perceptual"):
        GeneratorFitness(g_a, space, x_a, discriminator=d_a, perceptual="nope")
    with pytest.raises(ValueError, match="needs a discriminator"):
        GeneratorFitness(g_a, space, x_a)
    with pytest.raises(ValueError, match="widths"):
        GeneratorFitness(g_a, space_of(ResnetGenerator(ngf=8, n_blocks=2), x_a), x_a,
                         discriminator=d_a)
    assert math.isfinite(GeneratorFitness(g_a, space, x_a, perceptual="pixel")
                         .terms(_half(space))["l_gen"])

"""The adapted fitness: candidates distilled briefly, scored on held-out images."""
import pickle
import warnings

import pytest
import torch

from deap_gan_prune.fitness.adapted import Adaptation, AdaptedFitness
from deap_gan_prune.fitness.base import InvalidMaskWarning, Partner, Scoring
from deap_gan_prune.fitness.distillation import Distillation
from deap_gan_prune.metrics.fidelity import fidelity_scores
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.nets.slimming import slim


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    g_a, g_b = ResnetGenerator(ngf=4, n_blocks=2).eval(), ResnetGenerator(ngf=4, n_blocks=2).eval()
    d_a = NLayerDiscriminator(ndf=4).eval()
    held, adapt = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(6, 3, 32, 32) * 2 - 1
    return g_a, g_b, d_a, held, adapt


def _half(space):
    bits = space.full()
    for g in space.groups:
        bits[g.offset:g.offset + g.size // 2] = [0] * (g.size // 2)
    return bits


def _space(nets):
    g_a, _, _, held, _ = nets
    return space_of(g_a, held)


def _fit(nets, steps=30, lr=2e-4, seed=0, gamma=0.0, size_measure="parameters", **kw):
    g_a, _, _d_a, held, adapt = nets
    return AdaptedFitness(g_a, _space(nets), held,
                          Scoring(gamma=gamma, size_measure=size_measure),
                          adaptation=Adaptation(adapt, steps, lr, seed=seed), **kw)


def test_without_adaptation_the_score_is_the_slim_networks_l1(nets):
    g_a, _, _, held, _ = nets
    fit = _fit(nets, steps=0)
    bits = _half(fit.space)
    small = slim(g_a, bits, fit.space)
    with torch.no_grad():
        expected = (small(held) - g_a(held)).abs().mean().item()
    terms = fit.terms(bits)
    assert terms["score"] == pytest.approx(expected, rel=1e-5)
    assert terms["fitness"] == pytest.approx(1 / expected, rel=1e-5)
    assert terms["l_cyc"] == 0
    full = fit.terms(fit.space.full())
    assert full["score"] < 1e-6
    assert full["size_ratio"] == 1.0


def test_adaptation_lowers_the_held_out_score_and_is_deterministic(nets):
    bits = _half(_space(nets))
    before = _fit(nets, steps=0, lr=5e-3).terms(bits)["score"]
    fit = _fit(nets, steps=20, lr=5e-3)
    after = fit.terms(bits)
    assert after["score"] < 0.9 * before
    again = _fit(nets, steps=20, lr=5e-3).terms(bits)     # a fresh object: not the memo
    assert again == after
    other_seed = _fit(nets, steps=20, lr=5e-3, seed=1).terms(bits)
    assert other_seed["score"] != after["score"]


def test_scores_along_match_separate_runs(nets):
    bits = _half(_space(nets))
    fit = _fit(nets, steps=6, lr=5e-3, discriminator=nets[2])
    along = fit.scores_along(bits, [0, 3, 6])
    assert along[2]["l1"] == pytest.approx(fit.terms(bits)["score"], rel=1e-6)
    three = _fit(nets, steps=3, lr=5e-3, score="ssim").terms(bits)["score"]
    assert along[1]["ssim"] == pytest.approx(three, rel=1e-6)
    assert set(along[0]) == {"l1", "ssim", "discriminator"}
    with pytest.raises(ValueError, match="ascend"):
        fit.scores_along(bits, [6, 3])


def test_ssim_and_discriminator_scores(nets):
    g_a, _, d_a, held, _ = nets
    space = _space(nets)
    bits = _half(space)
    small = slim(g_a, bits, space)
    with torch.no_grad():
        fake, ref = small(held), g_a(held)
        ssim = fidelity_scores(fake, ref)["ssim"]
        dis = (d_a(fake) - d_a(ref)).pow(2).mean().item()
    assert _fit(nets, steps=0, score="ssim").terms(bits)["score"] == pytest.approx(1 - ssim)
    assert _fit(nets, steps=0, score="discriminator", discriminator=d_a).terms(bits)[
        "score"] == pytest.approx(dis, rel=1e-5)
    with pytest.raises(ValueError, match="needs a discriminator"):
        _fit(nets, score="discriminator")
    with pytest.raises(ValueError, match="unknown adapted score"):
        _fit(nets, score="fid")


def test_the_partner_matters_only_with_a_cycle_term(nets):
    g_a, g_b, _d_a, held, adapt = nets
    space_a, space_b = space_of(g_a, held), space_of(g_b, held)

    def fitness_a(weight):
        return AdaptedFitness(g_a, space_a, held, adaptation=Adaptation(adapt, steps=2),
                              partner=Partner(g_b, space_b, weight))
    fit_a = fitness_a(0.0)
    bits = _half(fit_a.space)
    assert not fit_a.uses_partner
    assert fit_a.terms(bits, partner=bits) == fit_a.terms(bits, partner=space_b.full())
    assert len(fit_a._memo) == 1                      # one entry: the partner is ignored
    cyc_a = fitness_a(1.0)
    with_half, with_full = cyc_a.terms(bits, partner=bits), cyc_a.terms(bits, space_b.full())
    assert cyc_a.uses_partner
    assert with_half["l_cyc"] > 0
    assert with_half["l_cyc"] != with_full["l_cyc"]
    assert with_half["loss"] == pytest.approx(with_half["score"] + with_half["l_cyc"])


def test_size_term_invalid_masks_and_pickling(nets):
    fit = _fit(nets, steps=2, gamma=0.5, size_measure="macs")
    bits = _half(fit.space)
    terms = fit.terms(bits)
    assert terms["loss"] == pytest.approx(terms["score"] + 0.5 * terms["size_ratio"])
    assert terms["size_ratio"] == pytest.approx(fit.space.size_ratio(bits, "macs"))
    empty = fit.space.full()
    g = fit.space.groups[0]
    empty[g.offset:g.stop] = [0] * g.size
    with pytest.warns(InvalidMaskWarning, match="keep no channel"):
        assert fit(empty) == (0.0,)
    clone = pickle.loads(pickle.dumps(fit))
    assert clone._memo == {}
    assert clone._reference is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert clone.terms(bits) == terms


def test_distillation_batches_are_fixed_by_the_seed():
    a, b = Distillation(10, 5, batch_size=3, seed=4), Distillation(10, 5, batch_size=3, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.batches, b.batches))
    assert len(a.batches) == 5
    assert all(x.max() < 10 for x in a.batches)
    with pytest.raises(ValueError, match="adaptation image"):
        Distillation(0, 5)

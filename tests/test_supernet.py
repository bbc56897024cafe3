"""Once-for-all training, the supernet fitness and the search on supernet weights (toy size)."""
import random

import pytest
import torch

from deap_gan_prune.evolution.search import SearchConfig, Task, search
from deap_gan_prune.fitness.base import Scoring
from deap_gan_prune.fitness.supernet import SupernetFitness
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.training.supernet import (
    SupernetConfig,
    mean_masked_loss,
    random_mask,
    sandwich_masks,
    train_supernet,
)

BUDGETS = (0.25,)


def _train(generator, images, space, *, checkpoint=None, resume=False, discriminator=None,
           partner=None, **settings):
    """:func:`train_supernet` with ``settings`` of its config, quiet."""
    options = RunOptions(progress=False, checkpoint=checkpoint, resume=resume)
    return train_supernet(generator, images, space, SupernetConfig(**settings), options,
                          discriminator=discriminator, partner=partner)


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(0)
    g_a = ResnetGenerator(ngf=4, n_blocks=2).eval()
    g_b = ResnetGenerator(ngf=4, n_blocks=2).eval()
    images = torch.rand(8, 3, 32, 32) * 2 - 1
    return g_a, g_b, images, space_of(g_a)


@pytest.fixture(scope="module")
def supernet(toy):
    g_a, _, images, space = toy
    return _train(g_a, images, space, steps=30, budgets=BUDGETS, lr=5e-3,
                  batch_size=4, seed=0)


def _same(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_random_masks_meet_their_budget_and_leave_the_global_random_state(toy):
    space = toy[3]
    random.seed(5)
    before = random.getstate()
    masks = sandwich_masks(space, BUDGETS, 3, random.Random(1))
    assert random.getstate() == before
    assert masks[0] == space.full()
    assert len(masks) == 5
    for bits in masks[1:]:
        assert space.is_valid(bits)
        assert space.size_ratio(bits, "parameters") <= 1.0
    assert space.size_ratio(masks[1], "parameters") <= BUDGETS[0]
    assert space.size_ratio(masks[1], "macs") <= BUDGETS[0]
    assert random_mask(space, 0.5, random.Random(2)) == random_mask(space, 0.5, random.Random(2))


def test_training_lowers_the_masked_loss_and_keeps_class_and_widths(toy, supernet):
    g_a, _, images, space = toy
    rng = random.Random(123)  # fixed masks, none of them seen in training by construction
    masks = [random_mask(space, b, rng) for b in (0.25, 0.4, 0.6, 0.8)]
    before = mean_masked_loss(g_a, g_a, images, space, masks)
    after = mean_masked_loss(supernet, g_a, images, space, masks)
    assert after < 0.9 * before  # 0.298 -> 0.250 at this seed
    assert type(supernet) is ResnetGenerator
    assert supernet.widths == g_a.widths
    assert not supernet.training  # the original's mode


def test_training_is_deterministic_and_leaves_the_original(toy):
    g_a, _, images, space = toy
    original = {k: v.clone() for k, v in g_a.state_dict().items()}
    one = _train(g_a, images, space, steps=3, budgets=BUDGETS, seed=4)
    two = _train(g_a, images, space, steps=3, budgets=BUDGETS, seed=4)
    other = _train(g_a, images, space, steps=3, budgets=BUDGETS, seed=5)
    assert _same(one, two)
    assert not _same(one, other)
    assert all(torch.equal(v, original[k]) for k, v in g_a.state_dict().items())


def test_resuming_from_the_checkpoint_equals_an_uninterrupted_run(toy, tmp_path):
    g_a, _, images, space = toy
    kw = {"budgets": BUDGETS, "seed": 2, "lr": 1e-3}
    whole = _train(g_a, images, space, steps=4, **kw)
    ckpt = tmp_path / "state.pt"
    _train(g_a, images, space, steps=2, checkpoint=ckpt, checkpoint_every=1, **kw)
    assert torch.load(ckpt, weights_only=True)["step"] == 2
    resumed = _train(g_a, images, space, steps=4, checkpoint=ckpt, resume=True, **kw)
    assert _same(whole, resumed)
    assert torch.load(ckpt, weights_only=True)["step"] == 4
    with pytest.raises(ValueError, match="another seed"):
        _train(g_a, images, space, steps=5, checkpoint=ckpt, resume=True,
                       **{**kw, "seed": 3})


def test_bad_settings_are_refused(toy):
    g_a, _, images, space = toy
    with pytest.raises(ValueError, match="budgets"):
        _train(g_a, images, space, steps=1, budgets=(0.0,))
    with pytest.raises(ValueError, match="resume needs"):
        _train(g_a, images, space, steps=1, resume=True)


def test_supernet_fitness_is_the_l1_of_the_slim_supernet_to_the_original(toy, supernet):
    g_a, _, images, space = toy
    bits = random_mask(space, 0.3, random.Random(7))
    fit = SupernetFitness(supernet, space, images, Scoring(gamma=0.5), original=g_a)
    terms = fit.terms(bits)
    with torch.no_grad():
        manual = (slim(supernet, bits, space)(images) - g_a(images)).abs().mean()
    assert terms["score"] == pytest.approx(float(manual), rel=1e-5)
    size = space.size_ratio(bits)
    assert terms["size_ratio"] == pytest.approx(size)
    assert terms["fitness"] == pytest.approx(1 / (float(manual) + 0.5 * size), rel=1e-5)
    # scored on the supernet's weights: the original's own weights score worse on this mask
    assert terms["score"] < SupernetFitness(g_a, space, images, original=g_a
                                            ).terms(bits)["score"]
    ssim = SupernetFitness(supernet, space, images, original=g_a, score="ssim"
                           ).terms(bits)["score"]
    assert 0 < ssim < 1


def test_search_on_supernets_returns_masks_within_budget(toy, supernet):
    g_a, g_b, images, _ = toy
    s_b = _train(g_b, images, space_of(g_b), steps=2, budgets=BUDGETS)
    config = SearchConfig(fitness="supernet", population=4, generations=1, budget=0.25,
                          n_images=4, seed=0)
    result = search(Task.pair(g_a, g_b, images, images, supernets={"A": supernet, "B": s_b}),
                    config, RunOptions(progress=False))
    for name, space in result.spaces.items():
        bits, terms = result.masks[name], result.terms[name]
        assert space.size_ratio(bits, "parameters") <= 0.25
        assert space.size_ratio(bits, "macs") <= 0.25
        assert set(terms) == {"fitness", "loss", "score", "size_ratio"}
    with pytest.raises(ValueError, match="needs the task's supernets"):
        search(Task.pair(g_a, g_b, images, images), config, RunOptions(progress=False))


# --- the CycleGAN losses against the original (frozen) discriminator / partner generator ---

@pytest.fixture(scope="module")
def judge():
    from deap_gan_prune import NLayerDiscriminator
    torch.manual_seed(1)
    return NLayerDiscriminator(ndf=4).eval()


def test_gan_weight_zero_is_bit_identical_to_pure_distillation(toy, judge):
    from deap_gan_prune import train_supernet as train
    g_a, g_b, images, space = toy
    kw = {"steps": 3, "budgets": BUDGETS, "seed": 4, "lr": 5e-3}
    plain = train(g_a, images, space, SupernetConfig(**kw), RunOptions(progress=False))
    # weights 0: the discriminator and partner are passed but not used
    zero = _train(g_a, images, space, discriminator=judge, gan_weight=0.0, partner=g_b,
                 cycle_weight=0.0, **kw)
    assert _same(plain, zero)


def test_gan_term_changes_the_weights_deterministically_and_leaves_the_discriminator(
        toy, judge):
    g_a, g_b, images, space = toy
    d_before = {k: v.clone() for k, v in judge.state_dict().items()}
    flags = [p.requires_grad for p in judge.parameters()]
    kw = {"steps": 3, "budgets": BUDGETS, "seed": 4, "lr": 5e-3}
    plain = _train(g_a, images, space, **kw)
    gan = _train(g_a, images, space, discriminator=judge, gan_weight=1.0, **kw)
    again = _train(g_a, images, space, discriminator=judge, gan_weight=1.0, **kw)
    cyc = _train(g_a, images, space, partner=g_b, cycle_weight=1.0, **kw)
    assert not _same(plain, gan)
    assert _same(gan, again)
    assert not _same(plain, cyc)
    assert not _same(gan, cyc)
    assert all(torch.equal(v, d_before[k]) for k, v in judge.state_dict().items())
    assert [p.requires_grad for p in judge.parameters()] == flags
    assert not judge.training


def test_gan_term_lowers_the_least_squares_gan_loss(toy, judge):
    """With a large GAN weight the masked outputs move toward what D calls real."""
    g_a, _, images, space = toy
    kw = {"steps": 15, "budgets": BUDGETS, "seed": 0, "lr": 5e-3}
    plain = _train(g_a, images, space, **kw)
    gan = _train(g_a, images, space, discriminator=judge, gan_weight=10.0, **kw)
    with torch.no_grad():
        def lsgan(net):
            return float((judge(net(images)) - 1).pow(2).mean())
        assert lsgan(gan) < lsgan(plain)


def test_resume_with_gan_weight_and_refusal_of_another(toy, judge, tmp_path):
    from deap_gan_prune import NLayerDiscriminator
    g_a, _, images, space = toy
    kw = {"budgets": BUDGETS, "seed": 2, "lr": 1e-3, "discriminator": judge,
          "gan_weight": 0.5}
    whole = _train(g_a, images, space, steps=4, **kw)
    ckpt = tmp_path / "state.pt"
    _train(g_a, images, space, steps=2, checkpoint=ckpt, checkpoint_every=1, **kw)
    resumed = _train(g_a, images, space, steps=4, checkpoint=ckpt, resume=True, **kw)
    assert _same(whole, resumed)
    for change, word in (({"gan_weight": 0.25}, "gan_weight"),
                         ({"gan_weight": 0.0}, "gan_weight"),
                         ({"discriminator": NLayerDiscriminator(ndf=4)}, "discriminator")):
        with pytest.raises(ValueError, match=f"another {word} ") as err:
            _train(g_a, images, space, steps=5, checkpoint=ckpt, resume=True,
                  **{**kw, **change})
        assert "\n" not in str(err.value)
    # a checkpoint of pure distillation is refused for a run with the GAN term, too
    plain_ckpt = tmp_path / "plain.pt"
    _train(g_a, images, space, steps=1, checkpoint=plain_ckpt, budgets=BUDGETS, seed=2,
          lr=1e-3)
    with pytest.raises(ValueError, match="another gan_weight"):
        _train(g_a, images, space, steps=2, checkpoint=plain_ckpt, resume=True, **kw)


def test_gan_settings_are_checked_in_one_line(toy):
    g_a, _, images, space = toy
    for kw, text in (({"gan_weight": 1.0}, "needs the original discriminator"),
                     ({"cycle_weight": 1.0}, "needs the original partner"),
                     ({"gan_weight": -1.0}, "gan_weight must be"),
                     ({"cycle_weight": float("nan")}, "cycle_weight must be")):
        with pytest.raises(ValueError, match=text) as err:
            _train(g_a, images, space, steps=1, **kw)
        assert "\n" not in str(err.value)


def test_supernet_pair_with_gan_weight_needs_both_discriminators(toy, tmp_path):
    from deap_gan_prune import CycleGAN
    from deap_gan_prune.training import supernet_pair
    g_a, g_b, _, _ = toy
    with pytest.raises(ValueError, match="needs both original discriminators") as err:
        supernet_pair(CycleGAN(g_a, g_b, None, None), None, tmp_path / "out",
                      SupernetConfig(gan_weight=1.0), RunOptions(progress=False))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()

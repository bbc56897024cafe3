"""Entry points that take a seed give the caller's global random states back, after a normal
return and after an exception, and their results depend on the seed alone; helpers give the
caller's modules back in their mode, on their device and with their gradient flags."""
from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch
from PIL import Image

from deap_gan_prune import FrontConfig, RunOptions, SearchConfig, Task, search
from deap_gan_prune.domains import synthetic_data
from deap_gan_prune.metrics.evaluation import generator_latency
from deap_gan_prune.metrics.fidelity import generator_fidelity
from deap_gan_prune.nets.checkpoints import CycleGAN
from deap_gan_prune.nets.frozen import borrowed
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.latency_model import module_ms
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.seeding import seeded
from deap_gan_prune.training import CycleGANConfig, fit_discriminator, train_cyclegan
from deap_gan_prune.training.distill import Teacher, distill_generator
from deap_gan_prune.training.distill_config import DistillConfig
from deap_gan_prune.training.pair import ensure_discriminators, finetune_pair
from deap_gan_prune.training.supernet import SupernetConfig, train_supernet
from deap_gan_prune.translate import translate_folder


class Stop(Exception):
    pass


def states() -> tuple:
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def same_states(a: tuple, b: tuple) -> bool:
    (ra, na, ta), (rb, nb, tb) = a, b
    return (ra == rb and na[0] == nb[0] and np.array_equal(na[1], nb[1])
            and tuple(na[2:]) == tuple(nb[2:]) and torch.equal(ta, tb))


def scramble(k: int) -> tuple:
    """Caller states that differ from run to run (and from any seed an entry point uses)."""
    random.seed(1000 + k)
    np.random.seed(2000 + k)
    torch.manual_seed(3000 + k)
    for _ in range(k):  # and not freshly seeded
        random.random(), np.random.random(), torch.rand(1)
    return states()


def check_entry_point(run, compare) -> None:
    """``run()`` twice from different caller states: the states come back and the results
    are the same."""
    results = []
    for k in (1, 2):
        before = scramble(k)
        results.append(run())
        assert same_states(before, states())
    compare(*results)


def check_raising(run) -> None:
    before = scramble(3)
    with pytest.raises((Stop, KeyboardInterrupt)):
        run()
    assert same_states(before, states())


def raise_stop(*_):
    raise Stop


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    gens = (ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1))
    discs = (NLayerDiscriminator(ndf=4, n_layers=1), NLayerDiscriminator(ndf=4, n_layers=1))
    images = (torch.rand(8, 3, 16, 16) * 2 - 1, torch.rand(8, 3, 16, 16) * 2 - 1)
    return gens, discs, images


SEARCH = {"population": 4, "generations": 1, "n_images": 4, "adapt_images": 4, "adapt_steps": 1,
          "seed": 3}


# -- seeded ------------------------------------------------------------------------------------
def test_seeded_draws_as_seed_everything_and_restores():
    before = scramble(4)
    with seeded(7):
        inside = (random.random(), float(np.random.random()), float(torch.rand(1)))
    assert same_states(before, states())
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    assert inside == (random.random(), float(np.random.random()), float(torch.rand(1)))
    before = scramble(5)
    with pytest.raises(Stop), seeded(8):  # noqa: PT012 (the raise must leave seeded)
        random.random()
        raise Stop
    assert same_states(before, states())
    with seeded(None):
        assert same_states(before, states())  # None: saved and restored, not seeded


# -- searches ------------------------------------------------------------------------------------
def _same_search(a, b):
    assert a.masks == b.masks
    assert a.terms == b.terms
    assert a.to_dict()["logbook"] == b.to_dict()["logbook"]


def test_search_of_a_pair(nets):
    (g_a, g_b), (d_a, d_b), (x_a, x_b) = nets
    config = SearchConfig(**SEARCH)
    task = Task.pair(g_a, g_b, x_a, x_b, discriminators={"A": d_a, "B": d_b})

    def run(callback=None):
        return search(task, config, RunOptions(progress=False, callback=callback))
    check_entry_point(run, _same_search)
    check_raising(lambda: run(raise_stop))


def test_search_of_one_generator(nets):
    g_a, x_a = nets[0][0], nets[2][0]
    config = SearchConfig(**SEARCH)

    def run(callback=None):
        return search(Task({"A": g_a}, {"A": x_a}), config,
                      RunOptions(progress=False, callback=callback))

    def compare(a, b):
        assert a.masks == b.masks
        assert a.terms == b.terms
        assert a.to_dict()["logbook"] == b.to_dict()["logbook"]
    check_entry_point(run, compare)
    check_raising(lambda: run(raise_stop))


def test_search_of_a_front(nets):
    (g_a, g_b), _, (x_a, x_b) = nets
    config = FrontConfig(**{**SEARCH, "population": 4})

    def run(callback=None):
        return search(Task.pair(g_a, g_b, x_a, x_b), config,
                      RunOptions(progress=False, callback=callback))

    def compare(a, b):
        assert a.to_dict() == b.to_dict()
    check_entry_point(run, compare)
    check_raising(lambda: run(raise_stop))


# -- training ----------------------------------------------------------------------------------
def test_train_supernet(nets):
    g_a, x_a = nets[0][0], nets[2][0]
    space = space_of(g_a, x_a)

    def run():
        return train_supernet(g_a, x_a, space,
                              SupernetConfig(steps=2, budgets=(0.25,), batch_size=2, seed=1),
                              RunOptions(progress=False))
    check_entry_point(run, lambda a, b: same_weights(a, b) or pytest.fail("differ"))


@pytest.fixture(scope="module")
def data():
    return synthetic_data(8, 2, size=16, seed=0, n_val=4)


def test_finetune_pair_gives_back_the_caller_states_and_the_originals(nets, data):
    g_a, g_b, d_a, d_b = (copy.deepcopy(m) for m in (*nets[0], *nets[1]))
    gan = CycleGAN(g_a, g_b, d_a, d_b)
    g_a.train()
    g_b.eval()
    flags = [p.requires_grad for p in g_a.parameters()]

    def run(callback=None):
        slim = (copy.deepcopy(g_a), copy.deepcopy(g_b))
        config = CycleGANConfig(steps=2, batch_size=2, seed=1, log_every=1,
                                distill_weight=10.0)
        finetune_pair(gan, *slim, data, config, RunOptions(progress=False, callback=callback))
        return slim

    def compare(a, b):
        assert all(same_weights(x, y) for x, y in zip(a, b))
    check_entry_point(run, compare)
    check_raising(lambda: run(raise_stop))
    assert g_a.training
    assert not g_b.training  # the teacher, as the caller left it
    assert [p.requires_grad for p in g_a.parameters()] == flags


def test_train_cyclegan_and_fit_discriminator(nets, data):
    config = CycleGANConfig(steps=2, batch_size=2, seed=1, log_every=1)

    def run_cyclegan():
        four = [copy.deepcopy(m) for m in (*nets[0], *nets[1])]
        train_cyclegan(CycleGAN(*four), data.loader(2, 1), config, RunOptions(progress=False))
        return four
    check_entry_point(run_cyclegan,
                      lambda a, b: all(same_weights(x, y) for x, y in zip(a, b))
                      or pytest.fail("differ"))
    g = nets[0][0].eval()
    flags = [p.requires_grad for p in g.parameters()]

    def run_fit():
        d = copy.deepcopy(nets[1][0]).eval()
        fit_discriminator(g, d, data.loader(2, 1), config, RunOptions(progress=False))
        assert not d.training  # given back in its mode, trained
        return d
    check_entry_point(run_fit, lambda a, b: same_weights(a, b) or pytest.fail("differ"))
    assert not g.training
    assert [p.requires_grad for p in g.parameters()] == flags


def test_ensure_discriminators(nets):
    gan = CycleGAN(*nets[0])
    data = synthetic_data(8, 2, size=32, seed=0, n_val=4)  # the default D needs 32 px

    def run():
        return ensure_discriminators(gan, data, steps=2, seed=1, progress=False, ndf=4)
    check_entry_point(run, lambda a, b: (same_weights(a.d_a, b.d_a)
                                         and same_weights(a.d_b, b.d_b)) or pytest.fail("x"))


def test_distill_generator(nets, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(
            folder / f"{i:02d}.png")
    config = DistillConfig(steps=2, batch_size=2, image_size=16, val_images=4, val_every=0,
                           disc_fit_steps=1, disc_ndf=4, disc_layers=1, pool_size=2, seed=3)
    teacher = nets[0][0]

    def run(callback=None):
        student = copy.deepcopy(teacher)
        distill_generator(student, Teacher(teacher), folder, config,
                          RunOptions(progress=False, callback=callback))
        return student
    check_entry_point(run, lambda a, b: same_weights(a, b) or pytest.fail("differ"))
    check_raising(lambda: run(callback=lambda *_: True))


# -- helpers: the caller's module ----------------------------------------------------------------
def test_borrowed_gives_back_mode_device_and_flags():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout()).train()
    net[0].bias.requires_grad_(False)
    with (pytest.raises(Stop),  # noqa: PT012 (checks inside borrowed, then the raise leaves it)
          borrowed(net, device="cpu", training=False, requires_grad=True)):
        assert not net.training
        assert all(p.requires_grad for p in net.parameters())
        raise Stop
    assert net.training
    assert [p.requires_grad for p in net.parameters()] == [True, False]


@pytest.mark.parametrize("training", [True, False])
def test_helpers_keep_the_callers_mode(nets, tmp_path, training):
    g, other = (copy.deepcopy(m).train(training) for m in nets[0])
    x = nets[2][0][:2]
    generator_latency({"g": g, "other": other}, x, repeats=1, warmup=0)
    generator_fidelity(g, other, x, batch_size=2)
    module_ms(g, x, repeats=1, warmup=0)
    source = tmp_path / "in"
    source.mkdir()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(source / "a.png")
    translate_folder(g, source, tmp_path / "out", progress=False)
    assert g.training is training
    assert other.training is training
    assert all(p.device.type == "cpu" for p in g.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_helpers_give_back_the_device(nets):
    g, other = (copy.deepcopy(m) for m in nets[0])
    generator_fidelity(g, other, nets[2][0][:2], batch_size=2, device="cuda")
    assert all(p.device.type == "cpu" for m in (g, other) for p in m.parameters())
    before = torch.cuda.get_rng_state()
    with seeded(1, ["cuda"]):
        torch.rand(1, device="cuda")
    assert torch.equal(before, torch.cuda.get_rng_state())

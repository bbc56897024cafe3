"""Tests of the CycleGAN training loop (tiny networks, 16x16 images, a few steps)."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.checkpoints import CycleGAN
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.training import (
    CycleGANConfig,
    DistillLoss,
    ImagePool,
    PairTeacher,
    finetune,
    fit_discriminator,
    init_weights,
    lr_factor,
    train_cyclegan,
)

SIZE = 16
QUIET = RunOptions(progress=False)


def make_nets(seed: int = 0, ngf: int = 4, n_blocks: int = 1):
    torch.manual_seed(seed)
    return (ResnetGenerator(ngf=ngf, n_blocks=n_blocks),
            ResnetGenerator(ngf=ngf, n_blocks=n_blocks),
            NLayerDiscriminator(ndf=4, n_layers=2), NLayerDiscriminator(ndf=4, n_layers=2))


def make_loader(n_batches: int = 4, batch: int = 2, seed: int = 1):
    """Domain A: smooth dark images; domain B: bright stripes (learnable, random, fixed)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    stripes = (torch.arange(SIZE) % 4 < 2).float().view(1, 1, 1, SIZE) * 2 - 1
    for _ in range(n_batches):
        a = torch.tanh(torch.randn(batch, 3, SIZE, SIZE, generator=g) * 0.3) - 0.5
        b = stripes.expand(batch, 3, SIZE, SIZE) * 0.8 + 0.1 * torch.randn(
            batch, 3, SIZE, SIZE, generator=g)
        out.append({"A": a.clamp(-1, 1), "B": b.clamp(-1, 1)})
    return out


def states_equal(m1, m2) -> bool:
    s1, s2 = m1.state_dict(), m2.state_dict()
    return s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)


def test_loop_runs_changes_weights_and_logs():
    nets = make_nets()
    before = [copy.deepcopy(n) for n in nets]
    cfg = CycleGANConfig(steps=6, log_every=2, pool_size=3)
    seen = []
    options = QUIET.replace(callback=lambda step, logs: seen.append((step, dict(logs))))
    hist = train_cyclegan(CycleGAN(*nets), make_loader(), cfg, options)
    assert hist["step"] == [2.0, 4.0, 6.0]
    for key in ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B", "lr"):
        assert len(hist[key]) == 3
        assert all(isinstance(v, float) for v in hist[key])
    assert [s for s, _ in seen] == [2, 4, 6]
    assert all(not states_equal(n, b) for n, b in zip(nets, before))


def test_cycle_loss_decreases():
    nets = make_nets()
    cfg = CycleGANConfig(steps=40, log_every=10, lr=1e-3, pool_size=4)
    hist = train_cyclegan(CycleGAN(*nets), make_loader(), cfg, QUIET)
    assert hist["cycle_A"][-1] < hist["cycle_A"][0]
    assert hist["cycle_B"][-1] < hist["cycle_B"][0]


def test_determinism_under_seed():
    runs = []
    for _ in range(2):
        nets = make_nets(seed=3)
        train_cyclegan(CycleGAN(*nets), make_loader(),
                       CycleGANConfig(steps=8, pool_size=2, seed=5), QUIET)
        runs.append(nets)
    assert all(states_equal(a, b) for a, b in zip(*runs))


def test_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(3)
    nets = make_nets()
    torch.manual_seed(123)
    train_cyclegan(CycleGAN(*nets), make_loader(), CycleGANConfig(steps=3, pool_size=1), QUIET)
    assert torch.equal(torch.rand(3), expected)


def test_loss_weights_match_manual_computation():
    nets = make_nets()
    ref = [copy.deepcopy(n) for n in nets]
    loader = make_loader()
    cfg = CycleGANConfig(steps=1, log_every=1, lambda_cycle=7.0, lambda_identity=0.3)
    hist = train_cyclegan(CycleGAN(*nets), loader, cfg, QUIET)
    g_a, g_b, d_a, d_b = ref
    a, b = loader[0]["A"], loader[0]["B"]
    with torch.no_grad():
        fake_b, fake_a = g_a(a), g_b(b)
        expect = {"cycle_A": 7.0 * F.l1_loss(g_b(fake_b), a),
                  "cycle_B": 7.0 * F.l1_loss(g_a(fake_a), b),
                  "idt_A": 7.0 * 0.3 * F.l1_loss(g_a(b), b),
                  "idt_B": 7.0 * 0.3 * F.l1_loss(g_b(a), a),
                  "G_A": F.mse_loss(d_a(fake_b), torch.ones_like(d_a(fake_b))),
                  "G_B": F.mse_loss(d_b(fake_a), torch.ones_like(d_b(fake_a)))}
    for key, value in expect.items():
        assert hist[key][0] == pytest.approx(float(value), rel=1e-5), key


def test_identity_weight_zero_skips_identity_forward():
    calls = {}
    for li in (0.5, 0.0):
        nets = make_nets()
        count = [0]
        nets[0].register_forward_hook(lambda *_a, count=count: count.__setitem__(0, count[0] + 1))
        hist = train_cyclegan(CycleGAN(*nets), make_loader(),
                              CycleGANConfig(steps=2, lambda_identity=li), QUIET)
        calls[li] = count[0]
        assert ("idt_A" in hist) == (li > 0)
    assert calls[0.5] == 2 * 3  # G_A(a), G_A(G_B(b)), G_A(b) per step
    assert calls[0.0] == 2 * 2


def test_lr_schedule_constant_then_linear_to_zero():
    assert [lr_factor(s, 10, 4) for s in range(11)] == pytest.approx(
        [1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0])
    cfg = CycleGANConfig(steps=10, decay_start=0.5, log_every=1, lr=1e-3)
    hist = train_cyclegan(CycleGAN(*make_nets()), make_loader(), cfg, QUIET)
    lrs = hist["lr"]
    assert lrs[:6] == pytest.approx([1e-3] * 6)
    diffs = [lrs[i] - lrs[i + 1] for i in range(5, 9)]
    assert diffs == pytest.approx([1e-3 / 5] * 4)
    assert lrs[-1] == pytest.approx(1e-3 / 5)
    assert cfg.lr_at(10) == 0.0


def test_image_pool_semantics():
    imgs = [torch.full((1, 1, 2, 2), float(i)) for i in range(200)]
    pool = ImagePool(3, seed=0)
    for i in range(3):  # filling: returns the input itself
        assert torch.equal(pool.query(imgs[i]), imgs[i])
    assert len(pool) == 3
    outs = [float(pool.query(imgs[i])[0, 0, 0, 0]) for i in range(3, 200)]
    from_pool = sum(o != i for o, i in zip(outs, range(3, 200)))
    assert 0.3 < from_pool / len(outs) < 0.7
    assert all(o < i for o, i in zip(outs, range(3, 200)) if o != i)  # older images come back
    pool2 = ImagePool(3, seed=0)
    outs2 = [float(pool2.query(imgs[i])[0, 0, 0, 0]) for i in range(200)][3:]
    assert outs2 == outs
    pool3 = ImagePool(3, seed=1)
    assert [float(pool3.query(imgs[i])[0, 0, 0, 0]) for i in range(200)][3:] != outs
    batch = torch.randn(5, 3, 4, 4)
    assert torch.equal(ImagePool(0).query(batch), batch)
    assert ImagePool(2, seed=0).query(batch).shape == batch.shape


def test_finetune_distillation_pulls_toward_teacher():
    t_a, t_b, d_a, d_b = make_nets(seed=0)
    loader = make_loader()
    small = GeneratorWidths(2, 4, 16, (4,), 4, 2)
    a = torch.cat([b["A"] for b in loader])
    with torch.no_grad():
        target = t_a(a)
    dist = {}
    for w in (0.0, 10.0):
        torch.manual_seed(7)
        s_a, s_b = ResnetGenerator(widths=small), ResnetGenerator(widths=small)
        teacher_before = copy.deepcopy(t_a)
        finetune(CycleGAN(s_a, s_b, copy.deepcopy(d_a), copy.deepcopy(d_b)), loader,
                 CycleGANConfig(steps=30, lr=1e-3, distill_weight=w,
                                distill=DistillLoss.l1_only()), QUIET,
                 teacher=PairTeacher(t_a, t_b))
        assert states_equal(t_a, teacher_before)
        with torch.no_grad():
            dist[w] = float(F.l1_loss(s_a(a), target))
    assert dist[10.0] < dist[0.0]


def test_finetune_frozen_discriminators_unchanged_and_distill_logged():
    t_a, t_b, d_a, d_b = make_nets()
    s_a, s_b = copy.deepcopy(t_a), copy.deepcopy(t_b)
    d_before = copy.deepcopy(d_a)
    hist = finetune(CycleGAN(s_a, s_b, d_a, d_b), make_loader(),
                    CycleGANConfig(steps=3, log_every=1, distill_weight=1.0,
                                   freeze_discriminators=True,
                                   distill=DistillLoss.l1_only()), QUIET,
                    teacher=PairTeacher(t_a, t_b))
    assert states_equal(d_a, d_before)
    assert "D_A" not in hist
    assert hist["distill_A"][0] == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="teacher"):
        finetune(CycleGAN(s_a, s_b, d_a, d_b), make_loader(),
                 CycleGANConfig(steps=1, distill_weight=1.0), QUIET)


@pytest.mark.parametrize("direction", ["A", "B"])
def test_fit_discriminator_trains_d_and_keeps_generator(direction):
    g, _, d, _ = make_nets()
    g_before = copy.deepcopy(g)
    loader = make_loader()
    real_key, src_key = ("B", "A") if direction == "A" else ("A", "B")
    real = torch.cat([b[real_key] for b in loader])
    with torch.no_grad():
        fake = g(torch.cat([b[src_key] for b in loader]))

    def d_loss():
        with torch.no_grad():
            return float(0.5 * (F.mse_loss(d(real), torch.ones_like(d(real)))
                                + F.mse_loss(d(fake), torch.zeros_like(d(fake)))))

    before = d_loss()
    hist = fit_discriminator(g, d, loader, CycleGANConfig(steps=30, lr=1e-3, log_every=10),
                             QUIET, direction=direction)
    assert d_loss() < before
    assert hist["D"][-1] < hist["D"][0]
    assert states_equal(g, g_before)
    assert all(p.requires_grad for p in g.parameters())


def test_checkpoints_upstream_names_atomic_and_loadable(tmp_path):
    nets = make_nets()
    train_cyclegan(CycleGAN(*nets), make_loader(), CycleGANConfig(steps=4, checkpoint_every=2),
                   QUIET, checkpoint_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted(f"{tag}_net_{n}.pth" for tag in ("2", "4", "latest")
                      for n in ("G_A", "G_B", "D_A", "D_B"))
    assert names == expected  # no temporary files left
    for n, net in zip(("G_A", "G_B", "D_A", "D_B"), nets):
        state = torch.load(tmp_path / f"latest_net_{n}.pth", weights_only=True)
        assert list(state) == list(net.state_dict())
        assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert "model.1.weight" in torch.load(tmp_path / "2_net_G_A.pth", weights_only=True)


def test_bad_inputs_raise_clear_errors():
    nets = make_nets()
    with pytest.raises(ValueError, match="dict with keys"):
        train_cyclegan(CycleGAN(*nets), [torch.zeros(1, 3, SIZE, SIZE)],
                       CycleGANConfig(steps=1), QUIET)
    with pytest.raises(ValueError, match="no batches"):
        train_cyclegan(CycleGAN(*nets), [], CycleGANConfig(steps=1), QUIET)
    with pytest.raises(ValueError, match="decay_start"):
        CycleGANConfig(decay_start=1.5)
    with pytest.raises(ValueError, match="direction"):
        fit_discriminator(nets[0], nets[2], make_loader(), 1, QUIET, direction="C")


def test_init_weights_upstream_normal_and_seeded():
    g1, g2 = ResnetGenerator(ngf=8, n_blocks=2), ResnetGenerator(ngf=8, n_blocks=2)
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    init_weights(g1, 0.02, seed=4)
    init_weights(g2, 0.02, seed=4)
    assert torch.equal(torch.rand(2), expected)
    assert states_equal(g1, g2)
    weights = torch.cat([m.weight.detach().flatten() for m in g1.modules()
                         if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))])
    assert 0.018 < float(weights.std()) < 0.022
    assert all(float(m.bias.detach().abs().max()) == 0.0 for m in g1.modules()
               if isinstance(m, torch.nn.Conv2d))


def test_teacher_recipe_smoke(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "train_teacher.py"
    spec = importlib.util.spec_from_file_location("train_teacher", path)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    summary = recipe.main(["--steps", "2", "--eval-every", "1", "--n-train", "4", "--n-test", "2",
                           "--batch-size", "2", "--out", str(tmp_path), "--quiet"])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([f"latest_net_{n}.pth" for n in ("G_A", "G_B", "D_A", "D_B")]
                           + ["teacher.json"])
    state = torch.load(tmp_path / "latest_net_G_A.pth", weights_only=True)
    g = ResnetGenerator(ngf=16, n_blocks=6)
    g.load_state_dict(state)
    meta = json.loads((tmp_path / "teacher.json").read_text())
    assert meta["steps"] == 2
    assert meta["best_step"] in (1, 2)
    assert meta == json.loads(
        json.dumps(summary))
    assert set(meta["measures"]) >= {"a2b_stripe_share", "b2a_brown_share"}
    assert meta["real_baselines"]["zebra_stripe_share"] > 0.5

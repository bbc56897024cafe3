"""Distillation terms beside L1 (SSIM, image gradients, features), distillation augmentation,
warm-up and EMA (toy sizes: ngf 4, 16 px images)."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from generic_nets import AffineResnet
from test_distill import SIZE, write_folder

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.streams import Augment, ImageStream
from deap_gan_prune.training.distill import Teacher, _Distillation, distill_generator
from deap_gan_prune.training.distill_config import DistillConfig, DistillLoss
from deap_gan_prune.training.distill_terms import feature_layers, ssim_loss


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("terms")
    write_folder(root / "trainA", 24, seed=0)
    return root / "trainA"


def _half(space: MaskSpace) -> list[int]:
    return [int(j < max(1, g.size // 2)) for g in space.groups for j in range(g.size)]


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    teacher = ResnetGenerator(ngf=4, n_blocks=2, use_dropout=True).eval()
    space = space_of(teacher)
    bits = _half(space)
    return teacher, slim(teacher, bits, space), (space, bits)


@pytest.fixture(scope="module")
def traced():
    torch.manual_seed(0)
    teacher = AffineResnet(ngf=4, n_blocks=2).eval()
    space = space_of(teacher, torch.rand(1, 3, SIZE, SIZE))
    bits = _half(space)
    return teacher, slim(teacher, bits, space), (space, bits)


def config(**options) -> DistillConfig:
    base = {"steps": 4, "batch_size": 2, "lr": 1e-2, "image_size": SIZE, "val_images": 2,
            "val_every": 2, "checkpoint_every": 2, "log_every": 1, "seed": 3}
    return DistillConfig.upstream(**{**base, **options})


def _distil(nets, folder, cfg, best=None, **options):
    teacher, student, mask = nets
    student = copy.deepcopy(student)
    result = distill_generator(student, Teacher(teacher, mask), folder, cfg,
                               RunOptions(progress=False, **options), best=best)
    return student, result


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_upstream_recipe_keeps_its_settings_and_the_default_adds_every_term(resnet, folder):
    plain = config()
    off = config(loss=DistillLoss(l1=1.0, ssim=0.0, gradient=0.0, feature=0.0),
                 augment=Augment(scale_jitter=(1.0, 1.0), load_sizes=(), color_jitter=0.0),
                 warmup_steps=0, ema=0.0)
    assert off == plain
    assert not {"loss", "augment", "warmup_steps", "ema"} & set(plain.settings())
    assert config(ema=0.5).settings()["ema"] == 0.5
    default = DistillConfig(steps=4, batch_size=2, image_size=SIZE, val_images=2, val_every=2,
                            log_every=1, seed=3, loss=DistillLoss(ssim_window=5))
    assert {"loss", "augment", "warmup_steps", "ema"} <= set(default.settings())
    assert (default.lr, default.ema, default.warmup_steps) == (5e-4, 0.999, 200)
    assert default.augment.active
    student, result = _distil(resnet, folder, default)
    assert {"l1", "ssim", "feature"} <= set(result.history)
    assert all(math.isfinite(v) and v > 0 for v in result.history["feature"])
    tuned, _ = _distil(resnet, folder, plain)
    assert not _same(student, tuned), "the default recipe trains differently from upstream's"


@pytest.mark.parametrize(("nets_name", "loss", "key"), [
    ("resnet", DistillLoss(ssim=1.0, ssim_window=5), "ssim"),
    ("resnet", DistillLoss(gradient=1.0), "gradient"),
    ("resnet", DistillLoss(feature=1.0), "feature"),
    ("resnet", DistillLoss(feature=1.0, feature_layers="blocks", feature_map="1x1"),
     "feature"),
    ("traced", DistillLoss(feature=1.0, feature_layers="blocks"), "feature"),
    ("traced", DistillLoss(feature=1.0, feature_map="1x1"), "feature"),
])
def test_each_term_is_computed_and_moves_the_weights(request, folder, nets_name, loss, key):
    nets = request.getfixturevalue(nets_name)
    plain, _ = _distil(nets, folder, config())
    tuned, result = _distil(nets, folder, config(loss=loss))
    values = result.history[key]
    assert len(values) == 4
    assert all(math.isfinite(v) and v > 0 for v in values)
    assert not _same(plain, tuned)


def test_feature_layers_match_the_kept_channels(resnet, traced):
    for teacher, student, (space, bits) in (resnet, traced):
        x = torch.rand(1, 3, SIZE, SIZE)
        layers = feature_layers(student, teacher, DistillLoss(feature=1.0), x, (space, bits))
        assert layers
        assert all(f.kept is not None and len(f.kept) == f.student_channels
                              < f.original_channels for f in layers)
    teacher, student, (space, bits) = resnet
    blocks = feature_layers(student, teacher, DistillLoss(feature=1, feature_layers="blocks"),
                            x, (space, bits))
    assert [f.name for f in blocks] == ["model.10", "model.11"]
    with pytest.raises(ValueError, match="give the mask the student was slimmed with"):
        feature_layers(student, teacher, DistillLoss(feature=1.0), x)
    with pytest.raises(ValueError, match="feature layer 'nowhere' is not a module"):
        feature_layers(student, teacher, DistillLoss(feature=1, feature_layers=("nowhere",)),
                       x, (space, bits))
    # Learned 1x1 maps need no mask (they start from a seeded random map).
    one = feature_layers(student, teacher, DistillLoss(feature=1, feature_map="1x1"), x)
    assert all(f.kept is None for f in one)


def test_augmentation_changes_the_batches_and_the_original_labels_them(resnet, folder):
    files = sorted(folder.iterdir())
    extra = Augment(scale_jitter=(0.8, 1.3), load_sizes=(SIZE, 24), color_jitter=0.3)
    plain, jittered = ImageStream(files, SIZE, seed=1), ImageStream(files, SIZE, seed=1,
                                                                     extra=extra)
    assert all(jittered[c].shape == (3, SIZE, SIZE) for c in range(6))
    assert not any(torch.equal(plain[c], jittered[c]) for c in range(6))
    assert torch.equal(jittered[4], ImageStream(files, SIZE, seed=1, extra=extra)[4])
    teacher, student, mask = resnet
    cfg = config(augment=extra, teacher_pool=5, loss=DistillLoss(feature=1.0))
    run = _Distillation(copy.deepcopy(student), Teacher(teacher, mask), files, cfg, None, None,
                        False)
    assert run.features is not None
    run.features.attach(run.student, run.teacher)
    run.setup_teacher_pool()
    run.features.detach()
    assert run.pool_x is not None
    assert run.pool_t is not None
    assert torch.equal(run.pool_x[0], jittered.__class__(run.train_files, SIZE, seed=3,
                                                         extra=extra)[0])
    with torch.no_grad():
        assert torch.allclose(run.pool_t, run.teacher(run.pool_x))
    assert len(run.pool_f) == len(run.features.layers)
    assert run.pool_f[0].shape[0] == 5
    _, result = _distil(resnet, folder, cfg)
    assert all(math.isfinite(v) for v in result.history["feature"])


def test_warmup_scales_the_first_steps():
    cfg = DistillConfig(steps=10, lr=1.0, decay_start=0.5, warmup_steps=4)
    assert [cfg.lr_at(s) for s in range(10)] == pytest.approx(
        [0.25, 0.5, 0.75, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])


def test_ema_weights_are_validated_and_returned(resnet, folder, tmp_path):
    cfg = config(ema=0.6, val_images=0, keep_best=False)
    tuned, _ = _distil(resnet, folder, cfg, checkpoint=tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    raw, ema = state["student"], state["ema"]["weights"]
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)
    assert all(torch.equal(v, ema[k]) for k, v in tuned.state_dict().items())
    best = tmp_path / "best.pth"
    tuned, _result = _distil(resnet, folder, config(ema=0.6), best=best)
    assert all(torch.equal(v, torch.load(best, weights_only=True)[k])
               for k, v in tuned.state_dict().items())


ALL_ON = {"loss": DistillLoss(l1=0.5, ssim=0.5, ssim_window=5, gradient=0.5, feature=0.5,
                              feature_map="1x1"),
          "augment": Augment(scale_jitter=(0.9, 1.2), color_jitter=0.2), "warmup_steps": 2,
          "ema": 0.7}


@pytest.mark.parametrize(("stop_after", "pool"), [(3, 0), (2, 5)])
def test_resume_after_a_kill_with_every_term_on(resnet, folder, tmp_path, stop_after, pool):
    cfg = config(steps=6, teacher_pool=pool, **ALL_ON)

    def interrupt(step, _logs):
        if step == stop_after:
            raise KeyboardInterrupt
    whole, expected = _distil(resnet, folder, cfg, checkpoint=tmp_path / "whole.pt")
    with pytest.raises(KeyboardInterrupt):
        _distil(resnet, folder, cfg, checkpoint=tmp_path / "cut.pt", callback=interrupt)
    resumed, result = _distil(resnet, folder, cfg, checkpoint=tmp_path / "cut.pt",
                              resume=True)
    assert result.resumed_from == 2
    assert _same(whole, resumed)
    assert result.history == expected.history
    assert result.validation == expected.validation


def test_pair_fine_tuning_takes_the_terms_and_resumes(tmp_path):
    from deap_gan_prune.domains import synthetic_data
    from deap_gan_prune.nets.checkpoints import CycleGAN
    from deap_gan_prune.nets.models import NLayerDiscriminator
    from deap_gan_prune.training import CycleGANConfig, finetune_pair
    torch.manual_seed(0)
    gan = CycleGAN(ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1),
                   NLayerDiscriminator(ndf=4, n_layers=2), NLayerDiscriminator(ndf=4, n_layers=2))
    spaces = [space_of(g) for g in (gan.g_a, gan.g_b)]
    masks = [(s, _half(s)) for s in spaces]
    smalls = [slim(g, b, s) for g, (s, b) in zip((gan.g_a, gan.g_b), masks)]
    data = synthetic_data(n_train=8, n_test=2, size=SIZE, n_val=2)
    loss = DistillLoss(ssim=1.0, ssim_window=5, gradient=1.0, feature=1.0)

    def run(path, distill=None, stop_after=None, resume=False):
        a, b = copy.deepcopy(smalls)

        def interrupt(step, _logs):
            if step == stop_after:
                raise KeyboardInterrupt
        config = CycleGANConfig(steps=4, batch_size=2, seed=1, distill_weight=10.0,
                                log_every=1, checkpoint_every=2, distill=distill)
        options = RunOptions(progress=False, callback=interrupt, checkpoint=path,
                             resume=resume)
        history = finetune_pair(gan, a, b, data, config, options, masks=masks)
        return (a, b), history
    (pa, pb), plain = run(tmp_path / "plain.pt")
    (ta, tb), tuned = run(tmp_path / "tuned.pt", loss)
    assert not _same(pa, ta)
    assert plain["distill_A"] != tuned["distill_A"]
    (da, db), default = run(tmp_path / "default.pt", DistillLoss.l1_only())
    assert _same(pa, da)
    assert _same(pb, db)
    assert default == plain
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut.pt", loss, stop_after=3)
    (ra, rb), resumed = run(tmp_path / "cut.pt", loss, resume=True)
    assert _same(ta, ra)
    assert _same(tb, rb)
    assert resumed == tuned


def test_ssim_loss_and_one_line_errors():
    x = torch.rand(2, 3, 40, 40) * 2 - 1
    assert float(ssim_loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(ssim_loss(x, -x, window=3, multi_scale=True)) > 0.1
    for make, match in ((lambda: DistillLoss(ssim=-1), "DistillLoss: ssim must be >= 0"),
                        (lambda: DistillLoss(ssim_window=4), "ssim_window must be an odd"),
                        (lambda: DistillLoss(l1=0, ssim=0, feature=0), "every weight is 0"),
                        (lambda: DistillLoss(feature_map="2x2"), "feature_map must be kept"),
                        (lambda: Augment(color_jitter=1.5), "Augment: color_jitter must be in"),
                        (lambda: config(ema=1.0), "DistillConfig: ema must be"),
                        (lambda: config(augment=Augment(load_sizes=(8,))), "augment must be")):
        with pytest.raises(ValueError, match=match) as info:
            make()
        assert "\n" not in str(info.value)


@pytest.mark.usefixtures("resnet")
def test_cli_and_compress_take_the_options(traced, folder, tmp_path, capsys):
    import json

    from deap_gan_prune.cli import main
    from deap_gan_prune.compression import CompressConfig, CompressError
    from deap_gan_prune.nets.checkpoints import architecture_of, save_generator
    teacher, student, (space, bits) = traced
    weights = tmp_path / "g.pth"
    torch.save(teacher.state_dict(), weights)
    save_generator(student, tmp_path / "slim" / "slim_G_A.pth", space=space, bits=bits,
                   architecture=architecture_of(AffineResnet, {"ngf": 4, "n_blocks": 2}))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "trainA").symlink_to(folder)
    command = ["finetune", str(tmp_path / "slim"), "--generator", "generic_nets:AffineResnet",
               "--generator-kwargs", '{"ngf": 4, "n_blocks": 2}', "--weights", str(weights),
               "--dataroot", str(tmp_path / "data"), "--image-size", str(SIZE), "--steps", "3",
               "--batch-size", "2", "--val-images", "2", "--quiet", "--ssim", "1",
               "--ssim-window", "5", "--gradient", "1", "--feature", "1", "--feature-layers",
               "blocks", "--scale-jitter", "0.9", "1.2", "--color-jitter", "0.2",
               "--warmup-steps", "1", "--ema", "0.5"]
    assert main([*command, "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "slim_G_A.json").read_text())
    assert main([*command, "--ssim-window", "4", "--out", str(tmp_path / "x")]) == 1
    assert "--ssim-window must be an odd number" in capsys.readouterr().err
    with pytest.raises(CompressError, match=r"^ema: only for one generator of your class"):
        CompressConfig(ema=0.5)
    with pytest.raises(CompressError, match=r"^color_jitter = 2.0: must be in \[0, 1\)"):
        CompressConfig(generator="a:B", weights="w", color_jitter=2.0)
    config = CompressConfig(distill_ssim=1.0, feature_layers="model.10, model.11")
    assert config.distill_loss().feature_layers == ("model.10", "model.11")
    assert "distill_ssim" in config.stage_settings("finetune")
    assert "distill_ssim" not in CompressConfig().stage_settings("finetune")

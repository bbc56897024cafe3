"""Fine-tuning of a slim generator on a whole folder (toy sizes: ngf 4, 16 px images)."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from PIL import Image

from deap_gan_prune import streams
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.streams import ImageStream, holdout_split
from deap_gan_prune.training.distill import Teacher, distill_generator
from deap_gan_prune.training.distill_config import DistillConfig
from deap_gan_prune.training.resumable import ResumeStateError
from deap_gan_prune.training.validation import ValidationSet

SIZE = 16


def write_folder(folder, n: int, seed: int = 0, size: int = 20) -> list:
    """``n`` random smooth colour PNGs of ``size`` px in ``folder``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(folder / f"{i:03d}.png")
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_folder(root / "trainA", 80, seed=0)
    write_folder(root / "trainB", 12, seed=1)
    return root


def nets(dropout: bool = False):
    torch.manual_seed(0)
    teacher = ResnetGenerator(ngf=4, n_blocks=1).eval()
    torch.manual_seed(1)
    student = ResnetGenerator(ngf=4, n_blocks=1, use_dropout=dropout)
    return student, teacher


def config(**options) -> DistillConfig:
    base = {"steps": 12, "batch_size": 2, "lr": 1e-3, "image_size": SIZE, "val_images": 4,
            "val_every": 4, "checkpoint_every": 3, "log_every": 2, "disc_fit_steps": 2,
            "disc_ndf": 4, "disc_layers": 1, "pool_size": 3, "seed": 3}
    return DistillConfig.upstream(**{**base, **options})


def test_stream_reads_every_training_file_and_no_validation_file(root, monkeypatch):
    files = sorted((root / "trainA").iterdir())
    train, val = holdout_split(files, 8, seed=5)
    assert len(train) == 72
    assert len(val) == 8
    assert not set(train) & set(val)
    assert holdout_split(files, 8, seed=5) == (train, val) != holdout_split(files, 8, seed=6)
    read = []
    original = streams.read_rgb
    monkeypatch.setattr(streams, "read_rgb", lambda p: read.append(p) or original(p))
    student, teacher = nets()
    cfg = config(steps=36, val_images=8, val_every=0, seed=5, checkpoint_every=100)
    result = distill_generator(student, Teacher(teacher), root / "trainA", cfg,
                               RunOptions(progress=False))
    assert result.val_files == [str(f) for f in val]
    assert set(read) == set(train)  # 36 steps x 2 = one epoch: every training file, once
    assert len(read) == 72
    assert max(int(p.stem) for p in read) >= 64
    stream = ImageStream(train, SIZE, seed=5)
    assert sorted(stream.file_of(c) for c in range(72)) == sorted(train)
    assert [stream.file_of(c) for c in range(72)] != [stream.file_of(c) for c in range(72, 144)]
    assert not torch.equal(stream[0], stream[72 + list(stream.order(1)).index(
        int(stream.order(0)[0]))])  # the same file, another epoch: another crop or flip


def test_learning_rate_schedule():
    cfg = DistillConfig(steps=10, lr=1.0, decay_start=0.5, warmup_steps=0)
    assert [cfg.lr_at(s) for s in range(10)] == pytest.approx(
        [1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert DistillConfig(steps=10, lr=0.5, decay_start=1.0, warmup_steps=0).lr_at(9) == 0.5


def test_best_weights_are_those_of_the_lowest_validation_loss(root, tmp_path):
    student, teacher = nets()
    lrs = []

    def spoil(step, logs):  # weights ruined after step 11: a later validation cannot be best
        lrs.append(logs["lr"])
        if step == 11:
            with torch.no_grad():
                for p in student.parameters():
                    p.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    best = tmp_path / "best.pth"
    result = distill_generator(student, Teacher(teacher), root / "trainA",
                               config(steps=16, lr=3e-2, val_every=2, log_every=1),
                               RunOptions(progress=False, callback=spoil), best=best)
    cfg = config(steps=16, lr=3e-2)
    assert lrs == pytest.approx([cfg.lr_at(s) for s in range(16)])
    assert result.history["lr"] == pytest.approx(lrs)
    steps = [v["step"] for v in result.validation]
    assert steps == list(range(0, 17, 2))
    lowest = min(result.validation, key=lambda v: v["l1"])
    assert result.best == lowest
    assert 0 < lowest["step"] < 12  # neither the start nor the end
    assert result.validation[-1]["l1"] > lowest["l1"]
    saved = torch.load(best, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in student.state_dict().items())
    images = streams.load_images(result.val_files, SIZE)
    again = ValidationSet.from_original(teacher, images)(student)
    assert again == pytest.approx({k: lowest[k] for k in ("l1", "psnr_db")}, rel=1e-5)


def _run(root, tmp_path, stop_after=None, resume=False, **settings):
    student, teacher = nets(dropout=True)

    def interrupt(step, _logs):
        if step == stop_after:
            raise KeyboardInterrupt
    options = RunOptions(progress=False, callback=interrupt, checkpoint=tmp_path / "state.pt",
                         resume=resume)
    result = distill_generator(student, Teacher(teacher), root / "trainA", config(**settings),
                               options, target=root / "trainB")
    return student, result


@pytest.mark.parametrize(("stop_after", "options"), [
    (2, {}), (3, {}), (4, {}), (8, {}), (9, {}), (11, {}),
    (5, {"teacher_pool": 5, "adversarial": 0.0})])
def test_resume_after_a_kill_ends_with_the_same_weights(root, tmp_path, stop_after, options):
    options = {"adversarial": 0.5, **options}
    whole, expected = _run(root, tmp_path / "whole", **options)
    with pytest.raises(KeyboardInterrupt):
        _run(root, tmp_path / "cut", stop_after=stop_after, **options)
    written = stop_after // 3 * 3  # checkpoints every 3 steps; none before step 3
    state = tmp_path / "cut" / "state.pt"
    assert (torch.load(state, weights_only=True)["step"] if state.exists() else 0) == written
    resumed, result = _run(root, tmp_path / "cut", resume=True, **options)
    assert result.resumed_from == written
    for key, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    assert result.validation == expected.validation
    assert result.best == expected.best
    assert result.history == expected.history
    if options["adversarial"]:
        assert "D" in result.history
        assert "adversarial" in result.history


def test_a_checkpoint_of_other_settings_is_refused(root, tmp_path):
    _run(root, tmp_path, steps=3)
    with pytest.raises(ResumeStateError, match=r"written with lr = 0\.001, this run has 0\.002"):
        _run(root, tmp_path, resume=True, steps=3, lr=2e-3)
    student, teacher = nets(dropout=True)
    other = copy.deepcopy(teacher)
    with torch.no_grad():
        next(other.parameters()).add_(1)
    with pytest.raises(ResumeStateError, match="written with teacher = ") as info:
        distill_generator(student, Teacher(other), root / "trainA", config(steps=3),
                          RunOptions(progress=False, checkpoint=tmp_path / "state.pt",
                                     resume=True), target=root / "trainB")
    assert "\n" not in str(info.value)
    (tmp_path / "junk.pt").write_text(json.dumps({"step": 3}))
    with pytest.raises(ResumeStateError, match=r"junk\.pt: not a readable checkpoint"):
        distill_generator(student, Teacher(teacher), root / "trainA", config(steps=3),
                          RunOptions(progress=False, checkpoint=tmp_path / "junk.pt",
                                     resume=True))


def test_cli_finetunes_a_generator_of_its_own_class_on_a_folder(root, tmp_path, capsys):
    from generic_nets import AffineResnet

    from deap_gan_prune.cli import main
    from deap_gan_prune.nets.checkpoints import architecture_of, load_generator, save_generator
    from deap_gan_prune.nets.groups import space_of
    from deap_gan_prune.nets.slimming import slim
    torch.manual_seed(0)
    net = AffineResnet(ngf=4, n_blocks=1).eval()
    weights = tmp_path / "g.pth"
    torch.save(net.state_dict(), weights)
    space = space_of(net, torch.rand(1, 3, SIZE, SIZE))
    bits = [int(j < max(1, g.size // 2)) for g in space.groups for j in range(g.size)]
    slim_dir = tmp_path / "slim"
    arch = architecture_of(AffineResnet, {"ngf": 4, "n_blocks": 1})
    save_generator(slim(net, bits, space), slim_dir / "slim_G_A.pth", architecture=arch,
                   space=space, bits=bits)
    state = tmp_path / "state.pt"
    command = ["finetune", str(slim_dir), "--generator", "generic_nets:AffineResnet",
               "--generator-kwargs", '{"ngf": 4, "n_blocks": 1}', "--weights", str(weights),
               "--dataroot", str(root), "--image-size", str(SIZE), "--steps", "6",
               "--batch-size", "2", "--val-every", "3", "--val-images", "4", "--checkpoint",
               str(state), "--checkpoint-every", "2", "--quiet"]
    assert main([*command, "--out", str(tmp_path / "out")]) == 0
    assert "on 76 images (4 held out); kept the best validation" in capsys.readouterr().out
    info = json.loads((tmp_path / "out" / "slim_G_A.json").read_text())
    assert info["finetune"]["train_images"] == 76
    assert info["finetune"]["best"]["step"] in (
        0, 3, 6)
    own = {"class": "generic_nets:AffineResnet"}  # the class the JSON may name
    tuned = load_generator(tmp_path / "out" / "slim_G_A.pth", architecture=own)
    best = torch.load(tmp_path / "state_best.pth", weights_only=True)
    assert all(torch.equal(best[k], v) for k, v in tuned.state_dict().items())
    assert main([*command, "--out", str(tmp_path / "again")]) == 1
    assert "the file exists; add --resume" in capsys.readouterr().err
    assert main([*command, "--resume", "--lr", "1e-3", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "written with lr = 0.0005, this run has 0.001" in err
    assert err.count("\n") == 1
    assert main([*command, "--resume", "--out", str(tmp_path / "again")]) == 0  # all done
    again = load_generator(tmp_path / "again" / "slim_G_A.pth", architecture=own)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in tuned.state_dict().items())
    assert main([*command, "--overwrite", "--adversarial", "0.1", "--disc-fit-steps", "1",
                 "--image-size", "32", "--val-images", "2", "--out", str(tmp_path / "adv")]) == 0
    assert json.loads((tmp_path / "adv" / "slim_G_A.json").read_text())["finetune"][
        "adversarial"] == 0.1
    assert main([*command, "--overwrite", "--discriminator", str(weights), "--out",
                 str(tmp_path / "y")]) == 1
    assert "--discriminator needs --adversarial" in capsys.readouterr().err

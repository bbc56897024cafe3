"""The upstream pair's fine-tuning: validation keeping the best, exact resume (toy sizes)."""
from __future__ import annotations

import copy

import pytest
import torch

from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.domains import synthetic_data
from deap_gan_prune.nets.checkpoints import CycleGAN
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.training import CycleGANConfig, DistillLoss
from deap_gan_prune.training.pair import finetune_pair
from deap_gan_prune.training.resumable import ResumeStateError
from deap_gan_prune.training.validation import PairValidation

#: the students are not slimmed from the originals (no masks): distilled by L1 alone
L1 = DistillLoss.l1_only()


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    gan = CycleGAN(ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1),
                   NLayerDiscriminator(ndf=4, n_layers=2), NLayerDiscriminator(ndf=4, n_layers=2))
    small = GeneratorWidths(3, 3, 3, (6,), 3, 1)
    slim = (ResnetGenerator(widths=small, use_dropout=True),
            ResnetGenerator(widths=small, use_dropout=True))
    return gan, slim, synthetic_data(n_train=8, n_test=2, size=16, n_val=3)


def _pair(setup, path, stop_after=None, resume=False, **settings):
    gan, slim, data = setup
    a, b = copy.deepcopy(slim)

    def interrupt(step, _logs):
        if step == stop_after:
            raise KeyboardInterrupt
    config = CycleGANConfig(**{"steps": 8, "batch_size": 2, "seed": 1, "distill_weight": 10.0,
                               "log_every": 1, "val_every": 3, "checkpoint_every": 2,
                               "distill": L1, **settings})
    options = RunOptions(progress=False, callback=interrupt, checkpoint=path, resume=resume)
    history = finetune_pair(gan, a, b, data, config, options)
    return (a, b), history


def test_pair_stopped_by_the_callback_writes_its_state_and_resumes(setup, tmp_path):
    gan, slim, data = setup
    whole, expected = _pair(setup, tmp_path / "whole.pt")
    a, b = copy.deepcopy(slim)
    config = CycleGANConfig(steps=8, batch_size=2, seed=1, distill_weight=10.0, log_every=1,
                            val_every=3, checkpoint_every=2, distill=L1)
    options = RunOptions(progress=False, callback=lambda step, _logs: step == 3,
                         checkpoint=tmp_path / "cut.pt")
    with pytest.raises(KeyboardInterrupt, match="after step 3"):
        finetune_pair(gan, a, b, data, config, options)
    assert torch.load(tmp_path / "cut.pt", weights_only=True)["step"] == 3
    resumed, history = _pair(setup, tmp_path / "cut.pt", resume=True)
    for g, h in zip(whole, resumed):
        for key, value in g.state_dict().items():
            assert torch.equal(h.state_dict()[key], value), key
    assert history == expected


@pytest.mark.parametrize("stop_after", [2, 3, 5])
def test_pair_resumed_after_a_kill_ends_with_the_same_weights(setup, tmp_path, stop_after):
    whole, expected = _pair(setup, tmp_path / "whole.pt")
    with pytest.raises(KeyboardInterrupt):
        _pair(setup, tmp_path / "cut.pt", stop_after=stop_after)
    saved = torch.load(tmp_path / "cut.pt", weights_only=True)
    assert saved["step"] == stop_after // 2 * 2
    resumed, history = _pair(setup, tmp_path / "cut.pt", resume=True)
    for g, h in zip(whole, resumed):
        for key, value in g.state_dict().items():
            assert torch.equal(h.state_dict()[key], value), key
    assert history == expected


def test_pair_validation_keeps_the_best(setup, tmp_path):
    gan, _, data = setup
    (a, b), history = _pair(setup, tmp_path / "state.pt", lr=5e-2)
    assert history["val_step"] == [0, 3, 6, 8]
    best = min(range(4), key=lambda i: history["val_l1"][i])
    assert history["best_step"] == [history["val_step"][best]]
    scores = PairValidation(gan.g_a, gan.g_b, data.val_a, data.val_b)(a, b)
    assert scores["l1"] == pytest.approx(history["val_l1"][best], rel=1e-5)
    with pytest.raises(ResumeStateError, match=r"written with lr = 0\.05, this run has 0\.0002"):
        _pair(setup, tmp_path / "state.pt", resume=True)


def test_pair_cli_checkpoint_and_resume(gan_dir, tmp_path, capsys):
    from deap_gan_prune.cli import main
    from deap_gan_prune.nets.checkpoints import save_generator
    slim = tmp_path / "slim"
    torch.manual_seed(0)
    for name in ("G_A", "G_B"):
        save_generator(ResnetGenerator(ngf=4, n_blocks=2), slim / f"slim_{name}.pth")
    command = ["finetune", str(slim), "--checkpoints", str(gan_dir), "--image-size", "32",
               "--n-train", "8", "--n-test", "2", "--steps", "4", "--batch-size", "2",
               "--val-every", "2", "--val-images", "2", "--checkpoint",
               str(tmp_path / "state.pt"), "--quiet"]
    assert main([*command, "--out", str(tmp_path / "one")]) == 0
    assert "kept the best validation, step" in capsys.readouterr().out
    assert main([*command, "--resume", "--out", str(tmp_path / "two")]) == 0
    for name in ("G_A", "G_B"):
        one = torch.load(tmp_path / "one" / f"slim_{name}.pth", weights_only=True)
        two = torch.load(tmp_path / "two" / f"slim_{name}.pth", weights_only=True)
        assert all(torch.equal(one[k], two[k]) for k in one)
    assert main([*command, "--adversarial", "1", "--overwrite"]) == 1
    assert "--adversarial: only with --generator" in capsys.readouterr().err

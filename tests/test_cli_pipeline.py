"""Every subcommand end to end at toy size: search → slim → finetune → evaluate, plot."""
import json

import pytest
import torch

from deap_gan_prune.cli import main
from deap_gan_prune.nets.models import ResnetGenerator

DATA = ["--image-size", "32", "--n-train", "8", "--n-test", "4", "--quiet"]


def test_search_slim_finetune_evaluate_plot(gan_dir, tmp_path, capsys):
    masks = tmp_path / "masks.json"
    assert main(["search", "--checkpoints", str(gan_dir), *DATA, "--population", "4",
                 "--generations", "2", "--budget", "0.5", "--n-images", "4",
                 "--out", str(masks)]) == 0
    data = json.loads(masks.read_text())
    assert len(data["logbook"]) == 3
    assert (tmp_path / "masks_fitness.png").exists()

    slim_dir = tmp_path / "slim"
    assert main(["slim", str(masks), "--checkpoints", str(gan_dir), "--out", str(slim_dir)]) == 0
    info = json.loads((slim_dir / "slim_G_A.json").read_text())
    assert info["parameters"] <= 0.5 * sum(p.numel() for p in
                                           ResnetGenerator(ngf=4, n_blocks=2).parameters())

    before = torch.load(slim_dir / "slim_G_B.pth", weights_only=True)
    finetune = ["finetune", str(slim_dir), "--checkpoints", str(gan_dir), *DATA, "--steps", "2",
                "--batch-size", "2"]
    assert main([*finetune, "--out", str(slim_dir)]) == 1  # never over the files it reads
    assert "is the input SLIM" in capsys.readouterr().err
    assert main(finetune) == 0
    tuned = tmp_path / "slim_finetuned"  # the default: a new folder beside the slim one
    after = torch.load(tuned / "slim_G_B.pth", weights_only=True)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    unchanged = torch.load(slim_dir / "slim_G_B.pth", weights_only=True)
    assert all(torch.equal(before[k], unchanged[k]) for k in before)

    summary = tmp_path / "summary.json"
    assert main(["evaluate", str(tuned), "--checkpoints", str(gan_dir), *DATA,
                 "--repeats", "1", "--judge-steps", "5", "--out", str(summary)]) == 0
    out = capsys.readouterr().out
    assert "G_A pruned" in out
    assert "higher better" in out
    report = json.loads(summary.read_text())
    assert report["generators"]["G_B"]["sizes"]["pruned"]["parameters"] < \
        report["generators"]["G_B"]["sizes"]["original"]["parameters"]
    assert "outline" in report["quality"]["pruned"]

    png = tmp_path / "replot.png"
    assert main(["plot", str(masks), "--out", str(png)]) == 0
    assert png.exists()


def test_subcommand_errors(gan_dir, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["slim", str(bad), "--checkpoints", str(gan_dir)]) == 1
    assert "not a valid JSON" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "missing.json")]) == 1
    assert main(["search", "--checkpoints", str(tmp_path / "nowhere"), *DATA]) == 1
    err = capsys.readouterr().err
    assert "no such folder" in err
    assert err.count("\n") == 2  # plot's error, then search's
    assert main(["search", "--dataroot", str(tmp_path / "nodata"), "--checkpoints",
                 str(gan_dir), "--quiet"]) == 1
    assert main(["search", "--checkpoints", str(gan_dir), *DATA, "--budget", "2"]) == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--population", "many"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("command", ["inspect", "search", "slim", "finetune", "evaluate",
                                     "plot", "export", "translate"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage" in capsys.readouterr().out


@pytest.mark.slow
def test_search_with_workers_checkpoint_and_resume(gan_dir, tmp_path, capsys):
    args = ["search", "--checkpoints", str(gan_dir), *DATA, "--population", "4",
            "--generations", "2", "--n-images", "4", "--checkpoint", str(tmp_path / "ck.json")]
    assert main([*args, "--out", str(tmp_path / "in_process.json")]) == 0
    assert main([*args, "--workers", "2", "--resume", "--out", str(tmp_path / "resumed.json")]) == 0
    first = json.loads((tmp_path / "in_process.json").read_text())
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert first["masks"] == resumed["masks"]
    assert first["logbook"] == resumed["logbook"]
    capsys.readouterr()
    assert main([*args, "--gamma", "5", "--resume"]) == 1
    assert "gamma" in capsys.readouterr().err


@pytest.mark.slow
def test_a_finished_search_can_be_extended(gan_dir, tmp_path):
    args = ["search", "--checkpoints", str(gan_dir), *DATA, "--population", "4",
            "--n-images", "4", "--checkpoint", str(tmp_path / "ck.json")]
    assert main([*args, "--generations", "1", "--out", str(tmp_path / "short.json")]) == 0
    assert main([*args, "--generations", "3", "--resume", "--out", str(tmp_path / "ext.json")]) == 0
    assert main(["search", "--checkpoints", str(gan_dir), *DATA, "--population", "4",
                 "--n-images", "4", "--generations", "3", "--out",
                 str(tmp_path / "long.json")]) == 0
    extended = json.loads((tmp_path / "ext.json").read_text())
    straight = json.loads((tmp_path / "long.json").read_text())
    assert [r["gen"] for r in extended["logbook"]] == [0, 1, 2, 3]
    assert extended["masks"] == straight["masks"]
    assert extended["logbook"] == straight["logbook"]

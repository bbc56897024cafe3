"""'deap-gan-prune supernet' then 'search --supernet' then 'slim' from the supernet, at toy
size."""
import json

import torch

from deap_gan_prune.cli import main
from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.nets.checkpoints import load_cyclegan, load_generator
from deap_gan_prune.nets.slimming import slim

DATA = ["--image-size", "32", "--n-train", "8", "--n-test", "4", "--quiet"]


def test_supernet_then_search_then_slim(gan_dir, tmp_path, capsys):
    sup = tmp_path / "supernet"
    train = ["supernet", "--checkpoints", str(gan_dir), *DATA, "--steps", "2",
             "--budgets", "0.25", "--train-images", "8", "--out", str(sup)]
    assert main(train) == 0
    original, trained = load_cyclegan(gan_dir), load_cyclegan(sup)
    assert trained.g_a.widths == original.g_a.widths
    assert trained.has_discriminators
    assert any(not torch.equal(v, original.g_a.state_dict()[k])
               for k, v in trained.g_a.state_dict().items())
    assert json.loads((sup / "supernet.json").read_text())["steps"] == 2

    assert main(train) == 1  # exists: needs --resume or --overwrite
    assert "holds supernets already" in capsys.readouterr().err
    assert main([*train[:train.index("--steps") + 1], "3", *train[train.index("--steps") + 2:],
                 "--resume"]) == 0
    assert torch.load(sup / "train_state_G_A.pt", weights_only=True)["step"] == 3

    masks = tmp_path / "masks.json"
    assert main(["search", "--checkpoints", str(gan_dir), "--supernet", str(sup), *DATA,
                 "--population", "4", "--generations", "1", "--budget", "0.25",
                 "--n-images", "4", "--out", str(masks)]) == 0
    result = json.loads(masks.read_text())
    assert result["config"]["fitness"] == "supernet"
    assert result["supernet"] == str(sup)
    assert result["terms"]["A"]["size_ratio"] <= 0.25

    slim_dir = tmp_path / "slim"
    assert main(["slim", str(masks), "--checkpoints", str(sup), "--out", str(slim_dir)]) == 0
    assert (slim_dir / "slim_G_B.pth").exists()

    front = tmp_path / "front.json"
    assert main(["search", "--front", "--checkpoints", str(gan_dir), "--supernet", str(sup),
                 *DATA, "--population", "4", "--generations", "1", "--n-images", "4",
                 "--adapt-score", "ssim", "--no-latency", "--out", str(front)]) == 0
    data = json.loads(front.read_text())
    assert data["kind"] == "front"
    assert data["supernet"] == str(sup)
    assert data["config"]["fitness"] == "supernet"
    assert data["config"]["adapt_score"] == "ssim"
    point_dir = tmp_path / "point"
    assert main(["slim", str(front), "--index", "0", "--out", str(point_dir)]) == 0
    assert f"slimming from the supernet {sup}" in capsys.readouterr().out
    small = load_generator(point_dir / "slim_G_A.pth")
    space = MaskSpace.from_dict(data["spaces"]["A"])
    expected = slim(load_cyclegan(sup).g_a, data["points"][0]["A"], space)
    assert all(torch.equal(v, expected.state_dict()[k]) for k, v in small.state_dict().items())


def test_supernet_options_refused_in_one_line(gan_dir, tmp_path, capsys):
    masks = str(tmp_path / "m.json")
    assert main(["search", "--checkpoints", str(gan_dir), *DATA, "--fitness", "supernet",
                 "--out", masks]) == 1
    err = capsys.readouterr().err
    assert "needs --supernet DIR" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["search", "--checkpoints", str(gan_dir), *DATA, "--supernet", str(gan_dir),
                 "--fitness", "paper", "--out", masks]) == 1
    assert "leave out --fitness paper" in capsys.readouterr().err
    assert main(["search", "--checkpoints", str(gan_dir), *DATA, "--supernet",
                 str(tmp_path / "none"), "--out", masks]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert main(["search", "--checkpoints", str(gan_dir), *DATA, "--supernet", "--out",
                 masks]) == 1
    err = capsys.readouterr().err
    assert "shipped teacher's" in err
    assert len(err.strip().splitlines()) == 1


def test_supernet_gan_weight_end_to_end_and_missing_discriminators(gan_dir, tmp_path, capsys):
    import shutil

    from deap_gan_prune import load_cyclegan as load

    def train(src, out, *extra):
        return main(["supernet", "--checkpoints", str(src), *DATA, "--steps", "2",
                     "--budgets", "0.25", "--train-images", "8", "--out", str(out), *extra])

    plain, gan = tmp_path / "plain", tmp_path / "gan"
    assert train(gan_dir, plain) == 0
    assert train(gan_dir, gan, "--gan-weight", "1.0", "--cycle-weight", "10") == 0
    settings = json.loads((gan / "supernet.json").read_text())
    assert settings["gan_weight"] == 1.0
    assert settings["cycle_weight"] == 10.0
    assert json.loads((plain / "supernet.json").read_text())["gan_weight"] == 0.0
    a, b, original = load(plain), load(gan), load(gan_dir)
    for name in ("g_a", "g_b"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert any(not torch.equal(sa[k], sb[k]) for k in sa)
    for name in ("d_a", "d_b"):  # the discriminators are copied unchanged
        so, sb = getattr(original, name).state_dict(), getattr(b, name).state_dict()
        assert all(torch.equal(so[k], sb[k]) for k in so)
    capsys.readouterr()

    # resuming with another weight is refused in one line
    assert train(gan_dir, gan, "--gan-weight", "2.0", "--cycle-weight", "10", "--resume") == 1
    err = capsys.readouterr().err
    assert "another gan_weight" in err
    assert len(err.strip().splitlines()) == 1

    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("G_A", "G_B"):
        shutil.copy(gan_dir / f"latest_net_{name}.pth", bare)
    assert train(bare, tmp_path / "x", "--gan-weight", "1.0") == 1
    err = capsys.readouterr().err
    assert "--gan-weight needs the original discriminators" in err
    assert len(err.strip().splitlines()) == 1
    assert train(gan_dir, tmp_path / "y", "--gan-weight", "-1") == 1
    assert "gan_weight must be >= 0, got -1" in capsys.readouterr().err

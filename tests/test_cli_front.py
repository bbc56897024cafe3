"""search --front → plot → slim --at-size / --at-latency, end to end at toy size."""
import json

import pytest

from deap_gan_prune.cli import main
from deap_gan_prune.cli.common import parse_latency
from deap_gan_prune.nets.models import ResnetGenerator

DATA = ["--image-size", "32", "--n-train", "8", "--n-test", "4", "--quiet"]
SEARCH = ["--population", "6", "--generations", "2", "--n-images", "4", "--adapt-images", "4",
          "--adapt-steps", "2"]


@pytest.fixture(scope="module")
def front_file(gan_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("front") / "front.json"
    assert main(["search", "--front", "--checkpoints", str(gan_dir), *DATA, *SEARCH,
                 "--out", str(out)]) == 0
    return out


def test_search_front_writes_front_plot_and_latency_model(front_file):
    data = json.loads(front_file.read_text())
    assert data["kind"] == "front"
    assert data["objectives"] == ["score", "parameters"]
    assert len(data["points"]) >= 2
    assert 0 <= data["chosen"] < len(data["points"])
    assert all("latency" in p["values"] for p in data["points"])
    assert (front_file.parent / "front_front.png").stat().st_size > 0
    cache = json.loads((front_file.parent / "front_latency.json").read_text())
    assert cache["format"] == "deap_gan_prune/latency-model"
    assert len(cache["models"]) == 1
    key = cache["models"][0]["key"]  # G_A and G_B share one architecture: one model
    assert key["image_size"] == 32
    assert key["runtime"] == "torch"
    assert data["latency"] == key


def test_plot_and_slim_take_a_point(front_file, gan_dir, tmp_path, capsys):
    png = tmp_path / "front.png"
    assert main(["plot", str(front_file), "--out", str(png), "--x", "latency",
                 "--at-size", "0.3"]) == 0
    assert png.stat().st_size > 0
    data = json.loads(front_file.read_text())
    target = sorted(p["values"]["parameters"] for p in data["points"])[1]
    out = tmp_path / "slim"
    assert main(["slim", str(front_file), "--checkpoints", str(gan_dir), "--out", str(out),
                 "--at-size", str(target)]) == 0
    info = json.loads((out / "slim_G_A.json").read_text())
    point = data["points"][info["front_point"]]
    assert point["values"]["parameters"] <= target
    best = min((p for p in data["points"] if p["values"]["parameters"] <= target),
               key=lambda p: p["values"]["score"])
    assert point["A"] == best["A"]
    assert point["B"] == best["B"]
    full = sum(p.numel() for p in ResnetGenerator(ngf=4, n_blocks=2).parameters())
    assert info["parameters"] == pytest.approx(point["terms"]["A"]["parameters"] * full)
    latency = max(p["values"]["latency"] for p in data["points"])
    assert main(["slim", str(front_file), "--checkpoints", str(gan_dir), "--out",
                 str(tmp_path / "slim2"), "--at-latency", f"{latency}ms"]) == 0
    capsys.readouterr()


def test_front_errors_are_one_line(front_file, gan_dir, tmp_path, capsys):
    assert main(["slim", str(front_file), "--checkpoints", str(gan_dir), "--out",
                 str(tmp_path / "s"), "--at-size", "0.0001"]) == 1
    err = capsys.readouterr().err
    assert "no point of the front is within" in err
    assert err.count("\n") == 1
    assert main(["search", "--front", "--budget", "0.25", *DATA]) == 1
    assert "--budget" in capsys.readouterr().err
    assert main(["search", "--front", "--no-latency", "--objectives", "latency", *DATA]) == 1
    capsys.readouterr()
    bad = tmp_path / "bad_latency.json"
    bad.write_text("{}")
    assert main(["search", "--front", "--checkpoints", str(gan_dir), *DATA, *SEARCH,
                 "--out", str(tmp_path / "f.json"), "--latency-table", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad_latency.json" in err
    assert "not a latency model file" in err
    assert err.count("\n") == 1
    assert parse_latency("20ms") == 20
    assert parse_latency("0.02s") == 20
    assert parse_latency("7") == 7

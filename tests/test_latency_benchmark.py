import importlib.util
import json
import statistics
from pathlib import Path

import pytest
import torch

from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.checkpoints import save_generator
from deap_gan_prune.nets.models import ResnetGenerator

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "latency.py"


@pytest.fixture(scope="module")
def latency():
    spec = importlib.util.spec_from_file_location("latency_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_quick_run_writes_json_and_prints_the_table(latency, tmp_path, capsys):
    out = tmp_path / "latency.json"
    assert latency.main(["--quick", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["interleaved"] is True
    assert result["statistic"] == "median"
    assert result["repeats"] == 2
    assert result["threads"] == 1
    assert result["quick"] is True
    assert "output positions" in result["mac_convention"]
    assert result["higher_is_better"]["speedup"]
    assert not result["higher_is_better"]["slim_ms"]
    assert [p["name"] for p in result["pairs"]] == ["teacher", "full"]
    rows = result["rows"]
    # teacher: 2 sizes x 2 batches x 3 backends; full: 1 size x 2 batches x 3 backends
    assert len(rows) == 18
    assert {(r["pair"], r["image_size"]) for r in rows} == {("teacher", 16), ("teacher", 32),
                                                           ("full", 32)}
    assert {r["backend"] for r in rows} == {"eager", "torchscript", "onnxruntime"}
    assert {r["batch"] for r in rows} == {1, 8}
    for r in rows:
        assert len(r["original_runs_ms"]) == len(r["slim_runs_ms"]) == 2
        assert r["original_ms"] == pytest.approx(statistics.median(r["original_runs_ms"]))
        assert r["slim_ms"] == pytest.approx(statistics.median(r["slim_runs_ms"]))
        assert r["speedup"] == pytest.approx(r["original_ms"] / r["slim_ms"])
        assert r["pairwise_speedup"] == pytest.approx(statistics.median(
            a / b for a, b in zip(r["original_runs_ms"], r["slim_runs_ms"])))
        assert 0.2 < r["mac_ratio"] <= 0.25
        assert r["macs_slim"] == pytest.approx(r["mac_ratio"] * r["macs_original"])
    for p in result["pairs"]:  # parameters of the networks the recorded widths build
        for kind in ("original", "slim"):
            net = ResnetGenerator(widths=GeneratorWidths.from_dict(p[f"{kind}_widths"]))
            assert p[f"{kind}_parameters"] == sum(t.numel() for t in net.parameters())
        assert p["slim_parameters"] < p["original_parameters"]
    assert "speed-up" in printed
    assert "MAC ratio" in printed
    assert "output positions" in printed
    assert printed.count("onnxruntime") >= 6
    assert f"wrote {out}" in printed


def test_given_files_and_subsets(latency, tmp_path):
    torch.manual_seed(0)
    save_generator(ResnetGenerator(ngf=4, n_blocks=1), tmp_path / "G.pth")
    torch.manual_seed(1)
    save_generator(ResnetGenerator(ngf=2, n_blocks=1), tmp_path / "S.pth")
    out = tmp_path / "given.json"
    code = latency.main(["--quick", "--threads", "1", "--no-progress", "--no-full",
                         "--original", str(tmp_path / "G.pth"), "--slim", str(tmp_path / "S.pth"),
                         "--backends", "eager", "--batches", "2", "--repeats", "3",
                         "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert [p["name"] for p in result["pairs"]] == ["given"]
    assert result["pairs"][0]["slim_widths"]["first"] == 2
    assert [(r["image_size"], r["batch"], r["backend"]) for r in result["rows"]] == [
        (16, 2, "eager"), (32, 2, "eager")]
    assert all(len(r["slim_runs_ms"]) == 3 for r in result["rows"])
    assert result["rows"][0]["mac_ratio"] < 0.5


def test_bad_generator_file_is_one_line_exit_1(latency, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"nope")
    assert latency.main(["--quick", "--original", str(bad), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "bad.pth" in err


def test_runs_are_interleaved_and_alternate_order(latency):
    calls = []
    times_a, times_b = latency.time_interleaved(lambda: calls.append("a"),
                                                lambda: calls.append("b"), repeats=4, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert len(times_a) == len(times_b) == 4


def test_usage_errors(latency):
    with pytest.raises(SystemExit):
        latency.parse_args(["--slim", "x.pth"])
    with pytest.raises(SystemExit):
        latency.parse_args(["--backends", "tensorrt"])

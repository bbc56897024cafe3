"""The real-generator benchmark end to end at toy size (a random-weight small
VintageGenerator, tiny images, a few steps), its resumption per cell, the level-off rule,
the candidate-cost benchmark and the missing-weights message."""
import importlib.util
import json
import statistics
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from _benchmarks import load_benchmark

#: end-to-end runs of the benchmark scripts: in the full suite, not the fast lane
pytestmark = pytest.mark.slow

TOY = ["--toy", "--quiet", "--seeds", "0", "1", "--leveloff-steps", "16", "--read-every", "4"]


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("real_generator")


def _args(work: Path) -> list[str]:
    return [*TOY, "--work", str(work), "--out", str(work / "out.json"),
            "--plot", str(work / "quality.png"), "--sheet", str(work / "sheet.png")]


def _main(module, argv) -> int:
    threads = torch.get_num_threads()
    try:
        return module.main(argv)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy_run(bench, tmp_path_factory):
    work = tmp_path_factory.mktemp("real_generator")
    assert _main(bench, _args(work)) == 0
    return work, json.loads((work / "out.json").read_text())


@pytest.mark.slow
def test_every_cell_done_within_budget_and_reported(toy_run):
    work, result = toy_run
    cells = result["cells"]
    assert result["cells_done"] == result["cells_planned"] == len(cells) == 2 * 2 * 4 + 4 + 4 + 1
    assert result["finetune_steps"] == 16                # not levelled: the whole length
    for c in cells.values():
        limit = 1 / c["budget"] + 1e-9
        assert c["params_ratio"] <= limit, c["cell"]
        if c["method"] == "search":                       # repaired in both measures
            assert c["macs_ratio"] <= 1 / c["budget"] + 0.01, c["cell"]
        assert [e["step"] for e in c["readings"]] == [0, 4, 8, 12, 16]
        assert c["final"]["step"] == 16
        assert c["quarter"]["step"] == 4
        assert c["readings"][0] != c["final"]             # fine-tuning changed the network
        lat = c["latency"]  # measured side by side: the ratio is of the two medians
        assert lat["speedup"] == pytest.approx(lat["original_ms"] / lat["slim_ms"])
        assert lat["runs"] == 2
        assert lat["threads"] == 1
        assert lat["size"] == result["settings"]["large_size"]
    # the uniform masks keep the same counts; first vs random channels differ
    a, b = cells["uniform_first_8x_s0"], cells["uniform_random_8x_s0"]
    assert a["kept"] == b["kept"]
    assert a["mask"] != b["mask"]
    # random masks with the searched counts have exactly the search's counts
    assert cells["random_like_search_8x_s0"]["kept"] == cells["search_8x_s0"]["kept"]
    rows = {(r["method"], r["budget"]) for r in result["summary"]["rows"]}
    assert ("search", 16) in rows
    assert ("l1_norm", 8) in rows
    assert ("uniform_first", 4) in rows
    assert result["summary"]["paired"]["search"]["8"]["seeds"] == 2
    assert result["summary"]["paired"]["search_widths"]["16"]["seeds"] == 2
    # the width search: its finalists include the uniform mask's counts (its seed), best first
    for s in (0, 1):
        widths = cells[f"search_widths_8x_s{s}"]
        finalists = widths["origin"]["finalists"]
        assert widths["kept"] == finalists[0]["kept"]
        assert [f["score"] for f in finalists] == sorted((f["score"] for f in finalists),
                                                         reverse=True)
        assert cells[f"uniform_random_8x_s{s}"]["kept"] in [f["kept"] for f in finalists]
    assert (work / "quality.png").stat().st_size > 0
    assert (work / "sheet.png").stat().st_size > 0


def test_held_out_photos_never_trained_on(toy_run):
    work, result = toy_run
    manifest = json.loads((work / "data" / "manifest.json").read_text())
    test = set(manifest["test_photos"])
    assert test == set(result["data"]["test_photos"])
    assert test.isdisjoint(result["data"]["train_photos"])
    assert {f.stem for f in (work / "data" / "testA").iterdir()} == test
    for f in (work / "data" / "trainA").iterdir():
        assert manifest["train"][f.name] not in test
    for c in result["cells"].values():
        used = c["train_files"] + c["val_files"]
        assert used
        assert all(manifest["train"][name] not in test for name in used)
        assert not set(c["train_files"]) & set(c["val_files"])


def test_rerun_skips_finished_cells(bench, toy_run, capsys):
    work, _ = toy_run
    before = {p.name: p.stat().st_mtime_ns for p in (work / "cells").glob("*.json")}
    argv = [a for a in _args(work) if a != "--quiet"]
    assert _main(bench, [*argv, "--stage", "cells"]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped, done before") == len(before)
    assert before == {p.name: p.stat().st_mtime_ns for p in (work / "cells").glob("*.json")}


def test_killed_cell_resumes_to_the_same_result(bench, toy_run, tmp_path):
    _, result = toy_run
    argv = [*_args(tmp_path), "--stage", "leveloff"]
    assert _main(bench, [*argv, "--stop-after", "8"]) == 3     # killed at step 8
    assert (tmp_path / "checkpoints" / "leveloff.pt").is_file()
    assert not (tmp_path / "cells" / "leveloff.json").exists()
    assert _main(bench, argv) == 0
    resumed = json.loads((tmp_path / "cells" / "leveloff.json").read_text())
    assert resumed["resumed_at"] == 8
    assert resumed["readings"] == result["cells"]["leveloff"]["readings"]
    assert not (tmp_path / "checkpoints" / "leveloff.pt").exists()


def test_cells_of_other_settings_stop_the_run_or_are_replaced(bench, tmp_path, capsys):
    argv = [*_args(tmp_path), "--stage", "leveloff"]
    assert _main(bench, argv) == 0
    assert _main(bench, [*argv, "--lr", "0.001"]) == 1
    assert "--replace-stale" in capsys.readouterr().err
    assert _main(bench, [*argv, "--lr", "0.001", "--replace-stale"]) == 0
    old = json.loads((tmp_path / "cells" / "leveloff.stale.json").read_text())
    new = json.loads((tmp_path / "cells" / "leveloff.json").read_text())
    assert (old["settings"]["finetune"]["lr"], new["settings"]["finetune"]["lr"]) == (2e-4, 1e-3)
    assert json.loads((tmp_path / "out.json").read_text())["cells_done"] == 1


def test_leveloff_rule(bench):
    reader = bench.Readings.__new__(bench.Readings)
    reader.ctx = SimpleNamespace(args=SimpleNamespace(read_every=100))
    reader.level_db = 0.1
    psnr = [10, 14, 16, 17, 17.5, 18, 18.3, 18.5, 18.6, 18.7, 18.75, 18.8, 18.8, 18.85,
            18.8, 18.9, 18.85]                                  # at steps 0, 100, ..., 1600
    reader.entries = [{"step": 100 * i, "psnr_val": v} for i, v in enumerate(psnr)]
    # mean of the last quarter's readings minus the quarter before's: 800: 18.55 - 18.15 =
    # 0.4; ... 1500: 0.125; 1600: 18.85 - 18.7625 = 0.0875 < 0.1, levelled
    assert reader.levelled() == 1600
    reader.level_db = 0.5
    assert reader.levelled() == 800
    reader.entries = [{"step": 100 * i, "psnr_val": v} for i, v in enumerate(
        [10, 20, 19, 19.2, 19, 19.3, 19.6, 19.9, 20.2, 20.5])]  # a peak first, then rising
    reader.level_db = 0.1
    assert reader.levelled() is None          # the best-so-far rule said 400 steps
    reader.level_db = None
    assert reader.levelled() is None


def test_missing_weights_say_how_to_install(bench, tmp_path, monkeypatch, capsys):
    assert _main(bench, [*_args(tmp_path)[1:], "--weights", str(tmp_path / "none.pth")]) == 1
    assert "none.pth: no such weights file" in capsys.readouterr().err
    real_find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "vintagify" else real_find(name, *a))
    assert _main(bench, _args(tmp_path)[1:]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install --no-deps vintagify==0.1.2" in err


def test_candidate_cost_toy(tmp_path):
    cost = load_benchmark("candidate_cost")
    out = tmp_path / "cost.json"
    threads = torch.get_num_threads()
    try:
        assert cost.main(["--toy", "--quiet", "--work", str(tmp_path), "--sizes", "16", "32",
                          "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads(out.read_text())
    assert [r["size"] for r in result["rows"]] == [16, 32]
    for r in result["rows"]:
        assert len(r["candidate_runs_s"]) == 2
        assert r["candidate_s"] == pytest.approx(statistics.median(r["candidate_runs_s"]))
        assert r["search_estimate_s"] == pytest.approx(
            r["setup_s"] + r["evaluations"] * r["candidate_s"])


def test_search_resolution_compares_the_same_masks_at_two_sizes(tmp_path):
    module = load_benchmark("search_resolution")
    out = tmp_path / "res.json"
    assert _main(module, ["--toy", "--sizes", "16", "32", "--candidates", "4", "--work",
                          str(tmp_path), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["candidates"] == 5
    assert len(result["kept"]) == 5
    assert len(result["low"]["scores"]) == len(result["high"]["scores"]) == 5
    assert result["low"]["scores"] != result["high"]["scores"]
    assert -1 <= result["agreement"]["spearman"] <= 1
    # the candidates share the seed's size: capacity moves never grow a mask
    assert result["config"]["init"] == "uniform"

"""The fitness-correlation and selection-pressure benchmarks: toy runs and their statistics."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module                 # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def correlation():
    return _load("fitness_correlation")


def test_spearman_ranks_and_bootstrap(correlation):
    assert list(correlation.ranks([3.0, 1.0, 2.0, 1.0])) == [3.0, 0.5, 2.0, 0.5]
    assert correlation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert correlation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    x = np.arange(30.0)
    y = x + np.random.default_rng(0).normal(0, 5, 30)
    lo, hi = correlation.bootstrap_interval(x, y, 200)
    rho = correlation.spearman(x, y)
    assert lo < rho < hi and 0.5 < rho < 1.0
    q = correlation.quality_rank([
        {"a2b_stripe_share": 0.5, "b2a_brown_share": 0.5, "judge_frechet": 10, "ssim": 0.5},
        {"a2b_stripe_share": 0.1, "b2a_brown_share": 0.1, "judge_frechet": 90, "ssim": 0.1}])
    assert q[0] > q[1]                                   # lower Fréchet distance is better


def test_correlation_quick_run(correlation, tmp_path):
    threads = torch.get_num_threads()
    try:
        assert correlation.main(["--quick", "--quiet", "--out", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(threads)
    results = json.loads((tmp_path / "results.json").read_text())
    pairs = results["pairs"]
    kinds = {p["kind"] for p in pairs}
    assert {"uniform", "l1_norm", "bernoulli", "lopsided", "searched_paper",
            "searched_adapted", "random_like_searched"} <= kinds
    for p in pairs:
        for g in "AB":
            assert p["sizes"][g]["parameters"] <= 0.25 + 1e-9
            assert p["sizes"][g]["macs"] <= 0.25 + 1e-9
        assert {"paper_F", "l1@0", "l1@2", "ssim@2", "discriminator@2"} <= set(p["scores"])
    table = results["budgets"]["0.25"]["correlations"]
    assert set(table) >= {"paper_F", "l1@0", "l1@2"}
    entries = [p for p in pairs if p["budget"] == 0.25]
    expected = correlation.spearman([-p["scores"]["l1@2"] for p in entries],
                                    correlation.quality_rank([p["quality"] for p in entries]))
    assert table["l1@2"]["rho"] == pytest.approx(expected)
    assert "| l1@2 |" in (tmp_path / "results.md").read_text()


def test_selection_pressure_quick_run(tmp_path, capsys):
    bench = _load("selection_pressure")
    out = tmp_path / "sel.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["table"]) == set(bench.SELECTIONS)
    for name, row in result["table"].items():
        assert len(result["results"][name]) == 3 and 0 < row["mean"] <= 1
    assert result["table"]["roulette (paper)"]["wins_vs_roulette"] == 0
    assert 0.0 < result["random_spread"] < 0.5
    assert "tournament 3" in capsys.readouterr().out

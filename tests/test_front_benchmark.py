"""benchmarks/front_vs_budgets.py: the front against single-budget searches (toy run)."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "front_vs_budgets.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("front_vs_budgets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hypervolume_2d(bench):
    assert bench.hypervolume_2d([(1, 3), (2, 2), (3, 1)], (4, 4)) == pytest.approx(6.0)
    assert bench.hypervolume_2d([(1, 3), (2, 3.5), (5, 0)], (4, 4)) == pytest.approx(3.0)
    assert bench.hypervolume_2d([], (1, 1)) == 0.0


def test_quick_run_has_equal_evaluations_and_sizes_within_budgets(bench, tmp_path, capsys):
    out = tmp_path / "result.json"
    assert bench.main(["--quick", "--quiet", "--out", str(out), "--plot",
                       str(tmp_path / "front.png")]) == 0
    result = json.loads(out.read_text())
    assert (tmp_path / "front.png").stat().st_size > 0
    assert result["front"]["points"]
    masks = result["front"]["points"][0]["A"]  # compact: one character a bit
    assert isinstance(masks, str)
    assert set(masks) <= {"0", "1"}
    assert result["evaluations"]["front"] == result["evaluations"]["single_budget"] == 48
    assert [r["budget"] for r in result["rows"]] == [0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    for row in result["rows"]:
        if not row.get("missing"):
            assert max(row["sizes"]) <= row["budget"]
            assert 0 <= row["ssim"] <= 1
    assert all(v["front"] >= 0 and v["single_budget"] >= 0
               for v in result["hypervolume"].values())
    assert "hypervolume" in capsys.readouterr().out


def test_summary_means_and_wins_over_seeds(bench):
    def run(stripes):
        rows = [{"budget": 0.5, "method": m, "a2b_stripe_share": v, "b2a_brown_share": 0.5,
                 "ssim": 0.4} for m, v in zip(("front", "single_budget"), stripes)]
        return {"budgets": [0.5], "rows": rows}
    summary = bench.summarize([run((0.6, 0.4)), run((0.2, 0.3))])["0.5"]
    assert summary["front"]["a2b_stripe_share"] == pytest.approx(0.4)
    assert summary["single_budget"]["a2b_stripe_share"] == pytest.approx(0.35)
    assert summary["front_wins"] == {"a2b_stripe_share": 1, "b2a_brown_share": 0, "ssim": 0}
    assert summary["pairs"] == 2
    assert "1/2" in bench.format_summary(bench.summarize([run((0.6, 0.4)), run((0.2, 0.3))]),
                                         [0, 1])


def test_quick_run_on_supernet_weights(bench, tmp_path):
    out = tmp_path / "supernet.json"
    assert bench.main(["--quick", "--quiet", "--fitness", "supernet", "--score", "ssim",
                       "--size-init", "random", "--size-cap", "range", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["fitness"] == "supernet"
    assert result["score"] == "ssim"
    config = result["front"]["config"]
    assert (config["fitness"], config["size_init"], config["size_cap"]) == (
        "supernet", "random", "range")
    assert result["evaluations"]["front"] == result["evaluations"]["single_budget"]
    assert any(not r.get("missing") for r in result["rows"])


def test_selection_benchmark_compares_with_nsga2(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "front_selection", SCRIPT.with_name("front_selection.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "selection.json"
    assert module.main(["--quick", "--seeds", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    summary = result["summary"]
    assert set(summary) == {"nsga2", "spea2", "nsga3"}
    assert summary["nsga2"]["hypervolume_ratio"] == pytest.approx(1.0)
    assert summary["nsga2"]["wins"]["hypervolume"] == 0
    entry = result["runs"][0]["generators"]["A"]
    assert all(entry[s]["hypervolume"] > 0 for s in summary)
    assert "HV / NSGA-II" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        module.parse_args(["--selections", "spea2"])

"""benchmarks/round_to.py at toy size: every rounding of the same keep ratios is timed, the
counts are multiples as asked, and the table's deviations are measured against the fit."""
import json

import pytest
from _benchmarks import load_benchmark


def test_round_to_quick(tmp_path, capsys):
    bench = load_benchmark("round_to")
    out = tmp_path / "round_to.json"
    assert bench.main(["--teacher", "--size", "32", "--ratios", "3", "--repeats", "1",
                       "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["summary"]) == {"1", "4", "8", "16"}
    timed: dict[tuple, float] = {}
    for row in result["rows"]:
        assert row["ms_per_gmac"] == pytest.approx(row["ms"] / (row["macs"] / 1e9))
        # a network that several roundings give is timed once
        assert timed.setdefault(tuple(row["counts"]), row["ms"]) == row["ms"]
        assert all(c % row["multiple"] == 0 for c in row["counts"]), row  # teacher: 16, 32, 64
    assert "ms/GMAC" in capsys.readouterr().out
    assert bench.rounded([5, 9, 17], [8, 16, 32], 8) == [8, 8, 16]
    assert bench.rounded([1, 3], [4, 64], 16) == [4, 16]

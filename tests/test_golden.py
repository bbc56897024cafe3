"""The redesign changes no result: fixed searches give the masks, fitness values and slim
weights captured in ``tests/golden/`` (``python tests/golden_runs.py --write`` retakes them)."""
import json

import pytest
from golden_runs import GOLDEN, RUNS, differences, renamed, run


@pytest.mark.parametrize("name", sorted(RUNS))
def test_same_as_the_golden_file(name, tmp_path):
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    actual = json.loads(json.dumps(run(name, tmp_path)))
    diff = differences(expected, actual)
    assert not diff, f"{name} differs from {GOLDEN / name}.json: " + "; ".join(diff[:5])


def test_the_comparison_sees_a_change():
    golden = json.loads((GOLDEN / "toy_single.json").read_text())
    record = renamed(golden)  # what a run gives now: renamed keys under their new names
    assert "size_ratio" in record["terms"] and "size" in golden["terms"]
    changed = json.loads(json.dumps(record))
    changed["mask"] = changed["mask"][::-1] if changed["mask"] != changed["mask"][::-1] \
        else "0" + changed["mask"][1:]
    changed["logbook"][-1]["max"] = (changed["logbook"][-1].get("max") or 0.0) * 1.001 + 1e-6
    assert differences(golden, record) == []
    found = differences(golden, changed)
    assert any(".mask" in d for d in found) and any("max" in d for d in found)

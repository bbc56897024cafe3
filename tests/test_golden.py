"""The redesign changes no result: fixed searches give the masks, fitness values and slim
weights captured in ``tests/golden/`` (``python tests/golden_runs.py --write`` retakes them):
exactly on the machine that took them, and in what holds on any CPU elsewhere."""
import json

import golden_runs
import pytest
from golden_runs import GOLDEN, RUNS, compare, differences, portable_differences, run

pytestmark = pytest.mark.floats


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.slow
def test_same_as_the_golden_file(name, tmp_path):
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    actual = json.loads(json.dumps(run(name, tmp_path)))
    mode, diff = compare(expected, actual)
    assert not diff, f"{name} differs from {GOLDEN / name}.json ({mode} comparison): " + \
        "; ".join(diff[:5])


def _changed(record: dict) -> dict:
    changed = json.loads(json.dumps(record))
    changed["mask"] = changed["mask"][::-1] if changed["mask"] != changed["mask"][::-1] \
        else "0" + changed["mask"][1:]
    changed["logbook"][-1]["max"] = (changed["logbook"][-1].get("max") or 0.0) * 1.001 + 1e-6
    return changed


def test_the_comparison_sees_a_change():
    golden = json.loads((GOLDEN / "toy_single.json").read_text())
    assert differences(golden, golden) == []
    found = differences(golden, _changed(golden))
    assert any(".mask" in d for d in found)
    assert any("max" in d for d in found)


def test_the_machine_that_took_the_files_compares_exactly(monkeypatch):
    golden = json.loads((GOLDEN / "toy_single.json").read_text())
    changed = _changed(golden)
    monkeypatch.setattr(golden_runs, "fingerprint",
                        lambda: json.loads(golden_runs.MACHINE.read_text()))
    mode, found = compare(golden, changed)
    assert mode == "exact"
    assert any(".mask" in d for d in found)
    monkeypatch.setattr(golden_runs, "fingerprint", lambda: {"canary": "another CPU"})
    mode, found = compare(golden, changed)  # another mask and a later float: both may happen
    assert mode == "portable"
    assert found == []


def test_the_portable_comparison_sees_what_holds_on_any_cpu():
    golden = json.loads((GOLDEN / "default_example.json").read_text())
    record = json.loads(json.dumps(golden))
    assert portable_differences(golden, record) == []
    cases = {
        "first generation 1% off": lambda r: r["logbook"][0]["A"].update(
            max=r["logbook"][0]["A"]["max"] * 1.01),
        "a mask one bit short": lambda r: r["masks"].update(A=r["masks"]["A"][1:]),
        "a generation missing": lambda r: r["logbook"].pop(),
        "a NaN fitness": lambda r: r["logbook"][-1]["B"].update(avg=float("nan")),
        "another evaluation count": lambda r: r["logbook"][2]["A"].update(nevals=99),
        "a key missing": lambda r: r.pop("slim"),
    }
    for what, change in cases.items():
        broken = json.loads(json.dumps(record))
        change(broken)
        assert portable_differences(golden, broken), what
    near = json.loads(json.dumps(record))  # another CPU's kernels: 1e-4 relative
    near["logbook"][0]["A"]["max"] *= 1 + 1e-4
    near["logbook"][-1]["A"]["max"] *= 1.05  # later generations follow other choices
    assert portable_differences(golden, near) == []


def test_the_fingerprint_follows_the_kernels():
    here = golden_runs.fingerprint()
    assert set(here) == {"torch", "capability", "canary"}
    assert len(here["canary"]) == 64
    assert golden_runs.fingerprint() == here  # repeatable, whatever the thread count

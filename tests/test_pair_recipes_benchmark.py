"""benchmarks/pair_recipes.py on the example's toy run: both recipes run, from one search, and
the table pairs their measures."""
import json

import pytest
import torch
from _benchmarks import load_benchmark


@pytest.mark.slow
def test_both_recipes_share_the_search_and_differ_in_fine_tuning(tmp_path):
    bench = load_benchmark("pair_recipes")
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--quick", "--work", str(tmp_path), "--out",
                           str(tmp_path / "out.json")]) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads((tmp_path / "out.json").read_text())
    masks = {t: (tmp_path / f"{t}_s0" / "masks.json").read_text() for t in ("l1", "default")}
    assert masks["l1"] == masks["default"], "one search, two fine-tunings"
    rows = {r["measure"]: r for r in result["rows"]}
    assert rows["fidelity_a2b.ssim"]["l1"] != rows["fidelity_a2b.ssim"]["default"]
    assert {"l1", "default"} <= set(rows["fine-tuning seconds"])  # timed, not judged here

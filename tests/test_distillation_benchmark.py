"""benchmarks/distillation.py at toy size: every recipe fine-tunes the same mask, the table
pairs each with today's recipe in the same seed, the cells resume, the plot is written."""
import json

import pytest
import torch
from _benchmarks import load_benchmark

from deap_gan_prune.training.distill_config import DistillLoss


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("distillation")


def _run(bench, work, *extra: str) -> int:
    threads = torch.get_num_threads()
    try:
        return bench.main(["--toy", "--quiet", "--seeds", "0", "--recipes", "today", "feature",
                           "new",
                           "--read-every", "4", "--work", str(work), "--distill-out",
                           str(work / "out.json"), "--distill-plot", str(work / "p.png"),
                           *extra])
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_recipes_are_paired_and_resume(bench, tmp_path):
    assert _run(bench, tmp_path) == 0
    result = json.loads((tmp_path / "out.json").read_text())
    rows = {r["recipe"]: r for r in result["rows"]}
    assert set(rows) == {"today", "feature", "new"}
    assert all(r["step_s_side_by_side"] is not None for r in rows.values()), \
        "every recipe's cost per step is timed (its value is the benchmark's, not a test's)"
    assert rows["today"]["psnr_gain"] == 0
    cells = result["cells"]
    masks = {c["mask"] for c in cells.values()}
    assert len(masks) == 1, "every recipe fine-tunes the same mask"
    losses = {c["recipe"]: c["settings"]["finetune"].get("loss") for c in cells.values()}
    assert losses["today"] is None
    assert losses["feature"]["feature"] == 1.0
    assert losses["new"] == DistillLoss().to_dict()
    finals = {c["recipe"]: c["final"]["psnr_large"] for c in cells.values()}
    assert len(set(finals.values())) == 3, "the recipes train differently"
    assert (tmp_path / "p.png").stat().st_size > 0
    assert _run(bench, tmp_path) == 0          # every cell read back, none run again
    again = json.loads((tmp_path / "out.json").read_text())
    assert all(c["skipped"] for c in again["cells"].values())
    measured = "step_s_side_by_side"   # timed anew by every run
    assert [{k: v for k, v in r.items() if k != measured} for r in again["rows"]] == \
        [{k: v for k, v in r.items() if k != measured} for r in result["rows"]]

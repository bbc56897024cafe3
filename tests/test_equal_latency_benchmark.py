"""benchmarks/equal_latency.py at toy size: the search under a latency budget, uniform and L1
matched to its measured latency, every network fine-tuned alike, paired rows, resumption."""
import json

import pytest
import torch
from _benchmarks import load_benchmark

from deap_gan_prune.training.distill_config import DistillLoss


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("equal_latency")


def _run(bench, work, *extra: str) -> int:
    threads = torch.get_num_threads()
    try:
        return bench.main(["--toy", "--quiet", "--seeds", "0", "--speedups", "2",
                           "--work", str(work), "--el-out", str(work / "out.json"),
                           "--el-plot", str(work / "p.png"), *extra])
    finally:
        torch.set_num_threads(threads)


def test_held_out_tiles_are_nine_distinct_images(bench):
    tiles = bench.held_out_tiles(16, toy=False)
    assert tiles.shape == (9, 3, 16, 16)
    assert tiles.min() >= -1
    assert tiles.max() <= 1
    assert len({t.sum().item() for t in tiles}) == 9


@pytest.mark.slow
def test_cells_are_matched_paired_and_resume(bench, tmp_path):
    assert _run(bench, tmp_path) == 0
    result = json.loads((tmp_path / "out.json").read_text())
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"search", "uniform", "l1"}
    match = json.loads((tmp_path / "matches" / "2x_s0.json").read_text())
    assert match["tries"], "the uniform mask's latency was measured against the search's"
    cells = {c: json.loads((tmp_path / "cells" / f"{c}_2x_s0.json").read_text())
             for c in ("search", "uniform", "l1")}
    kept = {m: c["kept"] for m, c in cells.items()}
    assert list(kept["uniform"].values()) == match["counts"]
    assert kept["l1"] == kept["uniform"], "L1 keeps the matched uniform counts"
    assert cells["l1"]["mask"] != cells["uniform"]["mask"]
    search = json.loads(next((tmp_path / "searches").glob("search_2x_s0.json")).read_text())
    assert search["settings"]["search"]["budget_measures"] == ["latency"]
    assert search["settings"]["search"]["init"] == "uniform"       # the default width search
    losses = {c["settings"]["finetune"]["loss"]["feature"] for c in cells.values()}
    assert losses == {DistillLoss().feature}, "every network fine-tuned with the default recipe"
    assert len({c["settings"]["finetune"]["seed"] for c in cells.values()}) == 1
    (paired,) = result["paired"]
    assert paired["uniform"]["psnr_gain_db"] == pytest.approx(
        rows["search"]["psnr"] - rows["uniform"]["psnr"])
    assert all(len(r["per_image"]["psnr"]) == 3 for r in result["rows"])  # toy: one photo
    assert (tmp_path / "p.png").stat().st_size > 0
    assert _run(bench, tmp_path) == 0                                   # read back, not rerun
    again = json.loads((tmp_path / "out.json").read_text())
    assert [r["psnr"] for r in again["rows"]] == [r["psnr"] for r in result["rows"]]


def test_the_uniform_curve_is_linear_in_log_latency(bench):
    uniform = [{"cell": "u8", "onnx_ms": 50.0, "psnr": 28.0, "ssim": 0.90},
               {"cell": "u5", "onnx_ms": 100.0, "psnr": 30.0, "ssim": 0.92},
               {"cell": "u3", "onnx_ms": 200.0, "psnr": 31.0, "ssim": 0.95}]
    search = {"onnx_ms": 50.0 * 2 ** 0.5, "psnr": 30.0, "ssim": 0.93}
    curve = bench.on_curve(search, uniform)
    assert curve["psnr"] == pytest.approx(29.0)              # halfway in log latency
    assert curve["psnr_gain_db"] == pytest.approx(1.0)
    assert curve["ssim_gain"] == pytest.approx(0.02)
    assert curve["between"] == ["u8", "u5"]
    faster = bench.on_curve({"onnx_ms": 25.0, "psnr": 27.0, "ssim": 0.9}, uniform)
    assert faster["psnr"] == pytest.approx(26.0)             # extended past the fastest
    assert bench.on_curve(search, uniform[:1]) is None

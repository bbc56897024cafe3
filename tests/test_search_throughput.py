"""The throughput benchmark: its toy run agrees with the reference and writes its JSON."""
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "search_throughput.py"


def _module():
    spec = importlib.util.spec_from_file_location("search_throughput", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_equal_values_and_a_ratio(tmp_path):
    out = tmp_path / "throughput.json"
    proc = subprocess.run([sys.executable, str(BENCHMARK), "--quick", "--threads", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ratio" in proc.stdout
    assert "reference" in proc.stdout
    result = json.loads(out.read_text())
    ours_s, reference_s = result["ours"]["seconds"], result["reference"]["seconds"]
    assert result["ratio"] == pytest.approx(reference_s / ours_s)
    assert result["values_equal"]
    assert result["max_relative_difference"] <= 1e-4
    ours, reference = result["fitness"]["ours"], result["fitness"]["reference"]
    assert len(ours) == len(reference) == result["evaluations"] == 12
    assert all(math.isclose(a, b, rel_tol=1e-4) for a, b in zip(ours, reference))
    assert result["unique_evaluations"] < result["evaluations"]
    for name in ("ours", "reference"):
        assert result[name]["evals_per_s"] == pytest.approx(12 / result[name]["seconds"])
    adapted = result["adapted"]
    assert adapted["candidates"] == len(adapted["scores"]) == 3
    assert adapted["steps"] == 2
    assert adapted["seconds_per_candidate"] == pytest.approx(adapted["seconds"] / 3)
    assert adapted["cost_ratio"] == pytest.approx(
        adapted["seconds_per_candidate"] / adapted["paper_seconds_per_candidate"])
    assert "adapted fitness (2 steps" in proc.stdout


def test_mask_stream_repeats_and_reference_zeroing_matches_slimming():
    bench = _module()
    torch.manual_seed(0)
    g = ResnetGenerator(ngf=4, n_blocks=1).eval()
    space = space_of(g)
    stream = bench.mask_stream(space, population=8, generations=3, repeat_share=0.25)
    flat = [tuple(b) for gen in stream for b in gen]
    assert [len(gen) for gen in stream] == [8, 8, 8]
    assert all(space.is_valid(b) for b in flat)
    assert len(set(flat)) == 24 - 6  # 2 of every 8 repeat an earlier mask
    bits = stream[1][0]
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    zeroed = bench.zero_filters(ResnetGenerator(ngf=4, n_blocks=1).eval(), space.full(), space)
    with torch.no_grad():
        zeroed.load_state_dict(g.state_dict())
        bench.zero_filters(zeroed, bits, space)
        torch.testing.assert_close(zeroed(x), slim(g, bits, space)(x),
                                   rtol=1e-4, atol=1e-5)

"""The latency model: tables measured per unit, JSON round trip and reuse, monotone
predictions, and the accuracy benchmark's quick run."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from deap_gan_prune.nets.latency_model import (
    LatencyTable,
    UnitTable,
    find_latency_table,
    generator_units,
    grid_widths,
    latency_key,
    latency_table,
    measure_latency_table,
    read_latency_tables,
    save_latency_table,
    unit_module,
)
from deap_gan_prune.nets.maskspace import MaskSpace
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.widths import GeneratorWidths

WIDTHS = GeneratorWidths.default(4, 2)
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "latency_model.py"


@pytest.fixture(scope="module")
def table():
    return measure_latency_table(WIDTHS, 16, threads=1, repeats=1, warmup=0)


def test_units_match_the_generator_layers():
    net = ResnetGenerator(widths=WIDTHS)
    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d,
                                                        torch.nn.ConvTranspose2d))]
    units = generator_units(WIDTHS)
    assert [(c.in_channels, c.out_channels) for c in convs] == [(a, b) for _, a, b in units]
    x = torch.rand(1, 8, 4, 4)
    assert unit_module("up1", 8, 4)(x).shape == (1, 4, 8, 8)
    assert unit_module("down2", 8, 4)(x).shape == (1, 4, 2, 2)
    assert grid_widths(16) == [1, 2, 4, 6, 8, 10, 12, 14, 16] and grid_widths(1) == [1]


def test_table_covers_every_width_and_round_trips_through_json(table, tmp_path):
    assert table.key == latency_key(WIDTHS, 16, "cpu", 1)
    assert table.units["block"].c_in[0] == 1 and table.units["block"].c_in[-1] == 16
    assert table.units["first"].c_in == [3] and table.units["last"].c_out == [3]
    path = save_latency_table(table, tmp_path / "lat.json")
    again = find_latency_table(path, table.key)
    assert again == table
    space = MaskSpace(WIDTHS)
    assert again.predict_mask(space, space.full()) == table.predict(WIDTHS)
    assert find_latency_table(path, latency_key(WIDTHS, 32, "cpu", 1)) is None


def test_predictions_are_monotone_in_every_width(table):
    slots = WIDTHS.slot_names()
    base = table.predict(WIDTHS.with_slots({s: 1 for s in slots}))
    for slot in slots:
        full = WIDTHS.slot(slot)
        values = [table.predict(WIDTHS.with_slots({**{s: 1 for s in slots}, slot: c}))
                  for c in range(1, full + 1)]
        assert values[0] == pytest.approx(base)
        assert all(a <= b for a, b in zip(values, values[1:])), slot


def test_monotone_repairs_noisy_measurements_and_interpolates():
    unit = UnitTable([1, 3], [1, 2, 4], [[1.0, 3.0, 2.0], [0.5, 4.0, 8.0]]).monotone()
    assert unit.ms == [[1.0, 3.0, 3.0], [1.0, 4.0, 8.0]]
    assert unit.predict(2, 3) == pytest.approx(4.5)
    assert unit.predict(1, 3) == pytest.approx(3.0)
    assert unit.predict(3, 3) == pytest.approx(6.0)
    assert unit.predict(2, 2) == pytest.approx(3.5)
    assert unit.predict(9, 9) == 8.0 and unit.predict(0, 0) == 1.0


def test_latency_table_reuses_a_saved_table(table, tmp_path, monkeypatch):
    path = tmp_path / "lat.json"
    save_latency_table(table, path)
    import deap_gan_prune.nets.latency_model as lm

    def refuse(*args, **kwargs):
        raise AssertionError("measured again")
    monkeypatch.setattr(lm, "measure_latency_table", refuse)
    assert latency_table(path, WIDTHS, 16, "cpu", 1) == table
    with pytest.raises(AssertionError, match="measured again"):
        latency_table(path, WIDTHS, 16, "cpu", 2)


def test_bad_table_files_are_refused(tmp_path, table):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a latency table file"):
        read_latency_tables(bad)
    data = {"format": "deap_gan_prune/latency-table", "version": 1,
            "tables": [table.to_dict()]}
    del data["tables"][0]["units"]["up2"]
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="up2"):
        read_latency_tables(bad)
    with pytest.raises(ValueError, match="multiple of 4"):
        measure_latency_table(WIDTHS, 18)


def test_table_from_dict_keeps_the_overhead(table):
    again = LatencyTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again.overhead_ms == table.overhead_ms and again.full_ms == table.full_ms


def test_accuracy_benchmark_quick_run(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("latency_model_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    out, table_file = tmp_path / "acc.json", tmp_path / "table.json"
    try:
        assert module.main(["--quick", "--threads", "1", "--masks", "20", "--out", str(out),
                            "--table", str(table_file)]) == 0
    finally:
        torch.set_num_threads(threads)
    result = json.loads(out.read_text())
    assert result["masks"] == 20 and len(result["rows"]) == 20
    assert -1 <= result["spearman"] <= 1 and result["mean_relative_error"] >= 0
    assert len({json.dumps(r["widths"]) for r in result["rows"]}) == 20
    assert read_latency_tables(table_file)[0].key == result["table_key"]
    assert "Spearman (model)" in capsys.readouterr().out

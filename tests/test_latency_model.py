"""The latency model: per-conv tables at each conv's own resolution, deduplicated; JSON round
trip; the cache reused and invalidated by its key; bad files refused in one line; monotone
predictions; traced networks; the ONNX runtimes; and the accuracy benchmark's quick run."""
import importlib.util
import itertools
import json
import math
import statistics
from pathlib import Path

import pytest
import torch
from generic_nets import DenseNet, UnetGenerator

from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.latency_model import (
    ConvTable,
    LatencyModel,
    LatencyTiming,
    calibrate,
    find_latency_model,
    grid_counts,
    latency_key,
    latency_model_for,
    measure_latency_model,
    read_latency_models,
    save_latency_model,
    space_hash,
)
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "latency_model.py"
QUICK = {"timing": LatencyTiming(repeats=1, warmup=0), "progress": False}


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return ResnetGenerator(ngf=4, n_blocks=2).eval()


@pytest.fixture(scope="module")
def model(resnet):
    return measure_latency_model(resnet, 16, "torch", 1, timing=LatencyTiming(repeats=3, warmup=1),
                                 progress=False)


def _synthetic(model):
    """A copy of ``model`` whose tables are ``1e-3 * in * out + 0.01`` ms (noise-free)."""
    copy = LatencyModel.from_dict(model.to_dict())
    for t in copy.tables:
        t.ms = [[1e-3 * max(a, 1) * b + 0.01 for b in t.c_out] for a in t.c_in]
    return copy


def _space(net, layout="independent"):
    """``net``'s mask space traced at 16 pixels, as the ``model`` fixture measures it."""
    return space_of(net, torch.zeros(1, 3, 16, 16), layout)


def _convs(net):
    return [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]


def test_every_conv_has_a_table_at_its_widths_and_like_convs_share_one(model, resnet):
    space = _space(resnet)
    full = list(space.kept(space.full()).values())
    assert [c.widths(full) for c in model.convs] == [
        (m.in_channels, m.out_channels) for m in _convs(resnet)]
    assert len(model.convs) == 10
    assert len(model.tables) == 8
    first, last = model.tables[model.convs[0].table], model.tables[model.convs[-1].table]
    assert first.c_in == [3]
    assert first.c_out == [1, 2, 3, 4]
    assert last.c_out == [3]
    assert "at [16, 16]" in first.signature
    assert "ReflectionPad2d" in first.signature
    assert "InstanceNorm2d" in first.signature
    assert "ReLU" in first.signature
    down = model.tables[model.convs[2].table]  # stride 2 at half resolution, no padding layer
    assert "at [8, 8]" in down.signature
    assert "pre None" in down.signature
    assert [c.positions for c in model.convs[:3]] == [256, 64, 16]
    assert model.matches(space)
    assert not model.matches(_space(resnet, "tied"))
    assert grid_counts(1, 16) == [1, 2, 4, 6, 8, 10, 12, 14, 16]
    assert grid_counts(3, 3) == [3]
    assert grid_counts(5, 8, (0.5, 1.0)) == [5, 8]


def test_json_round_trip_predicts_the_same(model, resnet):
    again = LatencyModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again == model
    assert again.hash() == model.hash()
    space = _space(resnet)
    bits = space.full()
    bits[:2] = [0, 0]
    assert again.predict(bits) == model.predict(bits)
    assert model.ratio(space.full()) == 1.0
    assert len(model.calibration) == 3
    assert model.calibration[0]["counts"] == list(
        space.kept(space.full()).values())
    with pytest.raises(ValueError, match="bits"):
        model.predict([1, 0])


def test_predictions_never_fall_when_a_channel_is_added(model):
    counts = [1] * len(model.groups)
    for g, size in enumerate(model.groups):
        values = [model.predict_counts([*counts[:g], c, *counts[g + 1:]])
                  for c in range(1, size + 1)]
        assert all(a <= b for a, b in itertools.pairwise(values)), g
    assert model.predict_counts(counts) <= model.predict_counts(model.groups)
    exact = _synthetic(model)
    assert exact.predict_counts(counts) < exact.predict_counts(model.groups)


def test_monotone_repairs_noisy_measurements_and_interpolates():
    table = ConvTable("t", [1, 3], [1, 2, 4], [[1.0, 3.0, 2.0], [0.5, 4.0, 8.0]]).monotone()
    assert table.ms == [[1.0, 3.0, 3.0], [1.0, 4.0, 8.0]]
    assert table.predict(2, 3) == pytest.approx(4.5)
    assert table.predict(1, 3) == pytest.approx(3.0)
    assert table.predict(3, 3) == pytest.approx(6.0)
    assert table.predict(9, 9) == 8.0
    assert table.predict(0, 0) == 1.0


def test_calibration_fits_the_measured_networks(model):
    model = _synthetic(model)
    full, half, small = model.groups, [max(1, g // 2) for g in model.groups], \
        [1] * len(model.groups)
    sums = {name: sum(model.layer_ms(c)) for name, c in (("full", full), ("half", half),
                                                          ("small", small))}
    points = [{"counts": c, "measured_ms": 1.5 * sums[name] + 0.25}
              for name, c in (("full", full), ("half", half), ("small", small))]
    fitted = calibrate(LatencyModel.from_dict(model.to_dict()), points)
    assert fitted.scale == pytest.approx(1.5)
    assert fitted.overhead_ms == pytest.approx(0.25)
    assert fitted.predict_counts(half) == pytest.approx(points[1]["measured_ms"])
    shrinking = [{"counts": full, "measured_ms": 1.0}, {"counts": small, "measured_ms": 2.0}]
    fitted = calibrate(LatencyModel.from_dict(model.to_dict()), shrinking)
    assert fitted.scale == 1.0  # never a negative scale: predictions stay monotone


def test_cache_is_reused_by_key_and_measured_again_when_it_differs(model, resnet, tmp_path,
                                                                   monkeypatch):
    import deap_gan_prune.nets.latency_model as lm
    path = save_latency_model(model, tmp_path / "lat.json")
    space = _space(resnet)
    key = latency_key(space, 16, "torch", 1)
    assert key == model.key
    assert key["space"] == space_hash(space)
    assert {"machine", "library", "torch", "onnxruntime", "batch"} <= set(key)
    assert find_latency_model(path, key) == model
    assert find_latency_model(path, latency_key(space, 32, "torch", 1)) is None
    assert latency_key(space, 16, "onnx", 1)["onnxruntime"] is not None

    calls = []

    def fake(_generator, image_size, runtime, threads, **options):
        calls.append((image_size, runtime, threads))
        measured = LatencyModel.from_dict(model.to_dict())
        measured.key = latency_key(options["space"], image_size, runtime, threads)
        return measured
    monkeypatch.setattr(lm, "measure_latency_model", fake)
    assert latency_model_for(path, resnet, 16, "torch", 1, space=space) == model
    assert calls == []
    latency_model_for(path, resnet, 16, "torch", 2, space=space)
    latency_model_for(path, resnet, 16, "onnx", 1, space=space)
    assert calls == [(16, "torch", 2), (16, "onnx", 1)]
    assert len(read_latency_models(path)) == 3
    latency_model_for(path, resnet, 16, "onnx", 1, space=space)  # now cached
    assert len(calls) == 2


def test_bad_cache_files_are_refused_in_one_line(model, tmp_path):
    bad = tmp_path / "bad.json"
    for text, match in (("{}", "not a latency model file"), ("[1", "not a readable"),
                        ('{"format": "deap_gan_prune/latency-model", "version": 1}',
                         "version 1 is not supported")):
        bad.write_text(text)
        with pytest.raises(ValueError, match=match) as info:
            read_latency_models(bad)
        assert "bad.json" in str(info.value)
        assert "\n" not in str(info.value)
    data = model.to_dict()
    data["convs"][0]["table"] = 99
    bad.write_text(json.dumps({"format": "deap_gan_prune/latency-model", "version": 2,
                               "models": [data]}))
    with pytest.raises(ValueError, match=r"damaged.*table 99"):
        read_latency_models(bad)
    data = model.to_dict()
    data["tables"][0]["ms"] = [["__import__('os')"]]
    bad.write_text(json.dumps({"format": "deap_gan_prune/latency-model", "version": 2,
                               "models": [data]}))
    with pytest.raises(ValueError, match="damaged"):
        read_latency_models(bad)


def test_refused_settings(resnet):
    with pytest.raises(ValueError, match="unknown latency runtime 'tensorrt'"):
        measure_latency_model(resnet, 16, "tensorrt", 1, **QUICK)
    with pytest.raises(ValueError, match="repeats"):
        LatencyTiming(repeats=0)
    with pytest.raises(ValueError, match="batch 0 must be positive"):
        LatencyTiming(batch=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="needs a GPU"):
            measure_latency_model(resnet, 16, "cuda", 1, **QUICK)


@pytest.mark.parametrize("net", [UnetGenerator(ngf=2, num_downs=5), DenseNet(ngf=4, growth=2)],
                         ids=["unet", "dense"])
def test_traced_networks(net, tmp_path):
    torch.manual_seed(0)
    model = latency_model_for(tmp_path / "lat.json", net, 32, "torch", 1, **QUICK)
    space = space_of(net, torch.rand(1, 3, 32, 32))
    assert model.matches(space)
    assert model.groups == [g.size for g in space.groups]
    full = list(space.kept(space.full()).values())
    small = slim(net, [1 if i % 2 == 0 else 0 for i in range(space.n_bits)], space)
    assert [c.widths(full) for c in model.convs] == [
        (m.in_channels, m.out_channels) for m in _convs(net)]
    assert len(_convs(small)) == len(model.convs)
    counts = [1] * len(model.groups)
    assert model.predict_counts(counts) <= model.predict_counts(full)
    assert latency_model_for(tmp_path / "lat.json", net, 32, "torch", 1) == model


@pytest.mark.parametrize("runtime", ["onnx", "onnx-int8"])
def test_onnx_runtimes(runtime):
    torch.manual_seed(0)
    net = DenseNet(ngf=4, growth=2, n_blocks=1)
    model = measure_latency_model(net, 16, runtime, 1,
                                  timing=LatencyTiming(repeats=1, warmup=0, shares=(1.0,)),
                                  progress=False)
    assert model.key["runtime"] == runtime
    assert model.key["onnxruntime"]
    for t in model.tables:  # every probe of the grid measured
        assert len(t.ms) == len(t.c_in)
        assert all(len(row) == len(t.c_out) for row in t.ms)
    assert model.predict([1] * sum(model.groups)) == \
        model.predict_counts(model.groups)


def test_accuracy_benchmark_quick_run(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("latency_model_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, cache = tmp_path / "acc.json", tmp_path / "cache.json"
    assert module.main(["--quick", "--architectures", "real,unet", "--runtimes", "torch",
                        "--masks", "6", "--no-progress", "--out", str(out),
                        "--cache", str(cache)]) == 0
    result = json.loads(out.read_text())
    assert result["threads"] == 1
    assert result["interleaved"]
    assert result["quick"]
    assert [(r["architecture"], r["runtime"]) for r in result["results"]] == [
        ("real", "torch"), ("unet", "torch")]
    for r in result["results"]:
        assert r["masks"] == len(r["rows"]) == 6
        assert r["rows"][0]["kind"] == "full"
        assert {row["kind"] for row in r["rows"]} == {"full", "random", "uniform", "searched"}
        assert math.isnan(r["spearman"]) or -1 <= r["spearman"] <= 1  # toy: may be constant
        errors = [abs(row["predicted_ms"] - row["measured_ms"]) / row["measured_ms"]
                  for row in r["rows"]]
        assert r["median_error"] == pytest.approx(statistics.median(errors))
        assert r["max_error"] == pytest.approx(max(errors))
    assert len(read_latency_models(cache)) == 2
    printed = capsys.readouterr().out
    assert "rho MACs" in printed
    assert "med err" in printed


def test_a_network_whose_first_conv_does_not_read_the_image():
    from generic_nets import UnshuffleDenoiser
    torch.manual_seed(0)
    net = UnshuffleDenoiser(ngf=8)  # pixel-unshuffle and a concatenated map: first conv 13 in
    model = latency_model_for(None, net, 32, "torch", 1, **QUICK)
    assert model.matches(space_of(net, torch.zeros(1, 3, 32, 32)))

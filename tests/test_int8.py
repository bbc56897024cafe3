"""Static int8 export through ONNX Runtime: every test architecture and the upstream ResNet load,
hold int8 weights and run integer kernels; the shipped teacher keeps 30 dB to its float output;
the channel equalisation leaves the float network unchanged; the sensitive-layer fallback and
the command line."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
import onnx
from test_any_generator import ARCHITECTURES, _network, _random_bits

from deap_gan_prune import cli
from deap_gan_prune.core.baselines import uniform_mask
from deap_gan_prune.export import ExportError, export_onnx
from deap_gan_prune.nets.checkpoints import save_generator
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.quantization import (
    Int8Config,
    equalize_norm_inputs,
    export_int8,
    onnx_kernels,
    run_onnx,
)

ROOT = Path(__file__).resolve().parents[1]


def _images(n, size, seed):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("key", [*sorted(ARCHITECTURES), "upstream_resnet"])
def test_every_architecture_runs_integer_kernels(key, tmp_path):
    if key == "upstream_resnet":
        torch.manual_seed(0)
        net, size = ResnetGenerator(ngf=8, n_blocks=2).eval(), 32
    else:
        net, size = _network(key)
    space = space_of(net, _images(1, size, 0))
    small = slim(net, _random_bits(space, 7), space)
    path = tmp_path / "g.onnx"
    result = export_int8(small, path, _images(4, size, 1), _images(2, size, 2),
                         config=Int8Config(keep_float=()))
    assert path.is_file()
    assert result.bytes == path.stat().st_size
    model = onnx.load(str(path))
    int8 = [t for t in model.graph.initializer
            if t.data_type == onnx.TensorProto.INT8 and len(t.dims) > 1]
    assert int8
    assert result.int8_weights == sum(int(np.prod(t.dims)) for t in int8)
    assert result.kernels["integer"].get("QLinearConv", 0) >= 1  # read from the optimised graph
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
    for batch, side in ((1, size), (2, 2 * size)):  # any batch, height and width
        out = run_onnx(path, _images(batch, side, 3).numpy())
        with torch.no_grad():
            want = small(_images(batch, side, 3)).numpy()
        assert out.shape == want.shape
        assert np.abs(out - want).mean() < 0.1
    written = json.loads(Path(str(path) + ".json").read_text())
    assert written["check"]["to_float"]["psnr_db"] == result.check["to_float"]["psnr_db"] > 15


@pytest.fixture(scope="module")
def teacher_slim():
    from deap_gan_prune.domains import synthetic_data
    from deap_gan_prune.teacher import load_teacher
    original = load_teacher().g_a
    space = space_of(original)
    data = synthetic_data(n_train=32, n_test=8)
    return original, slim(original, uniform_mask(space, 0.25), space), data


def test_shipped_teacher_keeps_30_db_to_its_float_output(teacher_slim, tmp_path):
    original, small, data = teacher_slim
    result = export_int8(small, tmp_path / "t.onnx", data.train[0][:32], data.test_a,
                         original=original)
    check = result.check
    assert check["to_float"]["psnr_db"] >= 30
    assert check["to_float"]["ssim"] > 0.95
    assert check["images"] == 8
    assert check["image_size"] == [64, 64]
    assert abs(check["loss_db"]) <= 0.5
    assert result.bytes < 0.6 * result.float_bytes
    # the transposed convs have no integer kernel on the CPU: "auto" leaves them in float
    assert result.kept_float == result.float_layers == result.kernels["float_layers"] == [
        "/model/model.16/ConvTranspose", "/model/model.19/ConvTranspose"]
    assert result.kernels["integer"]["QLinearConv"] == 16
    stored = onnx.load(str(tmp_path / "t.onnx")).graph.initializer  # every weight in int8
    assert not [t.name for t in stored if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) > 1]
    assert {t.name for t in stored if t.name.endswith("_int8")} == {
        "model.16.weight_int8", "model.19.weight_int8"}


def test_equalisation_keeps_the_float_output_and_evens_the_channels(teacher_slim, tmp_path):
    _, small, data = teacher_slim
    path = tmp_path / "f.onnx"
    export_onnx(small, path, 64)
    model = onnx.load(str(path))
    before = {t.name: onnx.numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    images = data.train[0][:8].numpy()
    names = equalize_norm_inputs(model, images)
    convs = [n.name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert len(convs) == 18
    assert len(names) >= 9
    assert set(names) <= set(convs[:-1])  # not the
    # output layer, which feeds no norm
    changed = [t.name for t in model.graph.initializer
               if not np.allclose(onnx.numpy_helper.to_array(t), before[t.name])]
    assert changed
    x = data.test_a.numpy()
    assert np.abs(run_onnx(model, x) - run_onnx(path, x)).max() < 1e-3  # 1/8 of a grey level
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    again = equalize_norm_inputs(probe, images)  # the scaled channels share one spread now
    assert again == names
    for a, b in zip(model.graph.initializer, probe.graph.initializer):
        assert np.allclose(onnx.numpy_helper.to_array(a), onnx.numpy_helper.to_array(b),
                           rtol=1e-3, atol=1e-6)


@pytest.mark.slow
def test_layers_kept_in_float_by_name_and_by_sensitivity(teacher_slim, tmp_path):
    _original, small, data = teacher_slim
    first = "/model/model.1/Conv"
    named = export_int8(small, tmp_path / "a.onnx", data.train[0][:16], data.test_a[:4],
                        config=Int8Config(keep_float=(first,)))
    assert named.kept_float == [first]
    assert first in named.float_layers
    # an unreachable target: "auto" keeps at most max_float_layers, returning the best found
    auto = export_int8(small, tmp_path / "b.onnx", data.train[0][:16], data.test_a[:4],
                       config=Int8Config(min_psnr_db=200.0, max_float_layers=2))
    transposed = ["/model/model.16/ConvTranspose", "/model/model.19/ConvTranspose"]
    assert auto.kept_float[:2] == transposed
    assert 3 <= len(auto.kept_float) <= 4
    assert set(auto.kept_float) <= set(auto.float_layers)
    plain = export_int8(small, tmp_path / "c.onnx", data.train[0][:16], data.test_a[:4],
                        config=Int8Config(keep_float=()))
    assert auto.check["to_float"]["psnr_db"] >= plain.check["to_float"]["psnr_db"]


def test_bad_images_are_one_line_errors(teacher_slim, tmp_path):
    _, small, data = teacher_slim
    with pytest.raises(ExportError, match="calibration: need images"):
        export_int8(small, tmp_path / "x.onnx", data.test_a[0], data.test_a)
    with pytest.raises(ExportError, match="check images: need images"):
        export_int8(small, tmp_path / "x.onnx", data.test_a, data.test_a[:0])
    assert not (tmp_path / "x.onnx").exists()


def test_onnx_kernels_reads_a_float_file(teacher_slim, tmp_path):
    _, small, _ = teacher_slim
    export_onnx(small, tmp_path / "f.onnx", 32)
    kernels = onnx_kernels(tmp_path / "f.onnx")
    assert kernels["integer"] == {}
    assert len(kernels["float_layers"]) == 18  # every layer


def test_cli_int8_export(teacher_slim, tmp_path, capsys):
    _original, small, _ = teacher_slim
    save_generator(small, tmp_path / "slim_G_A.pth")
    out = tmp_path / "g.onnx"
    code = cli.main(["export", str(tmp_path / "slim_G_A.pth"), "--out", str(out), "--int8",
                     "--size", "32", "--n-train", "16", "--calibration", "8",
                     "--check-images", "4", "--quiet", "--keep-float", "none", "--original",
                     str(ROOT / "deap_gan_prune" / "teacher" / "latest_net_G_A.pth")])
    printed = capsys.readouterr().out
    assert code == 0
    assert out.is_file()
    assert "QLinearConv" in printed
    assert "loses" in printed
    assert "ConvTranspose" in printed
    report = json.loads(Path(str(out) + ".json").read_text())
    assert report["check"]["images"] == 4
    assert report["check"]["image_size"] == [32, 32]
    assert report["config"]["keep_float"] == []
    assert cli.main(["export", str(tmp_path / "slim_G_A.pth"), "--out",
                     str(tmp_path / "g.pt"), "--int8"]) == 1
    assert "--int8 writes ONNX" in capsys.readouterr().err


@pytest.mark.slow
def test_deploy_benchmark_at_toy_size(tmp_path):
    out = tmp_path / "deploy.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "deploy.py"), "--quick",
                           "--out", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    cases = [r["case"] for r in report["results"]]
    assert cases == ["teacher 4x", "teacher 8x"]
    for r in report["results"]:
        rows = r["rows"]
        assert len(rows) == 6
        assert all(row["mb"] > 0 for row in rows.values())
        ms = {name: row["ms"] for name, row in rows.items()}
        assert r["ratios"]["slim_onnx_ms / int8_ms"] == pytest.approx(
            ms["slim float (ONNX Runtime)"] / ms["slim int8 (ONNX Runtime)"], abs=1e-3)
        assert rows["slim int8 (ONNX Runtime)"]["psnr_db"] is not None
        assert r["int8"]["kernels"]["integer"].get("QLinearConv", 0) > 0
        assert r["parameters"]["slim"] < r["parameters"]["original"]
    assert "int8 file" in done.stdout

import sys

import onnx
import pytest
import torch

from deap_gan_prune import cli
from deap_gan_prune.core.baselines import uniform_mask
from deap_gan_prune.export import (
    ONNX_OPSET,
    ExportError,
    export_generator,
    export_onnx,
    export_torchscript,
    verify_export,
)
from deap_gan_prune.nets.checkpoints import save_generator
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim


@pytest.fixture(scope="module")
def slim_generator():
    torch.manual_seed(0)
    full = ResnetGenerator(ngf=8, n_blocks=2).eval()
    space = space_of(full)
    return slim(full, uniform_mask(space, 0.5, "macs", image_size=32), space)


@pytest.fixture
def export_cli(monkeypatch):
    """The CLI with the export subcommand registered (whether or not it already is)."""
    monkeypatch.setitem(cli.SUBCOMMANDS, "export", ("export_cmd", "export a generator"))
    return cli.main


def test_onnx_parity_single_file_opset_and_dynamic_batch(slim_generator, tmp_path):
    path = tmp_path / "g.onnx"
    info = export_onnx(slim_generator, path, image_size=32)
    assert info["opset"] == ONNX_OPSET == 17
    assert info["format"] == "onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx"]  # no external data
    model = onnx.load(str(path))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
    assert dims[1].dim_value == 3
    for batch, size in ((1, 32), (3, 32), (2, 48), (1, 20)):  # any batch and image size
        assert verify_export(path, slim_generator, image_size=size, batch_size=batch) < 1e-4


def test_onnx_fixed_size_on_request(slim_generator, tmp_path):
    path = tmp_path / "g.onnx"
    export_onnx(slim_generator, path, image_size=32, dynamic_size=False)
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    assert [d.dim_value for d in dims[1:]] == [3, 32, 32]
    assert verify_export(path, slim_generator, batch_size=2) < 1e-4
    with pytest.raises(ExportError, match="exported for 32x32"):
        verify_export(path, slim_generator, image_size=16)


def test_torchscript_parity_at_other_sizes(slim_generator, tmp_path):
    path = tmp_path / "g.pt"
    info = export_torchscript(slim_generator, path, image_size=32)
    assert info["format"] == "torchscript"
    assert path.is_file()
    assert verify_export(path, slim_generator, image_size=32) < 1e-4
    assert verify_export(path, slim_generator, image_size=48, batch_size=3) < 1e-4


def test_a_different_generator_is_detected(slim_generator, tmp_path):
    path = tmp_path / "g.pt"
    export_generator(slim_generator, path, image_size=16)
    torch.manual_seed(5)
    other = ResnetGenerator(widths=slim_generator.widths).eval()
    assert verify_export(path, other, image_size=16) > 1e-3


def test_export_leaves_the_generator_untouched(slim_generator, tmp_path):
    slim_generator.train()
    before = {k: v.clone() for k, v in slim_generator.state_dict().items()}
    export_generator(slim_generator, tmp_path / "g.onnx", image_size=16)
    assert slim_generator.training
    assert all(torch.equal(before[k], v) for k, v in slim_generator.state_dict().items())
    slim_generator.eval()


def test_bad_requests_are_clear_errors(slim_generator, tmp_path, monkeypatch):
    with pytest.raises(ExportError, match="unknown export format"):
        export_generator(slim_generator, tmp_path / "g.bin", fmt="tflite")
    with pytest.raises(ExportError, match="opset 99"):
        export_onnx(slim_generator, tmp_path / "g.onnx", 16, opset=99)
    with pytest.raises(ExportError, match="multiple of 4"):
        export_torchscript(slim_generator, tmp_path / "g.pt", image_size=30)
    with pytest.raises(ExportError, match="no such ONNX file"):
        verify_export(tmp_path / "absent.onnx", slim_generator)
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ExportError, match=r"junk\.onnx: ONNX Runtime cannot load"):
        verify_export(tmp_path / "junk.onnx", slim_generator)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ExportError, match=r"junk\.pt: not a TorchScript file"):
        verify_export(tmp_path / "junk.pt", slim_generator)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExportError, match="pip install onnx onnxruntime"):
        verify_export(tmp_path / "junk.onnx", slim_generator)


@pytest.mark.parametrize(("fmt", "name"), [("onnx", "g.onnx"), ("torchscript", "g.pt")])
def test_cli_end_to_end(slim_generator, tmp_path, export_cli, capsys, fmt, name):
    source = tmp_path / "slim_G_A.pth"
    save_generator(slim_generator, source)
    out = tmp_path / "out" / name
    code = export_cli(["export", str(source), "--format", fmt, "--out", str(out),
                       "--size", "32"])
    printed = capsys.readouterr().out
    assert code == 0
    assert out.is_file()
    assert "max |export - eager| =" in printed
    diff = float(printed.split("max |export - eager| = ")[1].split()[0])
    assert diff < 1e-4
    assert ("ONNX opset 17" in printed) == (fmt == "onnx")


def test_cli_bad_file_is_exit_1_with_one_line(tmp_path, export_cli, capsys):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"\x00not a checkpoint")
    code = export_cli(["export", str(bad), "--format", "onnx", "--out",
                       str(tmp_path / "g.onnx"), "--size", "32"])
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "broken.pth" in err
    assert err.startswith("deap-gan-prune export: error:")
    assert not (tmp_path / "g.onnx").exists()


def test_cli_tolerance_and_size_checks(slim_generator, tmp_path, export_cli, capsys):
    source = tmp_path / "g.pth"
    save_generator(slim_generator, source)
    code = export_cli(["export", str(source), "--format", "onnx", "--out",
                       str(tmp_path / "g.onnx"), "--size", "16", "--tolerance", "-1"])
    assert code == 1
    assert "--tolerance -1.0: must be a finite number above 0" in \
        capsys.readouterr().err
    code = export_cli(["export", str(source), "--format", "onnx", "--out",
                       str(tmp_path / "g.onnx"), "--size", "16", "--tolerance", "1e-30"])
    assert code == 1
    assert "above the tolerance" in capsys.readouterr().err
    code = export_cli(["export", str(source), "--format", "onnx", "--out",
                       str(tmp_path / "g.onnx"), "--size", "30"])
    assert code == 1
    assert "--size 30" in capsys.readouterr().err

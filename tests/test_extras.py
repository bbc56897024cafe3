"""What a plain install can do: ONNX and ONNX Runtime are dependencies (``compress`` exports by
default), and a command that needs a missing package or extra is refused with its install
command before any work."""
import configparser
import sys
from pathlib import Path

import pytest

from deap_gan_prune.cli import main

ROOT = Path(__file__).parents[1]


def _requirements() -> tuple[list[str], dict[str, list[str]]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    base = cfg["options"]["install_requires"].split()
    extras = {k: v.split() for k, v in cfg["options.extras_require"].items()}
    return base, extras


def test_a_plain_install_exports():
    base, extras = _requirements()
    names = {r.split(">")[0].split("=")[0] for r in base}
    assert {"onnx", "onnxruntime"} <= names
    assert "export" not in extras
    assert {"ray", "fid"} <= set(extras)


def test_the_readme_names_every_extra_where_it_is_needed():
    text = (ROOT / "README.md").read_text()
    _, extras = _requirements()
    for extra in set(extras) - {"test", "dev"}:
        assert f'deap-gan-prune[{extra}]' in text, extra
    for flag, extra in (("--ray", "ray"), ("--fid", "fid")):
        lines = [line for line in text.splitlines() if flag in line]
        assert lines, flag
        assert any(f"[{extra}]" in line for line in lines), flag


@pytest.mark.parametrize("missing", ["onnx", "onnxruntime"])
def test_compress_without_onnx_is_refused_before_any_work(missing, tmp_path, monkeypatch,
                                                          capsys):
    from deap_gan_prune.compression import stages
    monkeypatch.setitem(sys.modules, missing, None)
    for name in list(stages.STAGE_FUNCTIONS):
        monkeypatch.setitem(stages.STAGE_FUNCTIONS, name, lambda _ctx: pytest.fail("work began"))
    out = tmp_path / "run"
    assert main(["compress", "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "pip install onnx onnxruntime" in err, err
    assert missing in err, err
    assert not out.exists()


def test_export_without_onnx_is_refused_before_loading(tmp_path, monkeypatch, capsys):
    from deap_gan_prune.cli import export_cmd
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(export_cmd, "load_generator", lambda *_a, **_k: pytest.fail("work began"))
    assert main(["export", str(tmp_path / "g.pth"), "--out", str(tmp_path / "g.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "pip install onnx onnxruntime" in err, err


def test_search_with_ray_missing_is_refused_before_loading_data(tmp_path, monkeypatch, capsys):
    from deap_gan_prune.cli import search_cmd
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(search_cmd, "load_data", lambda *_a, **_k: pytest.fail("work began"))
    assert main(["search", "--ray", "local", "--out", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "pip install 'deap-gan-prune[ray]'" in err, err


def test_the_library_search_with_ray_missing_is_refused_before_any_work(monkeypatch):
    import importlib

    import torch

    from deap_gan_prune import RunOptions, Task
    from deap_gan_prune.nets.models import ResnetGenerator
    searching = importlib.import_module("deap_gan_prune.evolution.search")
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(searching, "make_fitnesses", lambda *_a, **_k: pytest.fail("began"))
    task = Task({"A": ResnetGenerator(ngf=4, n_blocks=1)}, {"A": torch.zeros(4, 3, 16, 16)})
    with pytest.raises(ImportError, match=r"deap-gan-prune\[ray\]"):
        searching.search(task, None, RunOptions(ray_address="local", progress=False))

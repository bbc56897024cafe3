"""The examples end to end at toy size, on the shipped teacher and the embedded data."""
import json
import runpy
import sys

import pytest
import torch

from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.nets.checkpoints import load_generator
from deap_gan_prune.teacher import TEACHER_DIR


def _run(script, args, monkeypatch):
    """Run ``examples/script`` as ``__main__``; the torch thread count it may set is restored
    (other tests compare runs on one thread)."""
    import torch
    threads = torch.get_num_threads()
    monkeypatch.setattr(sys, "argv", [script, *args])
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(f"examples/{script}", run_name="__main__")
    finally:
        torch.set_num_threads(threads)
    return exit_info.value.code


@pytest.mark.slow
def test_horse2zebra_quick_end_to_end(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert _run("horse2zebra.py", ["--quick", "--quiet", "--out", str(out)], monkeypatch) == 0
    for name in ("slim_G_A.pth", "slim_G_A.json", "slim_G_B.pth", "masks.json", "fitness.png",
                 "samples.png", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    masks = json.loads((out / "masks.json").read_text())
    for name in ("G_A", "G_B"):
        report = summary["generators"][name]
        sizes = report["sizes"]
        assert sizes["original"]["parameters"] >= 4 * sizes["pruned"]["parameters"]
        assert sizes["original"]["macs_output_256"] >= 4 * sizes["pruned"]["macs_output_256"]
        latency = report["latency"]["64px"]
        assert latency["speedup"] == pytest.approx(latency["original_ms"] / latency["pruned_ms"])
        # the file written is the network the searched mask describes
        space = MaskSpace.from_dict(masks["spaces"][name[-1]])
        widths = space.widths_of(masks["masks"][name[-1]])
        slim_file = load_generator(out / f"slim_{name}.pth")
        assert slim_file.widths == widths
        assert report["widths"] == widths.to_dict()
        assert sizes["pruned"]["parameters"] == sum(p.numel() for p in slim_file.parameters())
    quality = summary["quality"]
    assert set(quality) >= {"original", "searched", "pruned", "directions"}
    assert 0 <= quality["pruned"]["outline"]["a2b_stripe_share"] <= 1
    assert "params" in capsys.readouterr().out


def test_horse2zebra_bad_inputs_exit_1(tmp_path, monkeypatch, capsys):
    assert _run("horse2zebra.py", ["--quick", "--checkpoints", str(tmp_path / "none")],
                monkeypatch) == 1
    assert "no such folder" in capsys.readouterr().err
    assert _run("horse2zebra.py", ["--quick", "--dataroot", str(tmp_path)], monkeypatch) == 1
    assert str(tmp_path) in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--budget", "1.5"], "budget must be in (0, 1], got 1.5"),
    (["--budget", "0"], "budget must be in (0, 1], got 0.0"),
    (["--device", "tpu"], "device 'tpu': not a device name; available: cpu"),
    (["--device", "cuda:7"], "device 'cuda:7': "),
    (["--out", "{file}/run"], "{file} is a file, not a folder")])
def test_horse2zebra_refuses_bad_settings_before_any_work(args, message, tmp_path, monkeypatch,
                                                          capsys):
    import deap_gan_prune.teacher as teacher
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def refuse(*_a, **_k):
        raise AssertionError("the run started")
    monkeypatch.setattr(teacher, "load_teacher", refuse)
    regular = tmp_path / "file"
    regular.write_text("x")
    args = [a.format(file=regular) for a in args]
    assert _run("horse2zebra.py", ["--quick", "--quiet", *args], monkeypatch) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("horse2zebra: error: ")
    assert message.format(file=regular) in err


@pytest.mark.slow
def test_custom_pipeline_example(tmp_path, monkeypatch, capsys):
    assert _run("custom_pipeline.py", ["--generations", "2", "--mu", "4", "--lambda", "6",
                                       "--out", str(tmp_path)], monkeypatch) == 0
    assert (tmp_path / "custom_fitness.png").is_file()
    assert "best: fitness" in capsys.readouterr().out


def test_shipped_teacher_is_small():
    files = list(TEACHER_DIR.glob("latest_net_*.pth"))
    assert len(files) == 4
    assert sum(f.stat().st_size for f in files) < 10 * 2**20


def test_custom_generator_example(tmp_path, monkeypatch, capsys):
    assert _run("custom_generator.py", ["--generations", "1", "--population", "4",
                                        "--out", str(tmp_path)], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "channel groups" in out
    assert "reloaded identical: True" in out
    info = json.loads((tmp_path / "slim.json").read_text())
    assert info["kind"] == "traced"
    assert info["architecture"]["class"].endswith(":TinyUNet")
    assert (tmp_path / "slim.pt").is_file()


@pytest.mark.slow
def test_horse2zebra_quick_with_a_supernet_trained_first(tmp_path, monkeypatch):
    out, sup = tmp_path / "run", tmp_path / "supernet"
    assert _run("horse2zebra.py", ["--quick", "--quiet", "--supernet", str(sup), "--out",
                                   str(out), "--supernet-gan-weight", "0.5"], monkeypatch) == 0
    assert (sup / "latest_net_G_A.pth").is_file()
    assert (sup / "supernet.json").is_file()
    assert json.loads((sup / "supernet.json").read_text())["gan_weight"] == 0.5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["search"]["fitness"] == "supernet"
    assert summary["supernet"] == str(sup)
    for name in ("G_A", "G_B"):
        sizes = summary["generators"][name]["sizes"]
        assert sizes["original"]["parameters"] >= 4 * sizes["pruned"]["parameters"]


@pytest.mark.slow
def test_horse2zebra_quick_on_the_shipped_supernet(tmp_path, monkeypatch):
    from deap_gan_prune.teacher import SUPERNET_DIR
    out = tmp_path / "run"
    assert _run("horse2zebra.py", ["--quick", "--quiet", "--supernet", "--out", str(out)],
                monkeypatch) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["search"]["fitness"] == "supernet"
    assert summary["supernet"] == str(SUPERNET_DIR)
    assert _run("horse2zebra.py", ["--quick", "--quiet", "--supernet", "--checkpoints",
                                   str(tmp_path), "--out", str(tmp_path / "x")],
                monkeypatch) == 1


@pytest.mark.slow
def test_train_supernet_recipe_at_toy_length(tmp_path, monkeypatch):
    out = tmp_path / "sup"
    assert _run("train_supernet.py", ["--steps", "1", "--n-images", "4", "--jobs", "1",
                                      "--threads", "1",
                                      "--out", str(out), "--work", str(tmp_path / "w"),
                                      "--quiet"], monkeypatch) == 0
    info = json.loads((out / "supernet.json").read_text())
    assert info["steps"] == 1
    assert set(info["quality"]) == {"teacher", "supernet"}
    assert set(info["quality"]["supernet"]) == {"0.25", "0.125", "0.0625", "full"}
    import torch
    state = torch.load(out / "latest_net_G_A.pth", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())


@pytest.mark.slow
def test_real_photos_quick_end_to_end(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["--quick", "--quiet", "--out", str(out)]
    assert _run("real_photos.py", args, monkeypatch) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["photos"] == ["chelsea", "coffee", "rocket"]        # held out, whole
    assert summary["params_ratio"] <= 0.25 + 1e-9
    own = {"class": "vintage_generator:VintageGenerator"}  # the class the JSON may name
    assert summary["params"]["slim"] == sum(
        p.numel() for p in load_generator(out / "compress" / "finetuned" / "slim_G_A.pth",
                                          architecture=own).parameters())
    assert 0 < summary["ssim"] <= 1
    assert summary["psnr_db"] > 0
    for name in ("before_after.png", "compress/report.md", "compress/export/G_A.onnx"):
        assert (out / name).stat().st_size > 0, name
    masks = json.loads((out / "compress" / "masks.json").read_text())
    assert masks["config"]["init"] == "uniform"                        # the width search
    assert "PSNR" in capsys.readouterr().out
    # run again: every stage is done, nothing is redone, the same summary numbers
    assert _run("real_photos.py", args, monkeypatch) == 0
    again = json.loads((out / "summary.json").read_text())
    assert (again["psnr_db"], again["params"]) == (summary["psnr_db"], summary["params"])

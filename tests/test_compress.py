"""compress: the shipped teacher end to end (library and command line), a kill at each stage
continued to the same files, config files and --print-config, changed settings refused and
--restart-from, the lock. Toy sizes throughout."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from deap_gan_prune.cli import main
from deap_gan_prune.compression import CompressConfig, CompressError, compress, load_config, to_toml

TOY = {"image_size": 32, "n_train": 8, "n_test": 4, "population": 4, "generations": 2,
       "adapt_steps": 2, "n_images": 4, "adapt_images": 4, "finetune_steps": 5, "batch_size": 2,
       "val_every": 2, "checkpoint_every": 2, "repeats": 2, "judge_steps": 2}
FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TOY.items()]
#: files that must be byte-identical between runs
COMPARED = ["masks.json", "slim/slim_G_A.pth", "slim/slim_G_B.pth", "finetuned/slim_G_A.pth",
            "finetuned/slim_G_B.pth", "export/G_A.onnx", "export/G_B.onnx"]
PICTURES = ["fitness.png", "kept_channels.png", "samples.png"]


def quiet(text):
    pass


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the library call."""
    out = tmp_path_factory.mktemp("compress") / "run"
    report = compress(CompressConfig(**TOY), out, progress=False, say=quiet)
    return out, report


def same_files(a, b):
    return {name: (a / name).read_bytes() == (b / name).read_bytes() for name in COMPARED}


@pytest.mark.slow
def test_library_end_to_end(reference):
    out, report = reference
    assert report == out / "report.md"
    text = report.read_text()
    for heading in ("## Size", "## Latency", "## Quality", "## Exported files"):
        assert heading in text
    for name in COMPARED + PICTURES + ["export/G_A.torchscript.pt", "evaluation.json",
                                       "config.toml"]:
        assert (out / name).is_file(), name
    for name in PICTURES:
        assert f"]({name})" in text
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert not (out / ".lock").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("capsys")
def test_command_line_end_to_end_gives_the_library_files(reference, tmp_path):
    out = tmp_path / "cli"
    assert main(["compress", "--out", str(out), "--quiet", *FLAGS]) == 0
    assert (out / "report.md").is_file()
    assert all(same_files(out, reference[0]).values())


@pytest.mark.slow
def test_a_kill_at_each_stage_continues_to_the_same_files(reference, tmp_path):
    out = tmp_path / "killed"
    config = CompressConfig(**TOY)

    def kill_at(stage, call, graceful=False):
        def hook(name, n):
            if (name, n) == (stage, call):
                if graceful:  # as Ctrl-C: the stage saves its checkpoint, then stops
                    os.kill(os.getpid(), signal.SIGINT)
                else:
                    raise KeyboardInterrupt
        return hook

    plan = [("search", 2, False), ("slim", 1, False), ("finetune", 1, True),
            ("finetune", 2, False), ("evaluate", 1, False), ("export", 1, False)]
    for stage, call, graceful in plan:
        with pytest.raises(KeyboardInterrupt):
            compress(config, out, progress=False, say=quiet,
                     on_step=kill_at(stage, call, graceful))
        assert not (out / ".lock").exists()
        if stage == "search":
            assert (out / "search_state.json").is_file()
            assert not (out / "masks.json").exists()
        if stage == "finetune":
            assert (out / "finetune_state.pt").is_file()
    compress(config, out, progress=False, say=quiet)
    assert same_files(out, reference[0]) == dict.fromkeys(COMPARED, True)


def test_config_file_and_print_config_round_trip(reference, tmp_path, capsys):
    config = CompressConfig(**{**TOY, "budget": 0.3})
    path = tmp_path / "settings.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config
    assert main(["compress", "--config", str(path), "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert printed == to_toml(config)
    assert main(["compress", "--config", str(path), "--print-config", "--seed", "3"]) == 0
    again = tmp_path / "printed.toml"
    again.write_text(capsys.readouterr().out)
    assert load_config(again) == CompressConfig(**{**TOY, "budget": 0.3, "seed": 3})
    # the settings saved in the run folder load back unchanged
    assert load_config(reference[0] / "config.toml") == CompressConfig(**TOY)
    yaml = pytest.importorskip("yaml")
    as_yaml = tmp_path / "settings.yaml"
    as_yaml.write_text(yaml.safe_dump(config.to_dict()))
    assert load_config(as_yaml) == config


def test_yaml_without_pyyaml_is_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "settings.yaml"
    path.write_text("seed: 1\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert main(["compress", "--config", str(path), "--print-config"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "PyYAML" in err
    assert "TOML" in err


def test_unknown_setting_is_named(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("populaton = 4\n")
    with pytest.raises(CompressError, match="populaton"):
        load_config(path)


def test_changed_setting_refused_then_restart_from(reference, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(reference[0], out)
    changed = [*FLAGS, "--finetune-steps=3"]
    assert main(["compress", "--out", str(out), "--quiet", *changed]) == 1
    err = capsys.readouterr().err.strip()
    assert "finetune_steps" in err
    assert "--restart-from finetune" in err
    assert len(err.splitlines()) == 1
    with pytest.raises(CompressError, match="budget"):
        compress(CompressConfig(**{**TOY, "budget": 0.5}), out, progress=False, say=quiet,
                 restart_from="finetune")
    compress(CompressConfig(**{**TOY, "finetune_steps": 3}), out, progress=False, say=quiet,
             restart_from="finetune")
    same = same_files(out, reference[0])
    assert same["masks.json"]
    assert same["slim/slim_G_A.pth"]
    assert not same["finetuned/slim_G_A.pth"]
    assert load_config(out / "config.toml").finetune_steps == 3


def test_the_lock_refuses_a_second_run_and_a_stale_one_is_taken_over(reference, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference[0], out)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".lock").write_text(f"{other.pid}\n")
        with pytest.raises(CompressError, match=f"PID {other.pid}"):
            compress(CompressConfig(**TOY), out, progress=False, say=quiet)
        assert (out / ".lock").read_text() == f"{other.pid}\n"
    finally:
        other.kill()
        other.wait()
    # the process is gone: its lock is stale and taken over
    compress(CompressConfig(**TOY), out, progress=False, say=quiet)
    assert not (out / ".lock").exists()


@pytest.mark.slow
def test_one_generator_of_your_own_class(tmp_path, monkeypatch):
    import torch
    from generic_nets import AffineResnet
    monkeypatch.syspath_prepend(os.path.dirname(__file__))
    torch.manual_seed(0)
    torch.save(AffineResnet().state_dict(), tmp_path / "g.pth")
    config = CompressConfig(**{**TOY, "generations": 1, "finetune_steps": 2, "search_size": 16},
                            generator="generic_nets:AffineResnet", weights=str(tmp_path / "g.pth"),
                            budget=0.25)  # a size budget: the default speed-up measures latency
    report = compress(config, tmp_path / "run", progress=False, say=quiet)
    assert "## Quality (A→B" in report.read_text()
    masks = json.loads((tmp_path / "run" / "masks.json").read_text())
    assert masks["config"]["init"] == "uniform"
    assert masks["finalists"]  # the width search
    for name in ("finetuned/slim_G_A.pth", "export/G_A.onnx", "kept_channels.png"):
        assert (tmp_path / "run" / name).is_file()


def test_search_images_at_the_search_size():
    import torch

    from deap_gan_prune.compression.stages import search_images
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    pair = CompressConfig(**TOY)
    assert search_images(pair, images) is images                       # the pair: as loaded
    own = CompressConfig(**TOY, generator="m:C", weights="w.pth")
    assert search_images(own, images) is images                        # never upsampled
    small = search_images(CompressConfig(**TOY, search_size=16), images)
    assert small.shape == (3, 3, 16, 16)
    assert small.abs().max() <= 1
    big = torch.rand(2, 3, 256, 256) * 2 - 1
    assert search_images(own, big).shape[-1] == 64                     # one generator: 64 px
    assert CompressConfig(**TOY, generator="m:C", weights="w.pth").widths
    assert not CompressConfig(**TOY).widths
    assert CompressConfig(**TOY, variation="widths").widths
    with pytest.raises(CompressError, match="variation"):
        CompressConfig(**TOY, variation="bits")
    with pytest.raises(CompressError, match="search_size"):
        CompressConfig(**TOY, search_size=30)


@pytest.mark.slow
def test_front_run_draws_the_front_and_the_search_against_generation(tmp_path):
    config = CompressConfig(**{**TOY, "generations": 1, "finetune_steps": 2}, front=True,
                            size_range=(0.1, 0.5))
    report = compress(config, tmp_path / "run", progress=False, say=quiet).read_text()
    for name in ("front.png", "fitness.png", "front.json", "masks.json"):
        assert (tmp_path / "run" / name).stat().st_size > 0, name
    assert "Quality score and sizes of the front search" in report
    assert "(front.png)" in report


def test_every_setting_is_declared_once_with_its_stage_and_help():
    from dataclasses import fields

    from deap_gan_prune.compression.config import STAGE_KEYS, STAGES
    for f in fields(CompressConfig):
        assert (f.metadata["stage"] in STAGES) != f.metadata["runtime_only"], f.name
        assert f.metadata["help"], f.name
    staged = [name for keys in STAGE_KEYS.values() for name in keys]
    runtime = {f.name for f in fields(CompressConfig) if f.metadata["runtime_only"]}
    assert sorted(staged + sorted(runtime)) == sorted(f.name for f in fields(CompressConfig))
    assert runtime == {"checkpoint_every", "workers", "device"}
    for name, value, problem in (("population", 0, "must be >= 2"),
                                 ("opset", 21, r"must be in \[9, 20\]"),
                                 ("lr", 0.0, "must be > 0"),
                                 ("variation", "x", "must be auto, widths or channels")):
        with pytest.raises(CompressError, match=f"{name} = .*: {problem}"):
            CompressConfig(**{name: value})

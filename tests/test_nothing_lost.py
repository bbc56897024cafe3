"""Nothing lost, nothing trusted: no command writes over its inputs or a folder it did not
make; replaced results are kept until their successors are written; finished stages are
verified; config values are typed; a file never chooses what is imported; requests that
cannot fit are refused before allocation; a full disk, a tiny image, SIGTERM end in one line."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from generic_nets import StyleNet
from PIL import Image

from deap_gan_prune.cli import main
from deap_gan_prune.compression import CompressConfig, CompressError, compress, load_config
from deap_gan_prune.compression import stages as compress_stages
from deap_gan_prune.nets.checkpoints import (
    CheckpointError,
    architecture_of,
    load_generator,
    save_generator,
)
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim

TOY = {"image_size": 32, "n_train": 8, "n_test": 4, "population": 4, "generations": 1,
       "adapt_steps": 2, "n_images": 4, "adapt_images": 4, "finetune_steps": 4, "batch_size": 2,
       "val_every": 2, "checkpoint_every": 2, "repeats": 2, "judge_steps": 2}
TEACHER_G = Path(__file__).parents[1] / "deap_gan_prune" / "teacher" / "latest_net_G_A.pth"


def quiet(text):
    pass


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


# -- no output over an input ------------------------------------------------------------------
def test_supernet_never_writes_over_the_checkpoints_it_reads(gan_dir, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in gan_dir.iterdir()}
    assert main(["supernet", "--checkpoints", str(gan_dir), "--out", str(gan_dir),
                 "--steps", "1"]) == 1
    assert "is the input --checkpoints" in one_error(capsys)
    other = tmp_path / "trained"  # a folder of the user's generators, not given as input
    other.mkdir()
    (other / "latest_net_G_A.pth").write_bytes(b"user's weights")
    assert main(["supernet", "--out", str(other), "--steps", "1"]) == 1
    assert "not supernets (latest_net_G_A.pth)" in one_error(capsys)
    assert {p.name: p.read_bytes() for p in gan_dir.iterdir()} == before
    assert (other / "latest_net_G_A.pth").read_bytes() == b"user's weights"


def test_export_never_replaces_its_input(tmp_path, capsys):
    path = tmp_path / "G.pth"
    path.write_bytes(TEACHER_G.read_bytes())
    assert main(["export", str(path), "--format", "torchscript", "--out", str(path)]) == 1
    assert "is the input FILE" in one_error(capsys)
    assert path.read_bytes() == TEACHER_G.read_bytes()


def test_translate_never_writes_into_its_source(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    assert main(["translate", str(TEACHER_G), str(tmp_path), "--out", str(tmp_path)]) == 1
    assert "is the input SOURCE" in one_error(capsys)


# -- compress: foreign folders, restarts, verified stages, typed settings ---------------------
def test_compress_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    folder = tmp_path / "mine"
    (folder / "slim").mkdir(parents=True)
    (folder / "report.md").write_text("my notes")
    assert main(["compress", "--out", str(folder), "--quiet"]) == 1
    assert "holds other files and no compress run" in one_error(capsys)
    assert (folder / "report.md").read_text() == "my notes"
    assert sorted(p.name for p in folder.iterdir()) == ["report.md", "slim"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compress") / "run"
    compress(CompressConfig(**TOY), out, progress=False, say=quiet)
    return out


def _copy(run: Path, to: Path) -> Path:
    import shutil
    shutil.copytree(run, to)
    return to


@pytest.mark.slow
def test_restart_keeps_the_old_results_until_the_new_stage_is_written(finished_run, tmp_path,
                                                                       monkeypatch):
    out = _copy(finished_run, tmp_path / "run")
    old_masks = (out / "masks.json").read_bytes()
    old_onnx = (out / "export" / "G_A.onnx").read_bytes()

    def stopped(_ctx):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setitem(compress_stages.STAGE_FUNCTIONS, "search", stopped)
        with pytest.raises(KeyboardInterrupt):
            compress(CompressConfig(**TOY), out, restart_from="search", progress=False,
                     say=quiet)
    kept = out / ".replaced"
    assert (kept / "search" / "masks.json").read_bytes() == old_masks
    assert (kept / "export" / "export" / "G_A.onnx").read_bytes() == old_onnx
    assert (kept / "search" / "report.md").is_file()
    assert not (out / "masks.json").exists()
    said = []
    compress(CompressConfig(**TOY), out, progress=False, say=said.append)
    assert not kept.exists()
    assert (out / "masks.json").read_bytes() == old_masks
    assert (out / "report.md").is_file()


@pytest.mark.parametrize(("damage", "redone"), [
    (lambda out: (out / "export" / "G_B.onnx").unlink(), "stage export is redone: "
                                                           "export/G_B.onnx is missing"),
    (lambda out: (out / "finetuned" / "slim_G_A.pth").write_bytes(b"damaged"),
     "stage finetune is redone: finetuned/slim_G_A.pth has changed"),
])
def test_a_finished_stage_is_verified_before_it_is_skipped(finished_run, tmp_path, damage,
                                                           redone):
    out = _copy(finished_run, tmp_path / "run")
    damage(out)
    said = []
    compress(CompressConfig(**TOY), out, progress=False, say=said.append)
    assert any(line.startswith(redone) for line in said), said
    for name in ("export/G_A.onnx", "export/G_B.onnx", "finetuned/slim_G_A.pth"):
        assert (out / name).read_bytes() == (finished_run / name).read_bytes(), name
    state = json.loads((out / "state.json").read_text())
    assert "export/G_B.onnx" in state["stages"]["export"]["files"]


@pytest.mark.parametrize(("line", "problem"), [
    ('front = "false"', 'front = "false": expected true or false'),
    ('int8 = "false"', 'int8 = "false": expected true or false'),
    ("population = 2.5", "population = 2.5: expected a whole number"),
    ('budget = "0.25"', 'budget = "0.25": expected a number'),
    ("distill = nan", "distill = NaN: expected a finite number"),
    ("size_range = [0.1]", "size_range = [0.1]: expected a list of 2 values"),
    ("generator_kwargs = 3", "generator_kwargs = 3: expected a table"),
    ("budget = 2.0", "budget = 2.0: must be in (0, 1]"),
])
def test_config_values_are_typed_and_the_error_names_file_and_key(tmp_path, line, problem):
    path = tmp_path / "cfg.toml"
    path.write_text(line + "\n")
    with pytest.raises(CompressError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {problem}"), str(info.value)
    with pytest.raises(CompressError, match="front = 1: expected true or false"):
        CompressConfig(front=1)  # type: ignore[arg-type]


# -- a file never chooses what is imported ----------------------------------------------------
def test_a_sidecar_naming_a_foreign_class_is_refused_before_import(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = StyleNet(ngf=4).eval()
    space = space_of(net, torch.zeros(1, 3, 32, 32))
    bits = space.full()
    arch = architecture_of("generic_nets:StyleNet", {"ngf": 4})
    path = tmp_path / "slim_G_A.pth"
    save_generator(slim(net, bits, space), path, architecture=arch, space=space, bits=bits)
    assert isinstance(load_generator(path, architecture=arch), StyleNet)  # named: trusted
    with pytest.raises(CheckpointError, match="imported only when given as the generator"):
        load_generator(path)  # not named
    sidecar = path.with_suffix(".json")
    info = json.loads(sidecar.read_text())
    info["architecture"]["class"] = "this:Zen"
    sidecar.write_text(json.dumps(info))
    monkeypatch.delitem(sys.modules, "this", raising=False)
    with pytest.raises(CheckpointError, match=r"slim_G_A\.json: names the class 'this:Zen'"):
        load_generator(path, architecture=arch)
    assert "this" not in sys.modules  # its import side effect never ran


def test_the_library_own_classes_load_from_a_sidecar(tmp_path):
    torch.manual_seed(0)
    net = ResnetGenerator(ngf=4, n_blocks=1).eval()
    space = space_of(net, torch.zeros(1, 3, 32, 32))
    bits = space.full()
    arch = architecture_of(ResnetGenerator, {"ngf": 4, "n_blocks": 1})
    path = tmp_path / "g.pth"
    save_generator(net, path, architecture=arch, space=space, bits=bits)
    assert isinstance(load_generator(path), ResnetGenerator)


# -- checked values and limits ----------------------------------------------------------------
@pytest.mark.parametrize(("argv", "problem"), [
    (["export", str(TEACHER_G), "--out", "t.onnx", "--tolerance", "nan"],
     "--tolerance nan: must be a finite number above 0"),
    (["export", str(TEACHER_G), "--out", "t.onnx", "--int8", "--max-loss-db", "nan"],
     "--max-loss-db nan: must be a finite number"),
    (["evaluate", "slim", "--repeats", "0"], "--repeats 0: must be a finite number 1 or more"),
    (["evaluate", "slim", "--judge-steps", "-1"], "--judge-steps -1: must be"),
    (["export", str(TEACHER_G), "--out", "t.onnx", "--size", "40000"],
     "--size 40000 (with --check-batch 2): needs about"),
    (["search", "--population", str(10**20), "--out", "m.json", "--image-size", "32",
      "--n-train", "8", "--n-test", "4"], f"population {10**20}: needs about"),
    (["search", "--image-size", "40000", "--out", "m.json"],
     "image_size 40000 with n_train 512 and n_test 64: needs about"),
    (["plot", "m.json", "--out", "p.xyz"], "p.xyz: cannot draw a .xyz file"),
    (["translate", str(TEACHER_G), __file__, "--out", "o"], "is a file, not a folder"),
])
def test_bad_values_are_one_line_before_any_work(argv, problem, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text("{}")
    assert main(argv) == 1
    assert problem in one_error(capsys)
    assert not (tmp_path / "t.onnx").exists()
    assert not (tmp_path / "o").exists()


def test_keep_float_names_an_unknown_node(tmp_path):
    from deap_gan_prune.export import ExportError
    from deap_gan_prune.quantization import Int8Config, export_int8
    torch.manual_seed(0)
    net = ResnetGenerator(ngf=4, n_blocks=1).eval()
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    with pytest.raises(ExportError, match="has no ONNX node 'nosuchnode'"):
        export_int8(net, tmp_path / "g.onnx", images, images, None,
                    Int8Config(keep_float=("nosuchnode",)))
    assert not (tmp_path / "g.onnx").exists()


def test_a_checkpoint_with_nan_fitness_or_past_the_generations_is_refused(tmp_path, capsys):
    ck, out = tmp_path / "ck.json", tmp_path / "m.json"
    args = ["search", "--image-size", "32", "--n-train", "8", "--n-test", "4", "--population",
            "4", "--adapt-steps", "2", "--n-images", "4", "--adapt-images", "4", "--quiet",
            "--checkpoint", str(ck), "--out", str(out)]
    assert main([*args, "--generations", "2"]) == 0
    capsys.readouterr()
    assert main([*args, "--generations", "1", "--resume"]) == 1
    assert "at generation 2, beyond the 1 generations asked for" in one_error(capsys)
    data = json.loads(ck.read_text())
    data["populations"]["A"][0]["fitness"] = [float("nan")]
    ck.write_text(json.dumps(data))
    assert main([*args, "--generations", "3", "--resume"]) == 1
    assert "populations.A[0].fitness should be null or a list of finite numbers" in \
        one_error(capsys)


# -- files and folders ------------------------------------------------------------------------
def test_output_folders_follow_the_umask(tmp_path):
    from deap_gan_prune.outputs import staged_folder
    old = os.umask(0o022)
    try:
        with staged_folder(tmp_path / "slim") as stage:
            (stage / "x").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "slim").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(("suffix", "magic"), [(".pdf", b"%PDF"), (".svg", b"<?xml"),
                                               (".png", b"\x89PNG")])
def test_plot_writes_the_format_its_suffix_names(tmp_path, suffix, magic):
    from deap import tools

    from deap_gan_prune.plotting import plot_fitness
    logbook = tools.Logbook()
    for gen in range(3):
        logbook.record(gen=gen, max=1.0 + gen, avg=0.5 + gen, min=0.1 * gen,
                       best_size_ratio=0.25)
    path = plot_fitness(logbook, tmp_path / f"f{suffix}")
    assert path.read_bytes()[:len(magic)] == magic


def _small_disk(tmp_path: Path) -> Path:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("no small file system can be mounted here (needs root and tmpfs)")
    return mount


@pytest.mark.parametrize(("fmt", "name"), [("torchscript", "g.pt"), ("onnx", "g.onnx")])
@pytest.mark.slow
def test_an_export_onto_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, fmt, name):
    mount = _small_disk(tmp_path)
    try:
        done = subprocess.run([sys.executable, "-m", "deap_gan_prune", "export", str(TEACHER_G),
                               "--format", fmt, "--size", "32", "--out", str(mount / name)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stderr[-2000:]
        assert done.stderr.strip().endswith("could not write (No space left on device)")
        assert len(done.stderr.strip().splitlines()) == 1
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_translate_skips_images_the_generator_cannot_run_on(tmp_path, capsys):
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    Image.new("RGB", (1, 1)).save(source / "a_dot.png")
    Image.new("RGB", (3, 2)).save(source / "b_sliver.png")
    Image.new("RGB", (32, 32), (200, 30, 30)).save(source / "c_photo.png")
    os.symlink("loop.png", source / "loop.png")
    assert main(["translate", str(TEACHER_G), str(source), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    for name in ("a_dot.png", "b_sliver.png", "loop.png"):
        assert name in err
    assert sorted(p.name for p in out.iterdir()) == ["c_photo.png"]


# -- stopping ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigterm_stops_a_search_saying_where_its_checkpoint_is(tmp_path):
    ck = tmp_path / "ck.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deap_gan_prune", "search", "--image-size", "32", "--n-train",
         "8", "--n-test", "4", "--population", "4", "--generations", "500", "--adapt-steps",
         "2", "--n-images", "4", "--adapt-images", "4", "--quiet", "--checkpoint", str(ck),
         "--out", str(tmp_path / "m.json")],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 240
    while not ck.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last == (f"deap-gan-prune search: interrupted; {ck} holds the last saved "
                    "generation: the same command with --resume continues it"), last


def test_an_interrupted_command_without_checkpoint_says_nothing_was_saved(tmp_path,
                                                                         monkeypatch, capsys):
    from deap_gan_prune.cli import finetune_cmd

    def interrupt(*_args, **_kwargs):
        raise KeyboardInterrupt
    for name in ("G_A", "G_B"):  # the slim pair is read first, then the data
        save_generator(ResnetGenerator(ngf=4, n_blocks=1), tmp_path / f"slim_{name}.pth")
    monkeypatch.setattr(finetune_cmd, "load_data", interrupt)
    assert main(["finetune", str(tmp_path)]) == 130
    assert "interrupted; nothing was saved (add --checkpoint FILE" in one_error(capsys)

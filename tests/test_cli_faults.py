"""Bad input and faults at the command line: each is refused before any work with one line
naming what is wrong, exit status 1, and leaves earlier outputs as they were."""
import json
import warnings

import pytest
import torch

from deap_gan_prune.cli import main, search_cmd, warning_printer

DATA = ["--image-size", "32", "--n-train", "8", "--n-test", "4", "--quiet"]
SMALL = [*DATA, "--population", "4", "--generations", "1", "--n-images", "4"]


@pytest.fixture(scope="module")
def masks_file(gan_dir, tmp_path_factory):
    """A masks.json of a real (tiny) search."""
    path = tmp_path_factory.mktemp("search") / "masks.json"
    assert main(["search", "--checkpoints", str(gan_dir), *SMALL, "--budget", "0.5",
                 "--out", str(path)]) == 0
    return path


@pytest.fixture
def no_search(monkeypatch):
    """Fail the test if a search starts: refusals must come before any work."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("the search ran")
    monkeypatch.setattr(search_cmd, "search", refuse)
    monkeypatch.setattr(search_cmd, "load_models", refuse)


def _error(capsys) -> str:
    """The one line on stderr (fails when there are more)."""
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err, err
    return err.strip()


# -- 1. devices ------------------------------------------------------------------------------
COMMANDS = {"search": [], "slim": ["masks.json"], "finetune": ["slim"], "evaluate": ["slim"]}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("device", ["tpu", "cuda", "cuda:7", "cpu:3"])
def test_unavailable_devices_are_refused_up_front(command, device, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main([command, *COMMANDS[command], "--device", device]) == 1
    err = _error(capsys)
    assert err.startswith(f"deap-gan-prune {command}: error: device '{device}'")
    assert err.endswith("available: cpu")


def test_a_cuda_index_beyond_the_gpus_names_the_ones_there(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert main(["search", "--device", "cuda:7"]) == 1
    assert _error(capsys).endswith("device 'cuda:7': there are 2 CUDA devices; available: "
                                   "cpu, cuda:0, cuda:1")


# -- 2. mask bits ----------------------------------------------------------------------------
@pytest.mark.parametrize("generator", ["A", "B"])
@pytest.mark.parametrize(("bad", "problem"), [
    (None, "has null at position 3"), (2, "has 2 at position 3"), (-1, "has -1 at position 3"),
    (True, "has true at position 3"), (0.5, "has 0.5 at position 3")])
def test_mask_bits_other_than_0_and_1_are_refused(masks_file, gan_dir, tmp_path, capsys,
                                                  generator, bad, problem):
    data = json.loads(masks_file.read_text())
    data["masks"][generator][3] = bad
    bad_file = tmp_path / "bad_masks.json"
    bad_file.write_text(json.dumps(data))
    out = tmp_path / "slim"
    assert main(["slim", str(bad_file), "--checkpoints", str(gan_dir), "--out", str(out)]) == 1
    err = _error(capsys)
    assert f"bad_masks.json: the mask of G_{generator} {problem}; bits must be 0 or 1" in err
    assert not out.exists()


def test_mask_of_the_wrong_length_or_an_empty_group_is_refused(masks_file, gan_dir, tmp_path,
                                                                 capsys):
    data = json.loads(masks_file.read_text())
    n_bits = len(data["masks"]["B"])
    bad_file = tmp_path / "bad_masks.json"
    data["masks"]["B"] = data["masks"]["B"][:-1]
    bad_file.write_text(json.dumps(data))
    assert main(["slim", str(bad_file), "--checkpoints", str(gan_dir)]) == 1
    assert f"the mask of G_B must be a list of {n_bits} bits, found {n_bits - 1} bits" in \
        _error(capsys)
    data["masks"]["B"] = [0] * n_bits
    bad_file.write_text(json.dumps(data))
    assert main(["slim", str(bad_file), "--checkpoints", str(gan_dir)]) == 1
    assert "the mask of G_B keeps 0 channels of group 'model.1'" in _error(capsys)


# -- 3. plot ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("records", "problem"), [
    ([1, 2], "logbook record 0 is int, not an object"),
    ([{"gen": 0}, None], "logbook record 1 is null, not an object"),
    (["gen"], "logbook record 0 is str, not an object"),
    ([{"nevals": 3}], "logbook record 0 has no integer 'gen'"),
    ([{"gen": 0, "A": {"max": "high"}}], "logbook record 0, chapter A has max = \"high\""),
    ([{"gen": 0, "A": {"max": 1}}, {"gen": 1, "B": {"max": 1}}],
     "logbook record 1 has chapters ['B'], record 0 has ['A']")])
def test_plot_of_malformed_logbook_records_is_one_line(records, problem, tmp_path, capsys):
    path = tmp_path / "log.json"
    path.write_text(json.dumps({"logbook": records}))
    assert main(["plot", str(path), "--out", str(tmp_path / "fit.png")]) == 1
    assert f"log.json: {problem}" in _error(capsys)
    assert not (tmp_path / "fit.png").exists()


# -- 5. slim writes both generators or nothing ---------------------------------------------
def test_slim_failing_half_way_leaves_the_earlier_pair(masks_file, gan_dir, tmp_path, capsys,
                                                       monkeypatch):
    out = tmp_path / "slim"
    assert main(["slim", str(masks_file), "--checkpoints", str(gan_dir), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["slim_G_A.json", "slim_G_A.pth", "slim_G_B.json", "slim_G_B.pth"]
    from deap_gan_prune.cli import slim_cmd
    real, calls = slim_cmd.save_generator, []

    def disk_full_on_the_second(generator, path, extra=None, **described):  # noqa: ARG001
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(generator, path, {"masks": "other"}, **described)
    monkeypatch.setattr(slim_cmd, "save_generator", disk_full_on_the_second)
    assert main(["slim", str(masks_file), "--checkpoints", str(gan_dir), "--out", str(out)]) == 1
    assert "No space left on device" in _error(capsys)
    assert len(calls) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slim"]  # no staging folder left


# -- 6. output paths -------------------------------------------------------------------------
@pytest.mark.usefixtures("no_search")
def test_search_output_paths_are_checked_before_any_work(tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    regular = tmp_path / "file.json"
    regular.write_text("{}")
    for args, problem in (
            (["--out", str(folder)], f"--out {folder}: is a folder, not a file"),
            (["--out", str(regular / "masks.json")],
             f"--out {regular / 'masks.json'}: {regular} is a file, not a folder"),
            (["--plot", str(regular / "a" / "p.png")], f"{regular} is a file, not a folder"),
            (["--out", str(tmp_path / "m.json"), "--checkpoint", str(folder)],
             f"--checkpoint {folder}: is a folder")):
        assert main(["search", *args]) == 1
        assert problem in _error(capsys)


def test_other_subcommands_check_their_outputs_first(tmp_path, capsys):
    regular = tmp_path / "file"
    regular.write_text("x")
    for argv, problem in (
            (["slim", "missing.json", "--out", str(regular)], f"--out {regular}: is a file"),
            (["finetune", "slim", "--out", str(regular / "x")], "is a file, not a folder"),
            (["evaluate", "slim", "--out", str(tmp_path)], "is a folder, not a file"),
            (["export", "missing.pth", "--format", "onnx", "--out", str(tmp_path)],
             "is a folder, not a file"),
            (["plot", "missing.json", "--out", str(regular / "p.png")], "is a file, not a")):
        assert main(argv) == 1
        assert problem in _error(capsys), argv


# -- 7. checkpoints are not overwritten by accident ------------------------------------------
def test_existing_checkpoint_needs_resume_or_overwrite(gan_dir, tmp_path, capsys):
    ck = tmp_path / "ck.json"
    args = ["search", "--checkpoints", str(gan_dir), *SMALL, "--checkpoint", str(ck),
            "--out", str(tmp_path / "m.json")]
    assert main(args) == 0
    first = ck.read_bytes()
    assert main([*args, "--gamma", "3"]) == 1
    assert _error(capsys).endswith(f"--checkpoint {ck}: the file exists; add --resume to "
                                   "continue that search, or --overwrite to start again")
    assert ck.read_bytes() == first
    assert main([*args, "--gamma", "3", "--overwrite"]) == 0
    assert json.loads(ck.read_text())["config"]["gamma"] == 3.0
    capsys.readouterr()
    # -- 8. a hand-edited field is named on resume
    data = json.loads(ck.read_text())
    data["rng"]["torch"] = data["rng"]["torch"][:12]
    ck.write_text(json.dumps(data))
    assert main([*args, "--gamma", "3", "--resume"]) == 1
    assert _error(capsys).endswith(f"{ck}: a damaged checkpoint: field rng.torch should be a "
                                   f"list of {torch.get_rng_state().numel()} integers in "
                                   "0..255, found [" + ", ".join(map(str, data["rng"]["torch"]))
                                   + "]")


@pytest.mark.usefixtures("no_search")
def test_resume_and_overwrite_need_a_checkpoint(capsys):
    assert main(["search", "--resume"]) == 1
    assert "--resume needs --checkpoint FILE" in _error(capsys)
    assert main(["search", "--resume", "--overwrite", "--checkpoint", "x.json"]) == 1
    assert "exclude each other" in _error(capsys)


@pytest.mark.usefixtures("no_search")
def test_negative_workers_are_refused(capsys):
    assert main(["search", "--workers", "-1"]) == 1
    assert "--workers -1: must be 0 (in this process) or more" in _error(capsys)


# -- 9. non-finite weights -------------------------------------------------------------------
def test_nan_weights_are_named_at_load(gan_dir, tmp_path, capsys):
    bad = tmp_path / "gan"
    bad.mkdir()
    for f in gan_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    state = torch.load(bad / "latest_net_G_B.pth", weights_only=True)
    state["model.4.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, bad / "latest_net_G_B.pth")
    assert main(["search", "--checkpoints", str(bad), *SMALL, "--budget", "0.5",
                 "--out", str(tmp_path / "m.json")]) == 1
    n = state["model.4.weight"].numel()
    assert _error(capsys).endswith("latest_net_G_B.pth: tensor model.4.weight holds "
                                   f"non-finite values (1 NaN, 0 infinite of {n})")


# -- warnings --------------------------------------------------------------------------------
def test_warnings_print_as_one_line(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = warning_printer("deap-gan-prune search")
        warnings.warn("skipped /data/trainA/x.png: unreadable image (OSError: truncated)\n"
                      "second line", stacklevel=1)
    assert capsys.readouterr().err == ("deap-gan-prune search: warning: skipped "
                                       "/data/trainA/x.png: unreadable image (OSError: "
                                       "truncated)\n")


# -- 4. impossible budget --------------------------------------------------------------------
def test_an_impossible_budget_names_the_smallest_reachable_size(gan_dir, tmp_path, capsys):
    out = tmp_path / "masks.json"
    assert main(["search", "--checkpoints", str(gan_dir), *SMALL, "--budget", "1e-6",
                 "--out", str(out)]) == 1
    err = _error(capsys)
    assert "budget 1e-06 cannot be met: the smallest reachable size is" in err
    assert "every channel group at its minimum" in err
    assert not out.exists()

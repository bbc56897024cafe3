"""Checkpoint and resume: a killed search resumes to exactly the uninterrupted result."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import _search_script as script
import numpy as np
import pytest
import torch

from deap_gan_prune.evolution.coevolution import eaCoevolve
from deap_gan_prune.evolution.resume import (
    ResumeError,
    checkpointing,
    load_checkpoint,
    models_hash,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from deap_gan_prune.nets.models import ResnetGenerator

SCRIPT = Path(__file__).with_name("_search_script.py")


def _script(*args, **kw):
    return subprocess.Popen([sys.executable, str(SCRIPT), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _generation(path: Path) -> int:
    try:
        return json.loads(path.read_text())["generation"]
    except (OSError, ValueError, KeyError):
        return -1


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The output of the tiny search run to the end in its own process."""
    folder = tmp_path_factory.mktemp("full")
    proc = _script(folder / "ck.json", folder / "out.json")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads((folder / "out.json").read_text())


@pytest.mark.parametrize(("point", "generation", "holds"), [
    ("write", 3, 2),           # temporary file half-written: the previous checkpoint stays
    ("before-rename", 3, 2),   # whole temporary file, not yet moved into place
    ("after-rename", 3, 3),    # moved into place, killed before the next generation
    ("write", 0, None),        # killed in the very first write: no checkpoint at all
])
@pytest.mark.slow
def test_killed_search_resumes_to_the_uninterrupted_result(uninterrupted, tmp_path, point,
                                                           generation, holds):
    ck = tmp_path / "ck.json"
    victim = _script(ck, tmp_path / "never.json",
                     env={**os.environ, script.KILL_ENV: f"{point}:{generation}"})
    _, err = victim.communicate(timeout=300)
    assert victim.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert _generation(ck) == (-1 if holds is None else holds)
    assert not (tmp_path / "never.json").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ck.json"]
    assert len(leftovers) == (1 if point != "after-rename" else 0), leftovers

    resumed = _script(ck, tmp_path / "resumed_out.json", "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    b = json.loads((tmp_path / "resumed_out.json").read_text())
    assert b["resumed_from"] == holds
    assert uninterrupted["resumed_from"] is None
    for key in ("populations", "fitness", "best", "logbook"):
        assert uninterrupted[key] == b[key], key
    assert [r["gen"] for r in b["logbook"]] == list(range(7))


def test_resume_from_any_generation_in_process(tmp_path):
    ck = tmp_path / "ck.json"
    copies = {}

    def keep(state):
        copies[state.gen] = tmp_path / f"gen{state.gen}.json"
        shutil.copy(ck, copies[state.gen])

    full = script.run(ck, generations=5, callback=keep)
    assert sorted(copies) == list(range(6))
    for gen in (0, 3):
        shutil.copy(copies[gen], ck)
        random.seed(1234)  # whatever the state, the checkpoint's is restored
        resumed = script.run(ck, resume=True, generations=5)
        assert resumed["resumed_from"] == gen
        for key in ("populations", "fitness", "best", "logbook"):
            assert resumed[key] == full[key], (gen, key)
    # a finished checkpoint resumes to itself without evaluating anything
    shutil.copy(copies[5], ck)
    assert script.run(ck, resume=True, generations=5)["best"] == full["best"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An eaCoevolve run checkpointed by the ``checkpointing`` callback."""
    path = tmp_path_factory.mktemp("ck") / "search.json"
    nets, images = script.tiny_cyclegan()
    fits = script.paper_fitnesses(nets, images)
    random.seed(0)
    boxes = script.toolboxes(fits)
    pops = (boxes[0].population(n=4), boxes[1].population(n=4))
    digest = models_hash(*nets)
    config = {"population": 4, "gamma": 1.0, "nested": {"lr": 0.1}}
    save, states = checkpointing(path, config, digest), []

    def callback(state):
        states.append(state)
        return save(state)
    result = eaCoevolve(pops, boxes, 2, stats=(script.statistics(), script.statistics()),
                        callback=callback)
    return path, config, digest, result, states[-1].halloffame, type(pops[0][0])


def test_checkpoint_holds_the_state(finished):
    path, config, digest, (pops, logbook, best), hof, cls = finished
    data = read_checkpoint(path)
    assert data["generation"] == 2
    assert data["config"] == config
    state = load_checkpoint(path, cls, config, digest)
    for restored, original in zip(state.populations, pops):
        assert [list(i) for i in restored] == [list(i) for i in original]
        assert [i.fitness.values for i in restored] == [i.fitness.values for i in original]
        assert all(type(i) is cls for i in restored)
    assert [list(b) for b in state.best] == [list(b) for b in best]
    assert state.best[0] in state.populations[0]
    assert [(list(a), list(b), g, s) for a, b, g, s in state.halloffame.items] == \
        [(list(a), list(b), g, s) for a, b, g, s in hof.items]
    assert state.logbook.chapters["A"].select("max") == logbook.chapters["A"].select("max")
    assert state.logbook.select("gen") == [0, 1, 2]


def test_other_configuration_or_models_are_refused(finished):
    path, config, digest, _, _, cls = finished
    with pytest.raises(ResumeError, match=r"search\.json.*differing: gamma, nested\.lr\)$"):
        load_checkpoint(path, cls, {**config, "gamma": 2.0, "nested": {"lr": 0.2}}, digest)
    with pytest.raises(ResumeError, match=r"differing: extra_key, models"):
        load_checkpoint(path, cls, {**config, "extra_key": 1}, "0" * 64)


def test_unreadable_checkpoints_name_the_file(finished, tmp_path):
    path, config, digest, _, _, cls = finished
    text = path.read_text()
    bad = tmp_path / "truncated.json"
    bad.write_text(text[:len(text) // 2])
    for content, problem in ((text[:len(text) // 2], "truncated or corrupt"),
                             ('{"format": "other"}', "not a co-evolution checkpoint"),
                             (text.replace('"populations"', '"populationz"'), "damaged")):
        bad.write_text(content)
        with pytest.raises(ResumeError, match=f"truncated.json: .*{problem}") as info:
            load_checkpoint(bad, cls, config, digest)
        assert "\n" not in str(info.value)
    with pytest.raises(ResumeError, match=r"missing\.json: no such checkpoint"):
        load_checkpoint(tmp_path / "missing.json", cls, config, digest)


def _edit(data, field, value):
    """``data`` with the entry at a dotted ``field`` path (list indices as numbers) set."""
    *parents, last = [int(k) if k.isdigit() else k for k in field.split(".")]
    target = data
    for key in parents:
        target = target[key]
    target[last] = value(target[last]) if callable(value) else value
    return data


@pytest.mark.parametrize(("field", "value", "named", "found"), [
    ("rng.torch", lambda v: v[:-1], "rng.torch", None),
    ("rng.torch", lambda v: [256, *v[1:]], "rng.torch", None),
    ("rng.random.1", lambda v: v[:100], "rng.random[1]", "a list of length 100"),
    ("rng.random", lambda v: v[:2], "rng.random", None),
    ("rng.numpy.0", "PCG64", "rng.numpy", None),
    ("rng.numpy.1", lambda v: [*v, 0], "rng.numpy[1]", "a list of length 625"),
    ("generation", "2", "generation", '"2"'),
    ("populations.A.1.mask", lambda v: [2, *v[1:]], "populations.A[1].mask", None),
    ("populations.B.0.mask", lambda v: v[:-1], "populations.B[0].mask", None),
    ("populations.B.2.fitness", ["x"], "populations.B[2].fitness", '["x"]'),
    ("best.A.index", 99, "best.A.index", "99"),
    ("nevals", None, "nevals", "null"),
    ("logbook", lambda v: [*v, 3], "logbook", None),
])
def test_malformed_fields_are_named(finished, tmp_path, field, value, named, found):
    path, config, digest, _, _, cls = finished
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(_edit(json.loads(path.read_text()), field, value)))
    before = rng_state()
    with pytest.raises(ResumeError) as info:
        load_checkpoint(bad, cls, config, digest)
    message = str(info.value)
    assert message.startswith(f"{bad}: a damaged checkpoint: field {named} should be ")
    assert "\n" not in message
    assert (found is None or message.endswith(f", found {found}"))
    assert rng_state() == before  # nothing restored from a refused file


def test_models_hash_follows_every_weight():
    torch.manual_seed(0)
    g, h = ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1)
    assert models_hash(g) == models_hash(g)
    assert len(models_hash(g)) == 64
    assert models_hash(g, h) != models_hash(h, g) != models_hash(g)
    before = models_hash(g)
    with torch.no_grad():
        next(g.parameters())[0, 0, 0, 0] += 1e-6
    assert models_hash(g) != before


def test_rng_states_round_trip_through_json():
    state = json.loads(json.dumps(rng_state()))
    first = (random.random(), np.random.rand(), torch.rand(1).item(), random.gauss(0, 1))
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item(),
            random.gauss(0, 1)) == first


def test_checkpoint_is_written_atomically(finished, tmp_path, monkeypatch):
    path, config, digest, _, _, cls = finished
    state = load_checkpoint(path, cls, config, digest)
    target = tmp_path / "atomic.json"
    save_checkpoint(target, state, config, digest)
    before = target.read_bytes()

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt  # interrupted while writing

    monkeypatch.setattr(os, "fsync", lambda _fd: interrupted())
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(target, state, config, digest)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["atomic.json"]


@pytest.mark.slow
def test_search_checkpoints_and_resumes(tmp_path):
    from deap_gan_prune import RunOptions, SearchConfig, Task, search
    (g_a, g_b, d_a, d_b), images = script.tiny_cyclegan()

    def task(x_a, x_b):
        return Task.pair(g_a, g_b, x_a, x_b, discriminators={"A": d_a, "B": d_b})
    config = SearchConfig(population=4, generations=4, seed=2, n_images=2)
    whole = search(task(*images), config, RunOptions(progress=False))
    ck = tmp_path / "search.json"
    stopped = search(task(*images), config, RunOptions(
        progress=False, checkpoint=ck, callback=lambda state: state.gen == 2))
    assert read_checkpoint(ck)["generation"] == 2
    assert len(stopped.logbook) == 3
    resuming = RunOptions(progress=False, checkpoint=ck, resume=True)
    resumed = search(task(*images), config, resuming)
    assert resumed.to_dict() == whole.to_dict()
    assert read_checkpoint(ck)["generation"] == 4
    other = SearchConfig(population=4, generations=4, seed=2, n_images=2, gamma=2.0)
    with pytest.raises(ResumeError, match=r"differing: gamma\)"):
        search(task(*images), other, resuming)
    with pytest.raises(ResumeError, match=r"differing: images\)"):
        search(task(*images[::-1]), config, resuming)

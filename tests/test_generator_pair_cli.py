"""``search --generator`` with ``--ray`` and with ``--checkpoints DIR`` (both generators of
the user's class, co-evolved), then slim, evaluate and export of the pair."""
import json
import sys

import pytest
import torch
from generic_nets import StyleNet

from deap_gan_prune import MaskSpace, count_module_parameters, load_generator
from deap_gan_prune.cli import main
from deap_gan_prune.nets.slimming import slim

OWN = ["--generator", "generic_nets:StyleNet", "--generator-kwargs", '{"ngf": 4}']
STYLE = {"class": "generic_nets:StyleNet"}  # the class the slim files' JSON may name
DATA = ["--image-size", "32", "--n-train", "16", "--n-test", "4"]
SEARCH = ["--population", "3", "--generations", "1", "--adapt-steps", "2", "--n-images", "4",
          "--adapt-images", "4", "--budget", "0.6", "--quiet"]


def _net(seed: int) -> StyleNet:
    torch.manual_seed(seed)
    net = StyleNet(ngf=4).eval()
    with torch.no_grad():
        for m in net.modules():
            if getattr(m, "affine", False):
                m.weight.normal_()
                m.bias.normal_()
    return net


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "g.pth"
    torch.save(_net(0).state_dict(), path)
    return path


@pytest.fixture
def pair_dir(tmp_path):
    folder = tmp_path / "pair"
    folder.mkdir()
    for name, seed in (("G_A", 1), ("G_B", 2)):  # DataParallel keys, as upstream saves them
        torch.save({f"module.{k}": v for k, v in _net(seed).state_dict().items()},
                   folder / f"latest_net_{name}.pth")
    return folder


@pytest.mark.slow
def test_two_generators_of_own_class_search_slim_evaluate_export(tmp_path, pair_dir, capsys):
    from deap_gan_prune.domains import synthetic_data
    from deap_gan_prune.metrics.fidelity import fidelity_scores
    masks = tmp_path / "masks.json"
    assert main(["search", *OWN, "--checkpoints", str(pair_dir), *DATA, *SEARCH, "--out",
                 str(masks)]) == 0
    out = capsys.readouterr().out
    assert "G_A: fitness" in out
    assert "G_B: fitness" in out
    saved = json.loads(masks.read_text())
    assert saved["config"]["fitness"] == "adapted"
    assert saved["architecture"] == {"class": "generic_nets:StyleNet", "kwargs": {"ngf": 4}}
    spaces = {n: MaskSpace.from_dict(saved["spaces"][n]) for n in "AB"}
    # traced from the user's class (not the ResNet's widths)
    assert all(s.widths is None and s.matches(_net(1)) for s in spaces.values())
    for n in "AB":
        assert spaces[n].size(saved["masks"][n]) <= 0.6 * spaces[n].size(spaces[n].full())
    slim_dir = tmp_path / "slim"
    assert main(["slim", str(masks), *OWN, "--checkpoints", str(pair_dir), "--out",
                 str(slim_dir)]) == 0
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for n, seed in (("A", 1), ("B", 2)):
        small = load_generator(slim_dir / f"slim_G_{n}.pth", architecture=STYLE)
        expected = slim(_net(seed), saved["masks"][n], spaces[n])
        assert count_module_parameters(small) == spaces[n].size(saved["masks"][n])
        with torch.no_grad():
            assert torch.equal(small(x), expected(x))
    capsys.readouterr()
    summary_path = tmp_path / "summary.json"
    assert main(["evaluate", str(slim_dir), *OWN, "--checkpoints", str(pair_dir), *DATA,
                 "--repeats", "1", "--quiet", "--out", str(summary_path)]) == 0
    text = capsys.readouterr().out
    assert "A→B SSIM to original" in text
    assert "B→A SSIM to original" in text
    summary = json.loads(summary_path.read_text())
    test_b = synthetic_data(16, 4, 32).test_b
    g_b, small_b = _net(2), load_generator(slim_dir / "slim_G_B.pth", architecture=STYLE)
    with torch.no_grad():
        expected = fidelity_scores(small_b(test_b), g_b(test_b))
    fidelity = summary["directions"]["G_B"]["quality"]["pruned"]["fidelity_b2a"]
    assert fidelity["ssim"] == pytest.approx(expected["ssim"], abs=1e-5)
    assert summary["directions"]["G_A"]["generator"]["kept"] == \
        spaces["A"].kept(saved["masks"]["A"])
    assert main(["export", str(slim_dir / "slim_G_B.pth"), "--format", "torchscript", *OWN,
                 "--size", "32", "--out", str(tmp_path / "g_b.pt")]) == 0
    assert (tmp_path / "g_b.pt").stat().st_size > 0


def test_pair_and_weights_together_are_refused(tmp_path, pair_dir, weights, capsys):
    assert main(["search", *OWN, "--checkpoints", str(pair_dir), "--weights", str(weights),
                 *DATA, *SEARCH, "--out", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "not both" in err
    assert "\n" not in err
    (pair_dir / "latest_net_G_B.pth").unlink()
    assert main(["search", *OWN, "--checkpoints", str(pair_dir), *DATA, *SEARCH, "--out",
                 str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "latest_net_G_B.pth" in err
    assert "\n" not in err


def test_pair_search_refuses_a_discriminator_fitness_without_discriminators(tmp_path,
                                                                           pair_dir, capsys):
    assert main(["search", *OWN, "--checkpoints", str(pair_dir), *DATA, *SEARCH,
                 "--adapt-score", "discriminator", "--out", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no discriminator files" in err
    assert "\n" not in err


@pytest.mark.slow
def test_single_search_passes_ray_address_through(tmp_path, weights, monkeypatch):
    import deap_gan_prune.evolution.skeleton as skeleton
    seen = []
    real = skeleton.evaluation_map

    def spy(fitnesses, workers=0, ray_address=None):
        seen.append((sorted(fitnesses), workers, ray_address))
        return real(fitnesses, 0, None)  # evaluated here
    monkeypatch.setattr(skeleton, "evaluation_map", spy)
    assert main(["search", *OWN, "--weights", str(weights), *DATA, *SEARCH, "--ray",
                 "ray://head:10001", "--workers", "3", "--out", str(tmp_path / "m.json")]) == 0
    assert seen == [(["A"], 3, "ray://head:10001")]


def test_single_search_with_ray_missing_gives_the_one_line_hint(tmp_path, weights,
                                                                monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["search", *OWN, "--weights", str(weights), *DATA, *SEARCH, "--ray", "local",
                 "--out", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "pip install 'deap-gan-prune[ray]'" in err
    assert "\n" not in err


@pytest.mark.slow
def test_single_search_on_local_ray_equals_in_process(tmp_path, weights, monkeypatch):
    ray = pytest.importorskip("ray")
    import os
    from pathlib import Path

    import deap_gan_prune
    # Ray's workers import the generator's class (and this package) from their own path:
    # the actors a local instance starts inherit the environment.
    here_paths = [str(Path(deap_gan_prune.__file__).parents[1]), str(Path(__file__).parent)]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        here_paths + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the actors' thread count
    try:
        assert main(["search", *OWN, "--weights", str(weights), *DATA, *SEARCH, "--out",
                     str(here)]) == 0
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=80 * 1024 ** 2)
        try:
            assert main(["search", *OWN, "--weights", str(weights), *DATA, *SEARCH,
                         "--ray", "local", "--workers", "2", "--out", str(there)]) == 0
        finally:
            ray.shutdown()
    finally:
        torch.set_num_threads(threads)
    a, b = json.loads(here.read_text()), json.loads(there.read_text())
    assert a["masks"] == b["masks"]
    assert a["logbook"] == b["logbook"]
    assert len({h["score"] for h in a["halloffame"]}) > 1  # candidates scored differently

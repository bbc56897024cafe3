"""The fitness-correlation and selection-pressure benchmarks: toy runs and their statistics."""
import json

import numpy as np
import pytest
import torch
from _benchmarks import load_benchmark

#: end-to-end runs of the benchmark scripts: in the full suite, not the fast lane
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def correlation():
    return load_benchmark("fitness_correlation")


def test_spearman_ranks_and_bootstrap(correlation):
    assert list(correlation.ranks([3.0, 1.0, 2.0, 1.0])) == [3.0, 0.5, 2.0, 0.5]
    assert correlation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert correlation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    x = np.arange(30.0)
    y = x + np.random.default_rng(0).normal(0, 5, 30)
    lo, hi = correlation.bootstrap_interval(x, y, 200)
    rho = correlation.spearman(x, y)
    assert lo < rho < hi
    assert 0.5 < rho < 1.0
    q = correlation.quality_rank([
        {"a2b_stripe_share": 0.5, "b2a_brown_share": 0.5, "judge_frechet": 10, "ssim": 0.5},
        {"a2b_stripe_share": 0.1, "b2a_brown_share": 0.1, "judge_frechet": 90, "ssim": 0.1}])
    assert q[0] > q[1]                                   # lower Fréchet distance is better


def _run(module, argv) -> None:
    threads = torch.get_num_threads()
    try:
        assert module.main(argv) == 0
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def correlation_run(correlation, tmp_path_factory):
    out = tmp_path_factory.mktemp("correlation")
    _run(correlation, ["--quick", "--quiet", "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def tiny_supernet(correlation, tmp_path_factory):
    """Once-for-all versions of the --quick CycleGAN's generators, trained a few steps."""
    from deap_gan_prune.runoptions import RunOptions
    from deap_gan_prune.training.pair import supernet_pair
    from deap_gan_prune.training.supernet import SupernetConfig
    gan, data, _ = correlation.load_models_and_data(
        correlation.argparse.Namespace(quick=True, checkpoints=None, dataroot=None,
                                       image_size=None, device="cpu", quiet=True),
        lambda *_a: None)
    out = tmp_path_factory.mktemp("supernet")
    supernet_pair(gan, data, out, SupernetConfig(steps=2, budgets=(0.5, 0.25)),
                  RunOptions(progress=False), n_images=4)
    return out


@pytest.mark.slow
def test_correlation_quick_run(correlation, correlation_run):
    tmp_path = correlation_run
    results = json.loads((tmp_path / "results.json").read_text())
    pairs = results["pairs"]
    kinds = {p["kind"] for p in pairs}
    assert {"uniform", "l1_norm", "bernoulli", "lopsided", "searched_paper",
            "searched_adapted", "random_like_searched"} <= kinds
    for p in pairs:
        for g in "AB":
            assert p["sizes"][g]["parameters"] <= 0.25 + 1e-9
            assert p["sizes"][g]["macs"] <= 0.25 + 1e-9
        assert {"paper_F", "l1@0", "l1@2", "ssim@2", "discriminator@2"} <= set(p["scores"])
    table = results["budgets"]["0.25"]["correlations"]
    assert set(table) >= {"paper_F", "l1@0", "l1@2"}
    entries = [p for p in pairs if p["budget"] == 0.25]
    expected = correlation.spearman([-p["scores"]["l1@2"] for p in entries],
                                    correlation.quality_rank([p["quality"] for p in entries]))
    assert table["l1@2"]["rho"] == pytest.approx(expected)
    assert "| l1@2 |" in (tmp_path / "results.md").read_text()
    assert not any(k.startswith("supernet") for p in pairs for k in p["scores"])


@pytest.mark.slow
def test_correlation_adds_the_supernet_score_to_earlier_pairs(correlation, correlation_run,
                                                               tiny_supernet, tmp_path):
    """--from-results keeps the earlier pairs, scores and quality at 0.25 and adds only the
    supernet score; the new budget 0.5 runs the full path."""
    from deap_gan_prune import load_cyclegan
    from deap_gan_prune.fitness.supernet import SupernetFitness
    from deap_gan_prune.nets.groups import space_of
    earlier = json.loads((correlation_run / "results.json").read_text())
    _run(correlation, ["--quick", "--quiet", "--out", str(tmp_path), "--supernet",
                       str(tiny_supernet), "--budgets", "0.25", "0.5", "--from-results",
                       str(correlation_run / "results.json")])
    results = json.loads((tmp_path / "results.json").read_text())
    old = [p for p in earlier["pairs"] if p["budget"] == 0.25]
    kept = [p for p in results["pairs"] if p["budget"] == 0.25]
    assert [p["masks"] for p in kept] == [p["masks"] for p in old]
    assert [p["quality"] for p in kept] == [p["quality"] for p in old]
    for p, q in zip(kept, old, strict=True):
        assert {k: v for k, v in p["scores"].items() if k in q["scores"] and k != "cost"} == \
            {k: v for k, v in q["scores"].items() if k != "cost"}
    new = [p for p in results["pairs"] if p["budget"] == 0.5]
    assert new
    assert all({"paper_F", "l1@2", "supernet_l1", "supernet_ssim"} <= set(p["scores"])
                       for p in new)
    # the score is SupernetFitness's L1, summed over both generators
    nets = load_cyclegan(tiny_supernet)
    args = correlation.argparse.Namespace(quick=True, checkpoints=None, dataroot=None,
                                          image_size=None, device="cpu", quiet=True)
    gan, data, _ = correlation.load_models_and_data(args, lambda *_a: None)
    pool = correlation.tasks.image_pool(data)
    fits = [SupernetFitness(s, space_of(g, x), x, original=g)
            for s, g, x in ((nets.g_a, gan.g_a, pool[0][:4]), (nets.g_b, gan.g_b, pool[1][:4]))]
    pair = kept[-1]
    expected = sum(f.terms([int(c) for c in pair["masks"][n]])["score"]
                   for n, f in zip("AB", fits))
    assert pair["scores"]["supernet_l1"] == pytest.approx(expected, rel=1e-5)
    table = results["budgets"]["0.25"]["correlations"]
    assert table["supernet_l1"]["rho"] == pytest.approx(correlation.spearman(
        [-p["scores"]["supernet_l1"] for p in kept],
        correlation.quality_rank([p["quality"] for p in kept])))
    assert "supernet_ssim" in results["budgets"]["0.5"]["correlations"]
    assert "supernet_l1_s" in results["costs"]
    assert results["reused"]["budgets"] == ["0.25"]
    assert "| supernet_l1 |" in (tmp_path / "results.md").read_text()


def test_correlation_quality_from_supernet_weights(correlation, correlation_run,
                                                   tiny_supernet, tmp_path):
    earlier = json.loads((correlation_run / "results.json").read_text())
    with pytest.raises(ValueError, match="differs on seed; cannot re-use"):
        correlation.main(["--quick", "--quiet", "--out", str(tmp_path), "--seed", "3",
                          "--from-results", str(correlation_run / "results.json")])
    _run(correlation, ["--quick", "--quiet", "--out", str(tmp_path), "--supernet",
                       str(tiny_supernet), "--finetune-from", "supernet", "--from-results",
                       str(correlation_run / "results.json")])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["finetune_from"] == "supernet"
    for p, q in zip(results["pairs"], earlier["pairs"], strict=True):
        assert p["masks"] == q["masks"]
        assert p["quality_original_weights"] == q["quality"]
    assert [p["quality"] for p in results["pairs"]] != [p["quality"] for p in earlier["pairs"]]
    assert "slimmed from the supernet" in (tmp_path / "results.md").read_text()


def test_selection_pressure_quick_run(tmp_path, capsys):
    bench = load_benchmark("selection_pressure")
    out = tmp_path / "sel.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["table"]) == set(bench.SELECTIONS)
    for name, row in result["table"].items():
        assert len(result["results"][name]) == 3
        assert 0 < row["mean"] <= 1
    assert result["table"]["roulette (paper)"]["wins_vs_roulette"] == 0
    assert 0.0 < result["random_spread"] < 0.5
    assert "tournament 3" in capsys.readouterr().out

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

#: end-to-end runs of the benchmark scripts: in the full suite, not the fast lane
pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ablation.py"
METHODS = ("adapted", "paper", "pixel_fitness", "single_generator", "tied_layout", "l1_norm",
           "random", "uniform")


@pytest.fixture(scope="module")
def ablation():
    spec = importlib.util.spec_from_file_location("ablation_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(ablation, tmp_path_factory):
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("ablation")
    try:
        assert ablation.main(["--quick", "--quiet", "--out", str(out),
                              "--methods", *METHODS]) == 0
    finally:
        torch.set_num_threads(threads)
    return out, json.loads((out / "results.json").read_text())


def _finite_numbers(entry: dict) -> list[float]:
    return [v for k, v in entry.items() if k != "step"]


@pytest.mark.slow
def test_every_method_runs_at_the_budget_within_it(quick_run):
    _, results = quick_run
    budget = results["config"]["budgets"][0]
    assert budget == 0.25
    short = results["config"]["finetune_steps"][0]
    main = [r for r in results["runs"] if r["distill_weight"] == results["config"]["distill"]
            and r["finetune_steps"] == short]
    assert sorted(r["method"] for r in main) == sorted(METHODS)
    for r in main:
        assert r["budget"] == budget
        for g in "AB":
            for measure in ("parameters", "macs"):
                assert 0 < r["sizes"][g][measure] <= budget + 1e-9, (r["method"], g, measure)
        assert set(r["masks"]["A"]) <= {"0", "1"}
        assert "1" in r["masks"]["A"]


def test_quality_numbers_are_finite_at_every_curve_point(quick_run):
    _, results = quick_run
    for r in results["runs"] + results["gamma_sweep"]:
        assert next(p["step"] for p in r["curve"]) == 0
        assert r["curve"][-1]["step"] == r["finetune_steps"]
        for point in r["curve"]:
            for key in ("a2b_stripe_share", "b2a_brown_share", "judge_frechet",
                        "judge_target_probability", "ssim"):
                assert math.isfinite(point[key]), (r["method"], key)
            assert all(math.isfinite(v) for v in _finite_numbers(point))
    assert results["original"]["ssim"] == pytest.approx(1.0)


def test_fine_tuning_variants_share_masks_and_start(quick_run):
    """Both fine-tuning lengths and the run without distillation start from the same slimmed
    network; the long run ends elsewhere; random copies the reference search's counts."""
    _, results = quick_run
    short, long = results["config"]["finetune_steps"]
    assert (short, long) == (4, 8)
    by = {(r["method"], r["finetune_steps"], r["distill_weight"]): r for r in results["runs"]}
    for m in METHODS:
        main, longer, without = by[(m, short, 10.0)], by[(m, long, 10.0)], by[(m, short, 0.0)]
        assert main["masks"] == longer["masks"] == without["masks"]
        assert main["curve"][0] == longer["curve"][0] == without["curve"][0]
        assert longer["curve"][-1]["step"] == 8
        assert main["curve"][-1] != longer["curve"][-1]
    random, ref = by[("random", short, 10.0)], by[("adapted", short, 10.0)]
    assert random["sizes"] == ref["sizes"]
    assert random["masks"] != ref["masks"]


def test_outputs_written(quick_run):
    out, results = quick_run
    md = (out / "results.md").read_text()
    for m in METHODS:
        assert f"| {m} | slimmed |" in md
        assert f"| {m} | finetuned |" in md
    assert "γ sweep" in md
    assert "fine-tuning steps" in md
    assert "## 4 fine-tuning steps, distillation 10" in md
    assert "## 8 fine-tuning steps, distillation 10" in md
    assert set(results["reference_wins"]) == {"steps_4_distill_10", "steps_8_distill_10"}
    for name in results["plots"]:
        assert (out / name).stat().st_size > 1000
    assert results["gamma_sweep"]
    assert results["gamma_sweep"][0]["budget"] is None
    timings = results["timings"]
    records = results["runs"] + results["gamma_sweep"]
    assert timings["finetune_s"] == pytest.approx(  # both kept to 6 significant digits
        sum(r["finetune_seconds"] for r in records), rel=1e-5)
    assert timings["judge_s"] == results["judge"]["seconds"]


def test_recorded_sizes_are_those_of_the_slim_networks(quick_run):
    """Each run's size ratio equals the parameters of the network slim() builds from its
    masks over the original's (the --quick CycleGAN: ngf 4, 2 blocks, seed 0)."""
    from deap_gan_prune.nets.groups import space_of
    from deap_gan_prune.nets.models import ResnetGenerator
    from deap_gan_prune.nets.slimming import slim
    _, results = quick_run
    torch.manual_seed(0)
    generators = {"A": ResnetGenerator(ngf=4, n_blocks=2),
                  "B": ResnetGenerator(ngf=4, n_blocks=2)}

    def count(g):
        return sum(p.numel() for p in g.parameters())
    for r in results["runs"] + results["gamma_sweep"]:
        for name, g in generators.items():
            space = space_of(g, layout=r["layout"])
            small = slim(g, [int(c) for c in r["masks"][name]], space)
            assert r["sizes"][name]["parameters"] == pytest.approx(  # JSON keeps 6 digits
                count(small) / count(g), abs=1e-6), (r["method"], name)


def test_render_only_rewrites_the_same_tables(ablation, quick_run, tmp_path):
    out, results = quick_run
    copy = tmp_path / "again"
    copy.mkdir()
    (copy / "results.json").write_text((out / "results.json").read_text())
    assert ablation.main(["--render-only", "--quiet", "--out", str(copy)]) == 0
    assert (copy / "results.md").read_text() == (out / "results.md").read_text()
    assert json.loads((copy / "results.json").read_text()) == results
    with pytest.raises(ValueError, match="no such file to render"):
        ablation.main(["--render-only", "--quiet", "--out", str(tmp_path / "none")])


def test_worker_pool_gives_the_same_results_as_one_process(ablation, quick_run):
    _, results = quick_run
    args = ablation.parse_args(["--quick", "--quiet"])
    gan, data, _ = ablation.load_models_and_data(args, lambda *_a: None)
    ctx = ablation.tasks.Context(gan, data, judge=None)
    runs = [r for r in results["runs"] if r["distill_weight"] == 0.0][:2]
    assert len(runs) == 2
    todo = [ablation.tasks.FinetuneTask(r["masks"], r["layout"], 2, 0.0, 0, 2, key=(i,))
            for i, r in enumerate(runs)]
    pooled, local = {}, {}
    ablation.tasks.run_tasks(todo, ctx, 2, lambda t, res: pooled.update({t.key: res}))
    ablation.tasks.run_tasks(todo, ctx, 1, lambda t, res: local.update({t.key: res}))
    assert set(pooled) == {(0,), (1,)}
    for key in pooled:
        # the same numbers up to float reduction order (threads differ between processes)
        for a, b in zip(pooled[key]["curve"], local[key]["curve"], strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
        assert "judge_frechet" not in pooled[key]["curve"][0]  # no judge in this context
    assert pooled[(0,)]["curve"][-1] != pooled[(1,)]["curve"][-1]


def test_bad_options_are_usage_errors(ablation, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        ablation.parse_args(["--budgets", "0.25", "1.5"])
    assert info.value.code == 2
    assert "budgets must be size ratios" in capsys.readouterr().err
    args = ablation.parse_args(["--budgets", "0.5", "0.25", "0.1"])
    assert args.seeded_budgets == [0.1, 0.5]
    assert args.no_distill_budget is None
    assert args.methods == ["adapted", "paper", "l1_norm", "random", "uniform"]
    for bad in (["--methods", "paper", "uniform"], ["--methods", "adapted", "magic"],
                ["--finetune-steps", "80", "40"]):
        with pytest.raises(SystemExit) as info:
            ablation.parse_args(bad)
        assert info.value.code == 2
    with pytest.raises(ablation.CheckpointError, match="no such folder"):
        ablation.load_models_and_data(ablation.parse_args(
            ["--checkpoints", str(tmp_path / "missing")]), lambda *_a: None)


SUPERNET_METHODS = ("supernet", "supernet_uniform", "supernet_l1")


@pytest.fixture(scope="module")
def tiny_supernet(ablation, tmp_path_factory):
    """Once-for-all versions of the --quick CycleGAN's generators, trained a few steps."""
    from deap_gan_prune.runoptions import RunOptions
    from deap_gan_prune.training.pair import supernet_pair
    from deap_gan_prune.training.supernet import SupernetConfig
    args = ablation.parse_args(["--quick", "--quiet"])
    gan, data, _ = ablation.load_models_and_data(args, lambda *_a: None)
    out = tmp_path_factory.mktemp("supernet")
    supernet_pair(gan, data, out, SupernetConfig(steps=2, budgets=(0.5, 0.25)),
                  RunOptions(progress=False), n_images=4)
    return out


@pytest.fixture(scope="module")
def merged_run(ablation, quick_run, tiny_supernet, tmp_path_factory):
    earlier, _ = quick_run
    out = tmp_path_factory.mktemp("merged")
    threads = torch.get_num_threads()
    try:
        assert ablation.main(["--quick", "--quiet", "--out", str(out), "--merge",
                              str(earlier / "results.json"), "--supernet", str(tiny_supernet),
                              "--methods", *SUPERNET_METHODS]) == 0
    finally:
        torch.set_num_threads(threads)
    return out, json.loads((out / "results.json").read_text())


def test_merge_keeps_earlier_runs_and_adds_only_the_supernet_methods(quick_run, merged_run):
    _, earlier = quick_run
    out, merged = merged_run
    old = [json.dumps(r) for r in earlier["runs"]]
    new = [json.dumps(r) for r in merged["runs"] if r["method"] in METHODS]
    assert new == old                                        # byte-identical, same order
    assert json.dumps(merged["gamma_sweep"]) == json.dumps(earlier["gamma_sweep"])
    added = [r for r in merged["runs"] if r["method"] not in METHODS]
    assert sorted({r["method"] for r in added}) == sorted(SUPERNET_METHODS)
    assert len(added) == 3 * 3                               # 2 lengths + no distillation
    assert merged["merged"] == {**merged["merged"], "runs_kept": len(old) + 1,
                                "runs_added": 9}
    assert all(r["weights"] == "supernet" for r in added)
    assert merged["config"]["methods"] == list(METHODS + SUPERNET_METHODS)
    assert (merged["config"]["supernet_population"],
            merged["config"]["supernet_generations"]) == (4, 2)
    assert merged["original"] == earlier["original"]
    by = {(r["method"], r["finetune_steps"], r["distill_weight"]): r for r in merged["runs"]}
    search = by[("supernet", 4, 10.0)]
    assert search["search"] is not None
    assert by[("supernet_uniform", 4, 10.0)]["search"] is None
    for r in added:
        for g in "AB":
            assert 0 < r["sizes"][g]["parameters"] <= 0.25 + 1e-9
    md = (out / "results.md").read_text()
    for m in SUPERNET_METHODS:
        assert f"| {m} | finetuned |" in md
    assert "supernet better than (after fine-tuning, all budgets): supernet_uniform" in md
    wins = merged["supernet_wins"]["steps_4_distill_10"]["0.25"]["finetuned"]
    assert set(wins) == {"supernet_uniform", "supernet_l1", "uniform", "l1_norm"}
    assert all(c[1] == 4 for c in wins.values())             # 4 figures x 1 seed


def test_supernet_baselines_are_slimmed_from_the_supernet_weights(ablation, merged_run,
                                                                  tiny_supernet):
    """Same uniform mask, other weights: the slimmed networks differ right after slimming;
    supernet_l1 ranks channels by the supernet's own L1 norms."""
    from deap_gan_prune import load_cyclegan
    _, merged = merged_run
    by = {(r["method"], r["finetune_steps"], r["distill_weight"]): r for r in merged["runs"]}
    uni, sn_uni = by[("uniform", 4, 10.0)], by[("supernet_uniform", 4, 10.0)]
    assert uni["masks"] == sn_uni["masks"]
    assert uni["curve"][0] != sn_uni["curve"][0]
    supernet = load_cyclegan(tiny_supernet)
    assert by[("supernet_l1", 4, 10.0)]["masks"] == ablation.tasks.baseline_masks(
        supernet, "l1_norm", 0.25, 0)


def test_merge_refuses_a_mismatching_config_and_supernet_needs_a_folder(
        ablation, quick_run, tiny_supernet, tmp_path, monkeypatch):
    earlier, _ = quick_run
    with pytest.raises(ValueError, match=r"differs on seeds; cannot merge"):
        ablation.main(["--quick", "--quiet", "--out", str(tmp_path), "--seeds", "5",
                       "--merge", str(earlier / "results.json"), "--supernet",
                       str(tiny_supernet), "--methods", "supernet"])
    with pytest.raises(ValueError, match=r"differs on adapt_images, .*finetune_steps, "):
        ablation.main(["--quiet", "--out", str(tmp_path), "--seeds", "0", "--budgets", "0.25",
                       "--merge", str(earlier / "results.json"), "--methods", "uniform"])
    assert not (tmp_path / "results.json").exists()
    monkeypatch.setattr(ablation, "SUPERNET_DIR", tmp_path / "no_supernet")
    with pytest.raises(SystemExit) as info:
        ablation.parse_args(["--methods", "adapted", "supernet_l1"])
    assert info.value.code == 2
    assert ablation.parse_args(["--methods", "adapted", "supernet_l1", "--supernet",
                                str(tiny_supernet)]).supernet_population == 32

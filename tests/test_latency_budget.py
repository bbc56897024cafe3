"""A budget in any size function of the kept counts, a latency model among them: the budget
repair, the capacity moves, the counts initialisation and the uniform baseline all respect
it, alone or together with parameters, and stay pure Python."""
import random

import pytest
import torch

from deap_gan_prune.core.baselines import uniform_counts, uniform_mask
from deap_gan_prune.core.maskspace import MaskSpace, measure_name
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.latency_model import LatencyTiming, measure_latency_model
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.operators import initMaskCounts, mutMoveChannels, repairBudget

WIDTHS_SPACE = space_of(ResnetGenerator(ngf=8, n_blocks=2))


class Quadratic:
    """A size that grows faster in the first groups (as high-resolution layers cost time)."""

    name = "quadratic"

    def __init__(self, space: MaskSpace) -> None:
        self.weights = [len(space.groups) - i for i in range(len(space.groups))]

    def __call__(self, counts) -> float:
        return float(sum(w * c * c for w, c in zip(self.weights, counts)))


def _counts(space: MaskSpace, bits) -> list[int]:
    return list(space.kept(bits).values())


def _ratio(fn, space: MaskSpace, bits) -> float:
    return fn(_counts(space, bits)) / fn([g.size for g in space.groups])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_repair_meets_a_budget_in_a_size_function_alone_or_with_parameters(seed):
    space, fn = WIDTHS_SPACE, Quadratic(WIDTHS_SPACE)
    random.seed(seed)
    bits = space.full()
    repairBudget(bits, space, 0.3, fn)
    assert _ratio(fn, space, bits) <= 0.3
    both = space.full()
    repairBudget(both, space, 0.3, ("parameters", fn))
    assert _ratio(fn, space, both) <= 0.3
    assert space.size_ratio(both) <= 0.3


def test_moves_and_initialisation_keep_the_size_function():
    space, fn = WIDTHS_SPACE, Quadratic(WIDTHS_SPACE)
    random.seed(3)
    counts = uniform_counts(space, 0.4, fn)
    assert _ratio(fn, space, uniform_mask(space, 0.4, fn)) <= 0.4
    population = [initMaskCounts(list, space, counts, moves=3, measure=fn) for _ in range(8)]
    start = fn(counts)
    assert all(fn(_counts(space, ind)) <= start for ind in population)
    assert len({tuple(_counts(space, ind)) for ind in population}) > 1, "the moves move"
    ind = population[0]
    before = fn(_counts(space, ind))
    for _ in range(20):
        mutMoveChannels(ind, space, 0.5, fn)
        assert fn(_counts(space, ind)) <= before


def test_an_unreachable_budget_names_the_function():
    space, fn = WIDTHS_SPACE, Quadratic(WIDTHS_SPACE)
    assert measure_name(fn) == "quadratic"
    assert measure_name("macs") == "macs"
    with pytest.raises(ValueError, match="quadratic"):
        repairBudget(space.full(), space, 1e-6, fn)
    with pytest.raises(ValueError, match="quadratic ratio"):
        uniform_counts(space, 1e-6, fn)


def test_a_latency_model_is_a_budget():
    torch.manual_seed(0)
    net = ResnetGenerator(ngf=8, n_blocks=1)
    space = space_of(net)
    model = measure_latency_model(net, 16, "torch", 1, space=space,
                                  timing=LatencyTiming(repeats=2, warmup=1), progress=False)
    assert measure_name(model) == "latency"
    full = [g.size for g in space.groups]
    budget = (1 + model([1] * len(full)) / model(full)) / 2  # halfway to the fastest
    random.seed(0)
    bits = space.full()
    repairBudget(bits, space, budget, model)
    assert model.ratio(bits) <= budget
    seed = uniform_mask(space, budget, model)
    assert model.ratio(seed) <= budget < 1
    assert model(list(space.kept(seed).values())) == pytest.approx(model.predict(seed))


OWN = ["--generator", "generic_nets:AttentionNet", "--generator-kwargs", '{"ngf": 8}']
SEARCH = ["--image-size", "32", "--n-train", "16", "--n-test", "4", "--population", "3",
          "--generations", "1", "--adapt-steps", "2", "--n-images", "4", "--adapt-images", "4",
          "--finalists", "1", "--finalist-steps", "2", "--quiet"]


def test_search_speedup_budgets_predicted_latency(tmp_path, capsys):
    import json

    from generic_nets import AttentionNet

    from deap_gan_prune.cli import main
    from deap_gan_prune.nets.latency_model import read_latency_models

    torch.manual_seed(0)
    weights = tmp_path / "g.pth"
    torch.save(AttentionNet(ngf=8).state_dict(), weights)
    out, cache = tmp_path / "masks.json", tmp_path / "latency.json"
    assert main(["search", *OWN, "--weights", str(weights), *SEARCH, "--speedup", "1.1",
                 "--runtime", "torch", "--latency-size", "32", "--latency-table", str(cache),
                 "--out", str(out)]) == 0
    assert "faster than the original on torch at 32 px" in capsys.readouterr().out
    found = json.loads(out.read_text())
    assert found["config"]["budget_measures"] == ["latency"]
    assert found["config"]["budget"] == pytest.approx(1 / 1.1)
    (model,) = read_latency_models(cache)
    assert model.ratio(found["masks"]["A"]) <= 1 / 1.1


@pytest.mark.parametrize(("extra", "message"), [
    (["--speedup", "4", "--budget", "0.25"], "--speedup is a latency budget: leave out"),
    (["--speedup", "0.5"], "--speedup 0.5: must be above 1"),
])
def test_search_speedup_refusals(tmp_path, capsys, extra, message):
    from generic_nets import AttentionNet

    from deap_gan_prune.cli import main
    weights = tmp_path / "g.pth"
    torch.save(AttentionNet(ngf=8).state_dict(), weights)
    assert main(["search", *OWN, "--weights", str(weights), *SEARCH, *extra, "--out",
                 str(tmp_path / "m.json")]) != 0
    assert message in capsys.readouterr().err


def test_the_pair_search_takes_a_latency_budget_too(tmp_path, capsys):
    import json

    from deap_gan_prune.cli import main
    from deap_gan_prune.core.maskspace import MaskSpace
    from deap_gan_prune.nets.latency_model import read_latency_models

    out, cache = tmp_path / "masks.json", tmp_path / "latency.json"
    assert main(["search", "--image-size", "32", "--n-train", "8", "--n-test", "4",
                 "--population", "4", "--generations", "1", "--adapt-steps", "2",
                 "--n-images", "4", "--adapt-images", "4", "--speedup", "1.1", "--runtime",
                 "torch", "--latency-size", "32", "--latency-table", str(cache), "--quiet",
                 "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("faster than the original on torch at 32 px") == 2
    found = json.loads(out.read_text())
    assert found["config"]["budget_measures"] == ["latency"]
    models = read_latency_models(cache)
    for name in ("A", "B"):
        mask, space = found["masks"][name], found["spaces"][name]
        model = next(m for m in models if m.matches(MaskSpace.from_dict(space)))
        assert model.ratio(mask) <= 1 / 1.1


def test_speedup_is_not_a_front(tmp_path, capsys):
    from deap_gan_prune.cli import main
    assert main(["search", "--front", "--speedup", "4", "--out", str(tmp_path / "f.json")]) != 0
    assert "--speedup is a single budget" in capsys.readouterr().err
    assert main(["compress", "--front", "--speedup", "4", "--out", str(tmp_path / "r")]) != 0
    assert "speedup: a single latency budget, not with front" in capsys.readouterr().err


@pytest.mark.slow
def test_compress_speedup_runs_with_a_latency_budget(tmp_path):
    import json

    from generic_nets import AttentionNet

    from deap_gan_prune.cli import main
    from deap_gan_prune.nets.latency_model import read_latency_models

    torch.manual_seed(0)
    weights = tmp_path / "g.pth"
    torch.save(AttentionNet(ngf=8).state_dict(), weights)
    run = tmp_path / "run"
    assert main(["compress", *OWN, "--weights", str(weights), "--image-size", "32",
                 "--n-train", "16", "--n-test", "4", "--population", "4", "--generations",
                 "1", "--adapt-steps", "2", "--n-images", "4", "--adapt-images", "4",
                 "--finetune-steps", "2", "--batch-size", "2", "--val-every", "2",
                 "--checkpoint-every", "2", "--repeats", "1", "--judge-steps", "0",
                 "--speedup", "1.1", "--runtime", "torch", "--latency-size", "32",
                 "--quiet", "--out", str(run)]) == 0
    masks = json.loads((run / "masks.json").read_text())
    assert masks["config"]["budget_measures"] == ["latency"]
    (model,) = read_latency_models(run / "latency.json")
    assert model.ratio(masks["masks"]["A"]) <= 1 / 1.1
    assert (run / "report.md").is_file()


@pytest.mark.slow
def test_compress_pair_speedup(tmp_path):
    import json

    from deap_gan_prune.cli import main

    run = tmp_path / "run"
    assert main(["compress", "--image-size", "32", "--n-train", "8", "--n-test", "4",
                 "--population", "4", "--generations", "1", "--adapt-steps", "2",
                 "--n-images", "4", "--adapt-images", "4", "--finetune-steps", "2",
                 "--batch-size", "2", "--val-every", "2", "--checkpoint-every", "2",
                 "--repeats", "1", "--judge-steps", "2", "--speedup", "1.1", "--runtime",
                 "torch", "--latency-size", "32", "--quiet", "--out", str(run)]) == 0
    masks = json.loads((run / "masks.json").read_text())
    assert masks["config"]["budget_measures"] == ["latency"]
    assert (run / "latency.json").is_file()
    assert (run / "report.md").is_file()


def test_one_generator_defaults_to_a_speedup_on_onnx_runtime():
    """Without --budget or --speedup, one generator of the user's class budgets a 4x speed-up
    on ONNX Runtime CPU; a pair, an explicit budget and the front keep size budgets."""
    from deap_gan_prune.cli import build_parser
    from deap_gan_prune.cli.search_cmd import config_from, speedup_of
    from deap_gan_prune.compression.config import CompressConfig, CompressError
    from deap_gan_prune.compression.stages import search_config
    from deap_gan_prune.evolution.search_config import GENERATOR_SPEEDUP

    def parsed(*argv):
        return build_parser().parse_args(["search", *argv])
    own = ("--generator", "m:C", "--weights", "g.pth")
    config = config_from(parsed(*own))
    assert (config.budget, config.budget_measures) == (1 / GENERATOR_SPEEDUP, ("latency",))
    assert config.init == "uniform"                                  # the width search
    assert config_from(parsed(*own, "--speedup", "5")).budget == pytest.approx(0.2)
    explicit = config_from(parsed(*own, "--budget", "0.3"))
    assert (explicit.budget, explicit.budget_measures) == (0.3, ("parameters",))
    pair = config_from(parsed())
    assert (pair.budget, pair.budget_measures) == (0.25, ("parameters", "macs"))
    assert speedup_of(parsed("--front")) is None
    assert speedup_of(parsed(*own, "--budget", "none")) is None

    own_run = CompressConfig(generator="m:C", weights="w.pth")
    assert own_run.latency_budget() == GENERATOR_SPEEDUP
    assert search_config(own_run).budget_measures == ("latency",)
    sized = search_config(CompressConfig(generator="m:C", weights="w.pth", budget=0.3))
    assert (sized.budget, sized.budget_measures) == (0.3, ("parameters",))
    upstream = search_config(CompressConfig())
    assert (upstream.budget, upstream.budget_measures) == (0.25, ("parameters", "macs"))
    with pytest.raises(CompressError, match="give one of them"):
        CompressConfig(budget=0.3, speedup=4)


def test_a_task_with_latency_models_for_its_generators(tmp_path):
    """Task.with_latency gives every generator its traced space and a latency model measured
    for that space, cached in the file given and read back from it."""
    from deap_gan_prune.evolution import Task
    from deap_gan_prune.nets.latency_model import read_latency_models
    torch.manual_seed(0)
    task = Task.pair(ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1),
                     torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
    cache = tmp_path / "latency.json"
    timed = task.with_latency(cache, 16, "torch", 1, progress=False)
    assert set(timed.latency) == set(timed.spaces) == {"A", "B"}
    for name, model in timed.latency.items():
        assert model.matches(timed.spaces[name])
    assert len(read_latency_models(cache)) == 1          # both have one space: one model
    again = task.with_latency(cache, 16, "torch", 1, progress=False)
    assert again.latency["A"].hash() == timed.latency["A"].hash()

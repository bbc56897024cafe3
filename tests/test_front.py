"""The front search (``search`` with a FrontConfig): NSGA-II over quality and size of both
generators' masks."""
import copy
import json
import random

import pytest
import torch

from deap_gan_prune import FrontConfig, RunOptions, Task, search
from deap_gan_prune.evolution.front import (
    FrontObjectives,
    build_front_toolbox,
    reference_points,
    starting_population,
)
from deap_gan_prune.evolution.pareto import choose_point, knee_index, nondominated
from deap_gan_prune.evolution.registration import create_types
from deap_gan_prune.evolution.resume import ResumeError, read_checkpoint
from deap_gan_prune.fitness.supernet import SupernetFitness
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.latency_model import LatencyTiming, measure_latency_model
from deap_gan_prune.nets.models import ResnetGenerator


@pytest.fixture(scope="module")
def gan():
    torch.manual_seed(0)
    nets = (ResnetGenerator(ngf=4, n_blocks=2), ResnetGenerator(ngf=4, n_blocks=2))
    images = (torch.rand(8, 3, 32, 32) * 2 - 1, torch.rand(8, 3, 32, 32) * 2 - 1)
    return nets, images


@pytest.fixture(scope="module")
def table(gan):
    return measure_latency_model(gan[0][0], 32, "torch", 1,
                                 timing=LatencyTiming(repeats=1, warmup=0), progress=False)


def _front(gan, callback=None, **kw):
    nets, images = gan
    options = {k: kw.pop(k) for k in ("checkpoint", "resume", "workers") if k in kw}
    parts = {}
    if "latency" in kw:  # one model for both generators (they have the same widths)
        parts["latency"] = dict.fromkeys("AB", kw.pop("latency"))
    if "supernets" in kw:
        parts["supernets"] = dict(zip("AB", kw.pop("supernets")))
    settings = {"population": 8, "generations": 3, "n_images": 4, "adapt_images": 4,
                "adapt_steps": 2}
    return search(Task.pair(*nets, *images, **parts), FrontConfig(**{**settings, **kw}),
                  RunOptions(progress=False, callback=callback, **options))


#: The front's earlier variation: independent starting sizes, children capped at the range only.
RANDOM_RANGE = {"size_init": "random", "size_cap": "range"}


@pytest.fixture(scope="module")
def result(gan):
    return _front(gan, seed=3, uniform_seeds=0, **RANDOM_RANGE)  # random starting masks only


@pytest.fixture(scope="module")
def default_result(gan):
    return _front(gan, seed=3)


def _dominates(p, q, names):
    return all(p[n] <= q[n] for n in names) and any(p[n] < q[n] for n in names)


def test_front_is_nondominated_and_spans_sizes(result):
    names = ("score", "parameters")
    values = [p["values"] for p in result.points]
    assert len(values) >= 3
    assert not any(_dominates(p, q, names) for p in values for q in values)
    sizes = [v["parameters"] for v in values]
    assert sizes == sorted(sizes)
    assert max(sizes) / min(sizes) >= 3
    scores = [v["score"] for v in values]
    assert scores == sorted(scores, reverse=True)  # on a 2-d front, quality costs size
    for p in result.points:
        assert p["values"]["score"] == pytest.approx((p["terms"]["A"]["score"]
                                                      + p["terms"]["B"]["score"]) / 2)
        assert result.spaces["A"].size_ratio(p["A"]) == pytest.approx(p["terms"]["A"]
                                                                    ["parameters"])
        assert max(p["terms"][n]["parameters"] for n in "AB") <= 0.5


def test_default_front_is_nondominated_and_trades_quality_for_size(default_result):
    values = [p["values"] for p in default_result.points]
    names = ("score", "parameters")
    assert len(values) >= 3
    assert not any(_dominates(p, q, names) for p in values for q in values)
    sizes, scores = [v["parameters"] for v in values], [v["score"] for v in values]
    assert sizes == sorted(sizes)
    assert scores == sorted(scores, reverse=True)
    assert max(p["terms"][n]["parameters"] for p in default_result.points for n in "AB") <= 0.5


@pytest.mark.parametrize("which", ["result", "default_result"])
def test_archives_are_nondominated_and_populations_keep_their_size(which, request):
    result = request.getfixturevalue(which)
    for archive, pop in zip(result.archives, result.populations):
        values = [ind.fitness.values for ind in archive]
        assert len(pop) == 8
        assert nondominated(values) == list(range(len(values)))


@pytest.mark.slow
def test_same_seed_same_front(gan, result, default_result):
    again = _front(gan, seed=3, uniform_seeds=0, **RANDOM_RANGE)
    assert again.to_dict() == result.to_dict()
    assert _front(gan, seed=3).to_dict() == default_result.to_dict()
    other = _front(gan, seed=4)
    assert other.to_dict()["points"] != default_result.to_dict()["points"]
    assert default_result.to_dict()["points"] != result.to_dict()["points"]
    grown = _front(gan, seed=3, size_growth=1.5)  # children may outgrow their parents
    assert grown.to_dict()["points"] != default_result.to_dict()["points"]


def test_checkpoint_and_resume_give_the_same_front(gan, default_result, tmp_path):
    path = tmp_path / "front.json"
    _front(gan, seed=3, generations=1, checkpoint=path)
    assert read_checkpoint(path)["generation"] == 1
    assert "archives" in read_checkpoint(path)
    resumed = _front(gan, seed=3, checkpoint=path, resume=True)
    assert resumed.to_dict() == default_result.to_dict()
    with pytest.raises(ResumeError, match="size_range"):
        _front(gan, seed=3, size_range=(0.1, 0.5), checkpoint=path, resume=True)
    with pytest.raises(ResumeError, match="size_cap"):
        _front(gan, seed=3, size_cap="range", checkpoint=path, resume=True)
    data = json.loads(path.read_text())
    data["archives"]["B"][0]["mask"] = [2]
    path.write_text(json.dumps(data))
    with pytest.raises(ResumeError, match=r"archives\.B\[0\]\.mask"):
        _front(gan, seed=3, checkpoint=path, resume=True)


def test_latency_objective(gan, table):
    res = _front(gan, seed=0, generations=1, objectives=("latency",), latency=table)
    data = json.loads(json.dumps(res.to_dict()))
    assert data["objectives"] == ["score", "latency"]
    assert data["latency"] == table.key
    values = [p["values"] for p in data["points"]]
    assert not any(_dominates(p, q, ("score", "latency")) for p in values for q in values)
    lat = [v["latency"] for v in values]
    assert lat == sorted(lat)
    for point in res.points:  # each pair's latency is the model's prediction, not a timing
        predicted = [table.predict(point[n]) for n in "AB"]
        assert point["values"]["latency"] == pytest.approx(sum(predicted) / 2)
    with pytest.raises(ValueError, match="latency model"):
        _front(gan, generations=0, objectives=("parameters", "latency"))
    other = measure_latency_model(ResnetGenerator(ngf=2, n_blocks=1), 32, "torch", 1,
                                  timing=LatencyTiming(repeats=1, warmup=0), progress=False)
    with pytest.raises(ValueError, match="another network"):  # a model of other widths
        _front(gan, generations=0, objectives=("latency",), latency=other)


def test_choose_point_by_index_size_and_latency():
    points = [{"values": {"score": s, "parameters": p, "latency": ms}}
              for s, p, ms in ((0.9, 0.05, 5.0), (0.5, 0.1, 8.0), (0.3, 0.3, 20.0))]
    assert choose_point(points, at_size=0.15) == 1
    assert choose_point(points, at_size=1) == 2
    assert choose_point(points, at_latency=7.0) == 0
    assert choose_point(points, index=2) == 2
    assert choose_point(points, default=1) == 1
    assert knee_index(points, "parameters") == 1
    with pytest.raises(ValueError, match=r"smallest is 0\.05"):
        choose_point(points, at_size=0.01)
    with pytest.raises(ValueError, match="not on the front"):
        choose_point(points, index=3)


def test_bad_config_is_refused():
    for bad, match in (({"objectives": ("flops",)}, "objectives"),
                       ({"size_range": (0.5, 0.1)}, "size_range"),
                       ({"population": 2}, "population"), ({"cxpb": 0.8}, "cxpb"),
                       ({"size_init": "grid"}, "size_init"), ({"size_cap": "none"}, "size_cap"),
                       ({"size_growth": 0.5}, "size_growth")):
        with pytest.raises(ValueError, match=match):
            FrontConfig(**bad)


@pytest.mark.slow
def test_worker_processes_give_the_same_front(gan, table):
    kw = {"seed": 1, "generations": 1, "objectives": ("parameters", "latency"), "latency": table}
    assert _front(gan, workers=2, **kw).to_dict() == _front(gan, **kw).to_dict()


def test_uniform_masks_spread_over_the_range_start_the_front(gan):
    from deap_gan_prune.core.baselines import uniform_mask
    from deap_gan_prune.evolution.front import uniform_range_masks
    (g_a, g_b), (x_a, x_b) = gan
    space = space_of(g_a, x_a)
    masks = uniform_range_masks(space, 0.05, 0.5, 4, image_size=32)
    sizes = [space.size_ratio(m) for m in masks]
    assert sizes == sorted(sizes)
    assert len(set(sizes)) == 4
    assert masks[0] == uniform_mask(space, 0.05, image_size=32)
    assert masks[-1] == uniform_mask(space, 0.5, image_size=32)
    assert all(s <= r + 1e-9 for s, r in zip(sizes, (0.05, 0.05 * 10 ** (1 / 3),
                                                      0.05 * 10 ** (2 / 3), 0.5)))
    seen = {}

    def first(state):
        seen.setdefault("pops", [[list(ind) for ind in pop] for pop in state.populations])

    _front(gan, callback=first, seed=3, generations=0, uniform_seeds=3,
           size_range=(0.1, 0.4))
    for pop, space_ in zip(seen["pops"], (space, space_of(g_b, x_b))):
        for mask in uniform_range_masks(space_, 0.1, 0.4, 3, image_size=32):
            assert mask in pop
    with pytest.raises(ValueError, match="uniform_seeds"):
        FrontConfig(uniform_seeds=-1)


def test_starting_sizes_hold_both_ends_of_the_range(gan):
    seen = {}

    def record(state):
        seen.setdefault(state.gen, [[list(ind) for ind in pop] for pop in state.populations])

    res = _front(gan, callback=record, seed=5, generations=2, population=8,
                 size_range=(0.05, 0.5))
    step = 10 ** (1 / 8)  # the strata's width factor over (0.05, 0.5)
    for pop, space in zip(seen[0], res.spaces.values()):
        sizes = sorted(space.size_ratio(m) for m in pop)
        assert sizes[0] <= 0.05 * step
        assert sizes[-1] > 0.5 / step ** 2
    for archive, space in zip(res.archives, res.spaces.values()):
        assert all(space.size_ratio(ind) <= 0.5 + 1e-9 for ind in archive)
    # independent draws reach the small end less surely: over many draws, some miss it
    _, cls = create_types("FitnessFront2", "FrontIndividual2", weights=(-1.0, -1.0))
    space = res.spaces["A"]
    fake = type("Fit", (), {"space": space})()
    misses = {}
    for init in ("strata", "random"):
        config = FrontConfig(population=8, size_range=(0.05, 0.5), size_init=init)
        toolbox = build_front_toolbox(space, FrontObjectives(fake, ("parameters",)), config,
                                      cls, image_size=32)
        random.seed(0)
        misses[init] = sum(min(space.size_ratio(m) for m in starting_population(toolbox, config))
                           > 0.05 * step for _ in range(40))
    assert misses["strata"] == 0
    assert misses["random"] > 0


def test_front_on_supernet_weights(gan):
    nets, images = gan
    supernets = tuple(copy.deepcopy(g) for g in nets)
    with torch.no_grad():
        for net in supernets:
            for p in net.parameters():
                p.mul_(1.2)
    res = _front(gan, seed=2, generations=1, fitness="supernet", adapt_score="ssim",
                 supernets=supernets)
    fit = SupernetFitness(supernets[0], res.spaces["A"], images[0][:4], original=nets[0],
                          score="ssim")
    for point in res.points:
        assert point["terms"]["A"]["score"] == pytest.approx(fit.terms(point["A"])["score"],
                                                             abs=1e-6)
    adapted = _front(gan, seed=2, generations=1)
    assert adapted.to_dict()["points"] != res.to_dict()["points"]
    assert res.config.to_dict()["fitness"] == "supernet"
    with pytest.raises(ValueError, match="needs the task's supernets"):
        _front(gan, generations=0, fitness="supernet")
    with pytest.raises(ValueError, match="fitness"):
        FrontConfig(fitness="paper")


@pytest.mark.parametrize("select", ["spea2", "nsga3"])
@pytest.mark.slow
def test_other_survivor_selections(gan, default_result, select):
    res = _front(gan, seed=3, survivors=select)
    assert res.config.survivors == select
    assert len(res.points) >= 2
    assert all(len(pop) == 8 for pop in res.populations)
    values = [p["values"] for p in res.points]
    assert not any(_dominates(p, q, ("score", "parameters")) for p in values for q in values)
    assert _front(gan, seed=3, survivors=select).to_dict() == res.to_dict()
    assert [list(ind) for ind in res.populations[0]] != [
        list(ind) for ind in default_result.populations[0]]


def test_reference_points_fit_the_population():
    assert reference_points(2, 12).shape == (12, 2)
    assert reference_points(3, 12).shape == (10, 3)  # 4 divisions: 15 points would not fit
    assert reference_points(2, 12).sum(axis=1) == pytest.approx([1.0] * 12)
    with pytest.raises(ValueError, match="survivors"):
        FrontConfig(survivors="moead")


def test_size_floor_keeps_the_front_within_the_range(gan):
    res = _front(gan, seed=3, size_floor=True, size_range=(0.2, 0.5))
    for archive, space in zip(res.archives, res.spaces.values()):
        sizes = [space.size_ratio(ind) for ind in archive]
        assert min(sizes) >= 0.2 * 0.8
        assert max(sizes) <= 0.5 + 1e-9
    loose = _front(gan, seed=3, size_range=(0.2, 0.5))
    assert min(loose.spaces["A"].size_ratio(ind) for a in loose.archives[:1] for ind in a) < \
        min(res.spaces["A"].size_ratio(ind) for ind in res.archives[0])


def test_one_generator_has_a_front_of_its_own_masks(gan):
    """The front is the one search's too: one generator's front holds its own non-dominated
    masks (a point's values are that generator's terms), sizes matching the masks."""
    nets, images = gan
    config = FrontConfig(population=6, generations=2, n_images=4, adapt_images=4,
                         adapt_steps=1, seed=1)
    result = search(Task({"A": nets[0]}, {"A": images[0]}), config,
                    RunOptions(progress=False))
    assert set(result.spaces) == {"A"}
    assert result.points
    assert all(set(p["terms"]) == {"A"} for p in result.points)
    for p in result.points:
        assert p["values"]["score"] == p["terms"]["A"]["score"]
        assert p["values"]["parameters"] == pytest.approx(
            result.spaces["A"].size_ratio(p["A"]))
    names = ("score", "parameters")
    assert not any(_dominates(q["values"], p["values"], names)
                   for p in result.points for q in result.points if q is not p)
    assert set(result.masks()) == {"A"}
    assert set(result.logbook.chapters) == {"A"}

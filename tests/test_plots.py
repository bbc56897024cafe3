"""Plots at toy size: kept channels of any mask space (traced, GroupNorm blocks), labels that
follow the recorded score, the budget on the size panel, quality against size of a front and
of a benchmark JSON; the figures read back, and the ``plot`` command's PNGs."""
import json
import random
from pathlib import Path

import pytest
import torch
from generic_nets import GroupNormNet, StyleNet, UnetGenerator

from deap_gan_prune.cli import main
from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.evolution.front_config import FrontConfig
from deap_gan_prune.evolution.logbooks import logbook_from_records
from deap_gan_prune.evolution.search_config import SearchConfig
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.models import ResnetGenerator
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.plotting import (
    benchmark_quality_points,
    fitness_figure,
    front_figure,
    front_progress_figure,
    front_quality_points,
    kept_channels,
    kept_channels_figure,
    plot_kept_channels,
    quality_size_figure,
)

PNG = b"\x89PNG\r\n\x1a\n"
BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks/results/front_vs_budgets.json"


def _bits(space, seed: int) -> list[int]:
    """A valid random mask: about half of every group, at least one bit each."""
    rng = random.Random(seed)
    bits = [int(rng.random() < 0.5) for _ in range(space.n_bits)]
    for g in space.groups:
        bits[g.offset + rng.randrange(g.size)] = 1
    return bits


def _records(n: int = 3, chapters=("A", "B")) -> list[dict]:
    def entry(gen):
        return {"max": 1.0 + gen, "avg": 0.5 + gen, "best_size_ratio": 0.3 - 0.02 * gen}
    return [{"gen": g, **{c: entry(g) for c in chapters}} for g in range(n)]


def _resnet_space() -> MaskSpace:
    return space_of(ResnetGenerator(ngf=4, n_blocks=2))


def _front(adapt_score: str = "ssim") -> dict:
    space = _resnet_space()
    points = []
    for i, size in enumerate((0.1, 0.2, 0.4)):
        terms = {n: {"score": 0.5 - size + 0.01 * k, "parameters": size}
                 for k, n in enumerate("AB")}
        points.append({"A": _bits(space, i), "B": _bits(space, 10 + i), "terms": terms,
                       "values": {"score": 0.5 - size + 0.005, "parameters": size}})
    return {"kind": "front", "objectives": ["score", "parameters"], "chosen": 1,
            "points": points, "spaces": {"A": space.to_dict(), "B": space.to_dict()},
            "config": FrontConfig(adapt_score=adapt_score).to_dict()}


def _bar_heights(ax) -> list[float]:
    return [p.get_height() for p in ax.patches]


@pytest.mark.parametrize(("make", "size"), [(UnetGenerator, 128), (StyleNet, 32),
                                            (lambda: GroupNormNet(16, 2), 32)])
def test_kept_channels_of_traced_spaces_count_channels(make, size):
    torch.manual_seed(0)
    net = make().eval()
    space = space_of(net, torch.rand(1, 3, size, size) * 2 - 1)
    bits = _bits(space, 0)
    kept = kept_channels(space, bits)
    small = dict(slim(net, bits, space).named_modules())
    full = dict(net.named_modules())
    for g in space.groups:  # each traced group is named after the conv that writes it
        assert kept["kept"][g.name] == small[g.name].out_channels
        assert kept["width"][g.name] == full[g.name].out_channels == g.channels
    fig = kept_channels_figure({"G": kept})
    (ax,) = fig.axes
    n = len(space.groups)
    heights = _bar_heights(ax)
    assert len(heights) == 2 * n  # the original width behind, the kept channels in front
    assert heights[:n] == [kept["width"][g.name] for g in space.groups]
    assert heights[n:] == [kept["kept"][g.name] for g in space.groups]
    assert [t.get_text() for t in ax.get_xticklabels()] == [g.name for g in space.groups]


def test_kept_channels_multiply_bits_by_block():
    net = GroupNormNet(16, 2).eval()
    space = space_of(net, torch.rand(1, 3, 32, 32))
    head = space.group("head.3")  # GroupNorm(4, 32): 8 channels per bit
    assert (head.size, head.block) == (4, 8)
    bits = space.full()
    bits[head.offset] = 0
    kept = kept_channels(space, bits)
    assert kept["kept"]["head.3"] == 24
    assert kept["width"]["head.3"] == 32
    assert space.kept(bits)["head.3"] == 3  # bits, not channels


def test_plot_kept_channels_pair_panels(tmp_path):
    space = _resnet_space()
    kept = {f"G_{n}": kept_channels(space, _bits(space, i)) for i, n in enumerate("AB")}
    fig = kept_channels_figure(kept, title="toy")
    assert len(fig.axes) == 2
    for ax, (name, k) in zip(fig.axes, kept.items()):
        assert len(ax.patches) == 2 * len(space.groups)
        assert ax.get_title().startswith(f"{name}: {sum(k['kept'].values())} of "
                                         f"{sum(k['width'].values())} channels kept")
        assert ax.get_ylabel() == "channels"
    png = plot_kept_channels(kept, tmp_path / "kept.png")
    assert png.read_bytes()[:8] == PNG


@pytest.mark.parametrize(("score", "name"), [("l1", "L1"), ("ssim", "1 − SSIM"),
                                             ("discriminator", "discriminator")])
def test_fitness_labels_and_budget_line_follow_the_config(score, name):
    config = SearchConfig(budget=0.25, adapt_score=score).to_dict()
    fig = fitness_figure(logbook_from_records(_records()), config=config)
    ax_fit, ax_size = fig.axes
    assert name in ax_fit.get_ylabel()
    assert "higher is better" in ax_fit.get_ylabel()
    assert ax_size.get_ylabel() == "parameters of the best / original"
    budget = [line for line in ax_size.get_lines() if line.get_label() == "budget 0.25"]
    assert len(budget) == 1
    assert list(budget[0].get_ydata()) == [0.25, 0.25]


def test_size_line_of_new_and_older_logbooks():
    """Logbooks record the best's size ratio as ``best_size_ratio``; files written before
    the rename hold ``best_size``, and a resumed older search holds both: all are drawn."""
    def older(record):
        return {"gen": record["gen"], **{c: {("best_size" if k == "best_size_ratio" else k): v
                                             for k, v in record[c].items()} for c in "AB"}}
    records = _records()
    books = (logbook_from_records(records), logbook_from_records([older(r) for r in records]),
             logbook_from_records([older(r) for r in records[:2]] + records[2:]))
    for book in books:
        lines = [line for line in fitness_figure(book).axes[1].get_lines()
                 if line.get_label() in ("G_A", "G_B")]
        assert [list(line.get_ydata()) for line in lines] == \
            [pytest.approx([0.3, 0.28, 0.26])] * 2


def test_fitness_without_budget_or_config():
    fig = fitness_figure(logbook_from_records(_records(chapters=())))
    ax_fit, ax_size = fig.axes
    assert ax_fit.get_ylabel() == "fitness F (higher is better)"
    assert ax_size.get_ylabel() == "size of the best / original"
    assert not any(str(line.get_label()).startswith("budget") for line in ax_size.get_lines())
    paper = fitness_figure(logbook_from_records(_records()),
                           config=SearchConfig.paper().to_dict(), budget=0.5)
    assert "the paper's" in paper.axes[0].get_ylabel()
    assert any(list(line.get_ydata()) == [0.5, 0.5] for line in paper.axes[1].get_lines())


@pytest.mark.parametrize(("score", "name"), [("l1", "L1 to the original"),
                                             ("ssim", "1 − SSIM to the original")])
def test_front_label_follows_the_recorded_score(score, name):
    fig = front_figure(_front(score))
    label = fig.axes[0].get_ylabel()
    assert label == f"score: {name} (lower is better)"
    assert ("L1" in label) == (score == "l1")


def test_quality_vs_size_of_a_front():
    front = _front()
    points = front_quality_points(front)
    assert [p["size"] for p in points] == [0.1, 0.2, 0.4]
    fig = quality_size_figure(points, ylabel="score", higher_is_better=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "score (lower is better)"
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [0.1, 0.2, 0.4]


def test_quality_vs_size_of_the_front_vs_budgets_benchmark():
    data = json.loads(BENCHMARK.read_text())
    points = benchmark_quality_points(data, "ssim")
    rows = [r for run in data["runs"] for r in run["rows"] if not r.get("missing")]
    assert len(points) == len(rows)
    fig = quality_size_figure(points, ylabel="SSIM", higher_is_better=True)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "SSIM (higher is better)"
    runs = len(data["runs"])
    lines = {line.get_label(): line for line in ax.get_lines()}
    budgets = sorted({r["budget"] for r in rows})
    for method in ("front", "single_budget"):
        line = lines[f"{method} (mean of {runs})"]
        assert len(line.get_xdata()) == len(budgets)
        # the mean over the seeds at the smallest budget
        mine = [r for r in rows if r["method"] == method and r["budget"] == budgets[0]]
        assert line.get_ydata()[0] == pytest.approx(sum(r["ssim"] for r in mine) / len(mine))
    vertical = sorted(line.get_xdata()[0] for line in ax.get_lines()
                      if line.get_xdata()[0] == line.get_xdata()[1]
                      and line.get_label().startswith("_"))
    assert vertical == budgets
    with pytest.raises(ValueError, match="no rows with sizes and 'fid'"):
        benchmark_quality_points(data, "fid")


def test_plot_command_draws_every_kind(tmp_path, capsys):
    space = _resnet_space()
    masks = tmp_path / "masks.json"
    masks.write_text(json.dumps({
        "masks": {"A": _bits(space, 1), "B": _bits(space, 2)},
        "spaces": {"A": space.to_dict(), "B": space.to_dict()},
        "config": SearchConfig(budget=0.25, adapt_score="ssim").to_dict(),
        "logbook": _records()}))
    out = tmp_path / "kept.png"
    assert main(["plot", str(masks), "--kept-channels", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    assert "G_A: " in capsys.readouterr().out
    assert main(["plot", str(masks), "--out", str(tmp_path / "fit.png")]) == 0
    assert (tmp_path / "fit.png").read_bytes()[:8] == PNG
    capsys.readouterr()

    # one generator of the user's class (a traced space), as 'search --generator' writes
    net = StyleNet().eval()
    traced = space_of(net, torch.rand(1, 3, 32, 32))
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"masks": {"A": _bits(traced, 3)},
                                  "spaces": {"A": traced.to_dict()}, "logbook": _records()}))
    assert main(["plot", str(single), "--kept-channels", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (G: ")

    front = tmp_path / "front.json"
    front.write_text(json.dumps(_front()))
    for extra in (["--kept-channels", "--index", "2"], ["--quality-vs-size"], []):
        png = tmp_path / f"front{len(extra)}.png"
        assert main(["plot", str(front), *extra, "--out", str(png)]) == 0
        assert png.read_bytes()[:8] == PNG

    bench = tmp_path / "bench.png"
    assert main(["plot", str(BENCHMARK), "--out", str(bench)]) == 0
    assert bench.read_bytes()[:8] == PNG
    assert main(["plot", str(BENCHMARK), "--metric", "a2b_stripe_share",
                 "--out", str(bench)]) == 0


def test_plot_command_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"config": {"budget": "a lot"}, "logbook": _records()}))
    assert main(["plot", str(bad), "--out", str(tmp_path / "p.png")]) == 1
    assert "recorded budget \"a lot\" is not a size ratio" in capsys.readouterr().err
    assert main(["plot", str(bad), "--kept-channels", "--out", str(tmp_path / "p.png")]) == 1
    assert "not a masks file" in capsys.readouterr().err
    assert main(["plot", str(bad), "--quality-vs-size", "--out", str(tmp_path / "p.png")]) == 1
    assert "--quality-vs-size takes a front file" in capsys.readouterr().err
    assert main(["plot", str(BENCHMARK), "--metric", "fid",
                 "--out", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err
    assert "no rows with sizes and 'fid'" in err
    assert err.count("\n") == 1


def test_front_progress_draws_score_and_size_span_per_population():
    records = [{"gen": g, "A": {"score_min": 0.3 - 0.01 * g, "score_avg": 0.4, "size_min": 0.1,
                                "size_max": 0.5},
                "B": {"score_min": 0.35 - 0.01 * g, "score_avg": 0.45, "size_min": 0.05,
                      "size_max": 0.4}} for g in range(3)]
    logbook = logbook_from_records(records)
    fig = front_progress_figure(logbook, FrontConfig(adapt_score="ssim").to_dict())
    score, size = fig.axes
    assert "SSIM" in score.get_ylabel()
    assert "lower is better" in score.get_ylabel()
    lines = {line.get_label(): list(line.get_ydata()) for line in score.get_lines()}
    assert lines["G_A best"] == pytest.approx([0.3, 0.29, 0.28])
    assert "G_B mean" in lines
    assert len(size.collections) == 2                          # one size span per population

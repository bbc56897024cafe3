"""Plots people would rather see than read: fitness and size against generation, the Pareto
front of quality and size, the channels kept per group, quality against size across budgets
(PNG). Each ``plot_*`` writes a PNG and returns its path; the ``*_figure`` function beside it
returns the :class:`~matplotlib.figure.Figure` it draws, for a caller to inspect or save."""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deap import tools
from matplotlib.figure import Figure

from .files import atomic_write

#: figure formats by file suffix (a path without one is written as PNG)
FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


def figure_format(path: str | os.PathLike) -> str:
    """The format ``path``'s suffix names (``png`` without one), or a one-line ValueError
    naming the file and the formats."""
    suffix = Path(path).suffix.lower().lstrip(".") or "png"
    if suffix not in FIGURE_FORMATS:
        raise ValueError(f"{path}: cannot draw a .{suffix} file; give a path ending in "
                         f"{', '.join('.' + f for f in FIGURE_FORMATS)}")
    return suffix


def _save(fig: Figure, path: str | os.PathLike, title: str | None = None) -> Path:
    """Lay out, title and write ``fig`` atomically in the format its suffix names (PNG,
    PDF, SVG or JPEG). Figures are made with :class:`~matplotlib.figure.Figure`, outside
    pyplot: no backend is chosen and nothing global is kept."""
    fmt = figure_format(path)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format=fmt))
    return path


#: what the adapted (or supernet) score measures, by ``adapt_score``; lower is better
SCORE_LABELS = {"l1": "L1 to the original", "ssim": "1 − SSIM to the original",
                "discriminator": "discriminator distance to the original"}


def score_label(config: Mapping | None) -> str:
    """The y-label of a front's score from its recorded configuration (``adapt_score``;
    "l1" when a configuration records none, as :class:`FrontConfig` defaults)."""
    if not isinstance(config, Mapping):
        return "score (lower is better)"
    score = config.get("adapt_score") or "l1"
    return f"score: {SCORE_LABELS.get(score, score)} (lower is better)"


def fitness_label(config: Mapping | None) -> str:
    """The y-label of the fitness of a single-objective search from its configuration
    (:meth:`SearchConfig.to_dict`): F = 1 / loss, the loss built on the paper's terms or on
    the adapted score."""
    if not isinstance(config, Mapping) or not config.get("fitness"):
        return "fitness F (higher is better)"
    if config["fitness"] == "paper":
        return "fitness F = 1 / the paper's loss (higher is better)"
    score = config.get("adapt_score") or "l1"
    return f"fitness F = 1 / loss on {SCORE_LABELS.get(score, score)}\n(higher is better)"


def fitness_figure(logbook: tools.Logbook, chapters: Sequence[str] | None = None,
                   title: str | None = None, config: Mapping | None = None,
                   budget: float | None = None) -> Figure:
    """The figure of :func:`plot_fitness`."""
    chapters = list(chapters or logbook.chapters.keys() or [None])
    if budget is None and isinstance(config, Mapping):
        budget = config.get("budget")
    measure = config.get("size_measure") if isinstance(config, Mapping) else None
    fig = Figure(figsize=(10, 4))
    ax_fit, ax_size = fig.subplots(1, 2)
    gens = logbook.select("gen")
    # The paper's co-evolution scores generation 0 without the cycle term that later
    # generations have: its fitness is on another scale.
    first = 1 if len(gens) > 1 and chapters[0] is not None and all(
        logbook.chapters[n][0].get("best_l_cyc") == 0
        and (logbook.chapters[n][1].get("best_l_cyc") or 0) > 0 for n in chapters) else 0
    for name, color in zip(chapters, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        book = logbook.chapters[name] if name else logbook
        label = f"G_{name}" if name else "population"
        for key, style in (("max", "-"), ("avg", "--")):
            values = book.select(key)
            if any(v is not None for v in values):
                ax_fit.plot(gens[first:], [float(v) for v in values[first:]], style,
                            color=color, label=f"{label} {key}")
        # best_size: records written before the key was renamed (a resumed search has both)
        size = [new if new is not None else old for new, old in
                zip(book.select("best_size_ratio"), book.select("best_size"))]
        if any(v is not None for v in size):
            ax_size.plot(gens, [math.nan if v is None else float(v) for v in size], "-o",
                         color=color, markersize=3, label=label)
    if budget is not None:
        ax_size.axhline(float(budget), color="tab:red", linestyle=":", linewidth=1.2,
                        label=f"budget {float(budget):g}")
    ax_fit.set(xlabel="generation", ylabel=fitness_label(config),
               title="fitness" + (" (from generation 1: 0 has no cycle term)" if first else ""))
    size_label = f"{measure} of the best / original" if measure else \
        "size of the best / original"
    ax_size.set(xlabel="generation", ylabel=size_label, title="size ratio of the best",
                ylim=(0, 1.05))
    for ax in (ax_fit, ax_size):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_fitness(logbook: tools.Logbook, path: str | os.PathLike,
                 chapters: Sequence[str] | None = None, title: str | None = None,
                 config: Mapping | None = None, budget: float | None = None) -> Path:
    """Fitness (max and mean) and the best's size ratio against generation, one line per
    chapter (``"A"``, ``"B"`` of :func:`eaCoevolve`; a logbook without chapters is drawn as
    one population). Size comes from ``best_size_ratio`` (``best_size`` in older files) where
    recorded. ``config``: the search's
    configuration (:meth:`SearchConfig.to_dict`, a masks file's ``"config"``), which names the
    fitness on the axis and gives the budget, drawn as a line on the size panel (``budget``
    overrides it). Writes a PNG; returns path."""
    return _save(fitness_figure(logbook, chapters, title, config, budget), path)


def front_progress_figure(logbook: tools.Logbook, config: Mapping | None = None,
                          title: str | None = None) -> Figure:
    """The figure of :func:`plot_front_progress`."""
    fig = Figure(figsize=(10, 4))
    ax_score, ax_size = fig.subplots(1, 2)
    gens = logbook.select("gen")
    for name, color in zip(logbook.chapters.keys() or [None], ("tab:blue", "tab:orange")):
        book = logbook.chapters[name] if name else logbook
        label = f"G_{name}" if name else "population"
        ax_score.plot(gens, book.select("score_min"), "-", color=color, label=f"{label} best")
        ax_score.plot(gens, book.select("score_avg"), "--", color=color, label=f"{label} mean")
        ax_size.fill_between(gens, book.select("size_min"), book.select("size_max"),
                             color=color, alpha=0.25, label=f"{label} population")
    ax_score.set(xlabel="generation", ylabel=score_label(config),
                 title="quality score")
    ax_size.set(xlabel="generation", ylabel="size / original", title="sizes in the population",
                ylim=(0, 1.05))
    for ax in (ax_score, ax_size):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_front_progress(logbook: tools.Logbook, path: str | os.PathLike,
                        config: Mapping | None = None, title: str | None = None) -> Path:
    """A front search against generation (its logbook, chapters ``"A"``/``"B"``): the best
    and mean quality score of each population, and the span of its sizes. Writes a PNG."""
    return _save(front_progress_figure(logbook, config, title), path)


AXIS_LABELS = {"parameters": "parameters / original", "macs": "MACs / original",
               "latency": "predicted latency (ms)"}


def front_figure(front: Mapping, x: str | None = None, chosen: int | None = None,
                 title: str | None = None) -> Figure:
    """The figure of :func:`plot_front`."""
    points = front["points"]
    x = x or front["objectives"][1]
    if any(x not in p["values"] for p in points):
        raise ValueError(f"the front has no {x} values")
    chosen = front.get("chosen", 0) if chosen is None else chosen
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for name, marker in (("A", "^"), ("B", "v")):
        ax.scatter([p["terms"][name][x] for p in points],
                   [p["terms"][name]["score"] for p in points], marker=marker, s=14,
                   alpha=0.35, label=f"G_{name} alone")
    xs = [p["values"][x] for p in points]
    # A line only where the front is a curve: two objectives, drawn against its size one.
    style = "-o" if list(front["objectives"]) == ["score", x] else "o"
    order = sorted(range(len(points)), key=lambda i: xs[i])
    ax.plot([xs[i] for i in order], [points[i]["values"]["score"] for i in order], style,
            color="black", markersize=4, label="pairs (means)")
    best = points[chosen]["values"]
    ax.scatter([best[x]], [best["score"]], marker="*", s=220, color="tab:red", zorder=5,
               label=f"chosen #{chosen}")
    ax.set(xlabel=AXIS_LABELS.get(x, x), ylabel=score_label(front.get("config")),
           title=f"Pareto front, {len(points)} pairs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_front(front: Mapping, path: str | os.PathLike, x: str | None = None,
               chosen: int | None = None, title: str | None = None) -> Path:
    """The front of a multi-objective search (:meth:`FrontResult.to_dict`): quality (the
    pair's mean score, lower is better; the y-label names the recorded ``adapt_score``)
    against ``x`` ("parameters", "macs" or "latency"; default the first size objective), one
    point per pair, each generator's own values faint, the ``chosen`` point (default the
    front's) marked. Writes a PNG; returns path."""
    return _save(front_figure(front, x, chosen, title), path)


def _to_image(t):
    """[C, H, W] in [-1, 1] → [H, W, C] floats in [0, 1] for imshow."""
    return ((t.detach().cpu().float().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def plot_samples(rows: dict, path: str | os.PathLike, columns: int = 6,
                 title: str | None = None) -> Path:
    """A grid of images: one row per entry of ``rows`` (label → ``[N, 3, H, W]`` in [-1, 1]),
    the first ``columns`` images of each, e.g. input / original / pruned. Writes a PNG."""
    labels = list(rows)
    n = min(columns, *(len(rows[k]) for k in labels))
    fig = Figure(figsize=(1.6 * n + 1.4, 1.6 * len(labels)))
    axes = fig.subplots(len(labels), n, squeeze=False)
    for r, label in enumerate(labels):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(_to_image(rows[label][c]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    return _save(fig, path, title)


def kept_channels(space: Any, bits: Sequence[int]) -> dict[str, dict[str, int]]:
    """``{"kept": {group: channels}, "width": {group: channels}}`` of a mask of ``space`` (any
    :class:`MaskSpace`, traced ones included), in channels: a group whose bits each hold
    ``block`` channels (GroupNorm groups of a traced space) counts ``block`` per bit."""
    blocks = {g.name: g.block for g in space.groups}
    return {"kept": {n: k * blocks[n] for n, k in space.kept(bits).items()},
            "width": {g.name: g.channels for g in space.groups}}


def kept_channels_figure(kept: Mapping[str, Mapping[str, Mapping[str, int]]],
                         title: str | None = None) -> Figure:
    """The figure of :func:`plot_kept_channels`."""
    names = list(kept)
    most = max(len(kept[n]["width"]) for n in names)
    fig = Figure(figsize=(max(6.0, 0.35 * most + 2), 2.8 * len(names)))
    axes = fig.subplots(len(names), 1, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        groups = list(kept[name]["width"])
        xs = range(len(groups))
        widths = [kept[name]["width"][g] for g in groups]
        kept_n = [kept[name]["kept"][g] for g in groups]
        ax.bar(xs, widths, color="lightgray", label="original width")
        ax.bar(xs, kept_n, width=0.6, color="tab:blue", label="kept")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(groups, rotation=60, ha="right", fontsize=7)
        share = sum(kept_n) / max(1, sum(widths))
        ax.set(ylabel="channels", title=f"{name}: {sum(kept_n)} of {sum(widths)} channels kept "
                                        f"({share:.0%})")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_kept_channels(kept: Mapping[str, Mapping[str, Mapping[str, int]]],
                       path: str | os.PathLike, title: str | None = None) -> Path:
    """Channels kept per group as bars in front of the original width (a pale bar behind),
    one panel per generator: ``kept[name] = {"kept": {group: n}, "width": {group: n}}``
    (:func:`kept_channels` of any mask space). Writes a PNG."""
    return _save(kept_channels_figure(kept, title), path)


#: quality measures of the benchmarks: (axis label, higher is better)
QUALITY_LABELS: dict[str, tuple[str, bool]] = {
    "ssim": ("SSIM to the original, mean of A→B and B→A", True),
    "a2b_ssim": ("A→B SSIM to the original", True),
    "b2a_ssim": ("B→A SSIM to the original", True),
    "a2b_psnr_db": ("A→B PSNR to the original (dB)", True),
    "b2a_psnr_db": ("B→A PSNR to the original (dB)", True),
    "a2b_stripe_share": ("stripes in horse A→B", True),
    "b2a_brown_share": ("brown in zebra B→A", True),
    "a2b_brown_share": ("brown left in horse A→B", False),
    "b2a_stripe_share": ("stripes left in zebra B→A", False),
}


def direction(higher_is_better: bool | None) -> str:
    """" (higher is better)", " (lower is better)" or nothing."""
    if higher_is_better is None:
        return ""
    return " (higher is better)" if higher_is_better else " (lower is better)"


def benchmark_quality_points(result: Mapping, metric: str = "ssim") -> list[dict]:
    """Quality-against-size points of a benchmark JSON with per-budget rows (e.g.
    ``benchmarks/front_vs_budgets.py``: ``{"runs": [{"rows": [...]}, ...]}`` or one run's
    ``{"rows": [...]}``, each row ``{"budget", "method", "sizes": [A, B], metric: value}``):
    one point per row, its size the mean of the generators' sizes. Rows without the metric
    (a budget no mask met) are left out; a ValueError when no row has it."""
    found_runs = result.get("runs")
    runs: list = found_runs if isinstance(found_runs, list) else [result]
    rows = [(i, row) for i, run in enumerate(runs) if isinstance(run, Mapping)
            for row in run.get("rows") or () if isinstance(row, Mapping)]
    points = []
    for i, row in rows:
        sizes = row.get("sizes")
        if row.get("missing") or type(row.get(metric)) not in (int, float) \
                or not isinstance(sizes, list) or not sizes:
            continue
        points.append({"series": str(row.get("method", "points")),
                       "size": sum(float(s) for s in sizes) / len(sizes),
                       "quality": float(row[metric]), "budget": row.get("budget"), "run": i})
    if not points:
        found = sorted({k for _, row in rows for k in row})
        raise ValueError(f"no rows with sizes and {metric!r} (the rows hold {found})")
    return points


def front_quality_points(front: Mapping, x: str | None = None) -> list[dict]:
    """Quality-against-size points of a front (:meth:`FrontResult.to_dict`): each pair's
    mean score against its size objective ``x`` (default the first)."""
    x = x or front["objectives"][1]
    return [{"series": "front", "size": float(p["values"][x]),
             "quality": float(p["values"]["score"])} for p in front["points"]]


def quality_size_figure(points: Sequence[Mapping], xlabel: str = "parameters / original",
                        ylabel: str = "quality", higher_is_better: bool | None = None,
                        title: str | None = None) -> Figure:
    """The figure of :func:`plot_quality_vs_size`."""
    if not points:
        raise ValueError("no points to plot")
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    series = list(dict.fromkeys(str(p.get("series", "points")) for p in points))
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
    budgets = sorted({float(p["budget"]) for p in points if p.get("budget") is not None})
    for b in budgets:
        ax.axvline(b, color="gray", linestyle=":", linewidth=0.8)
    for k, name in enumerate(series):
        color = colors[k % len(colors)]
        own = [p for p in points if str(p.get("series", "points")) == name]
        if all(p.get("budget") is not None for p in own):
            # several runs per budget: each run faint, the mean per budget as the line
            by_budget: dict[float, list[Mapping]] = {}
            for p in own:
                by_budget.setdefault(float(p["budget"]), []).append(p)
            line = [(sum(p["size"] for p in ps) / len(ps),
                     sum(p["quality"] for p in ps) / len(ps), len(ps))
                    for ps in by_budget.values()]
            runs = max(n for _, _, n in line)
            if runs > 1:
                ax.scatter([p["size"] for p in own], [p["quality"] for p in own], s=12,
                           alpha=0.3, color=color)
            label = f"{name} (mean of {runs})" if runs > 1 else name
        else:
            line = [(p["size"], p["quality"], 1) for p in own]
            label = name
        line.sort()
        ax.plot([s for s, _, _ in line], [q for _, q, _ in line], "-o", color=color,
                markersize=4, label=label)
    ax.set(xlabel=xlabel + (" (budgets dotted)" if budgets else ""),
           ylabel=ylabel + direction(higher_is_better), title="quality against size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_quality_vs_size(points: Sequence[Mapping], path: str | os.PathLike,
                         xlabel: str = "parameters / original", ylabel: str = "quality",
                         higher_is_better: bool | None = None,
                         title: str | None = None) -> Path:
    """Quality against size: ``points`` are ``{"series", "size", "quality"}`` mappings, with
    ``"budget"`` where they come from budgeted searches (:func:`benchmark_quality_points`,
    :func:`front_quality_points`). One line per series, through its points in order of size
    or, where a series has several runs per budget, through each budget's mean (the runs
    faint); the budgets as dotted vertical lines. ``higher_is_better`` (True, False or None)
    adds the direction to the y-label. Writes a PNG; returns path."""
    return _save(quality_size_figure(points, xlabel, ylabel, higher_is_better, title), path)

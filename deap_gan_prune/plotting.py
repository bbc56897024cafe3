"""Plots people would rather see than read: fitness and size against generation, the Pareto
front of quality and size, the channels kept per group (PNG)."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from deap import tools
from matplotlib.figure import Figure

from .nets.checkpoints import atomic_write


def _save(fig: Figure, path: str | os.PathLike, title: str | None) -> Path:
    """Lay out, title and write ``fig`` as a PNG atomically. Figures are made with
    :class:`~matplotlib.figure.Figure`, outside pyplot: no backend is chosen and nothing global
    is kept; ``savefig`` renders PNGs with Agg, as ``matplotlib.use("Agg")`` did."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    return path


def plot_fitness(logbook: tools.Logbook, path: str | os.PathLike,
                 chapters: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Fitness (max and mean) and the best's size ratio against generation, one line per
    chapter (``"A"``, ``"B"`` of :func:`eaCoevolve`; a logbook without chapters is drawn as
    one population). Size comes from ``best_size`` where recorded. Writes a PNG; returns path.
    """
    chapters = list(chapters or logbook.chapters.keys() or [None])
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
        size = book.select("best_size")
        if any(v is not None for v in size):
            ax_size.plot(gens, [float(v) for v in size], "-o", color=color, markersize=3,
                         label=label)
    ax_fit.set(xlabel="generation", ylabel="fitness F",
               title="fitness" + (" (from generation 1: 0 has no cycle term)" if first else ""))
    ax_size.set(xlabel="generation", ylabel="size of the best / original",
                title="size ratio of the best", ylim=(0, 1.05))
    for ax in (ax_fit, ax_size):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return _save(fig, path, title)


AXIS_LABELS = {"parameters": "parameters / original", "macs": "MACs / original",
               "latency": "predicted latency (ms)"}


def plot_front(front: Mapping, path: str | os.PathLike, x: str | None = None,
               chosen: int | None = None, title: str | None = None) -> Path:
    """The front of a multi-objective search (:meth:`FrontResult.to_dict`): quality (the
    pair's mean score, lower is better) against ``x`` ("parameters", "macs" or "latency";
    default the first size objective), one point per pair, each generator's own values
    faint, the ``chosen`` point (default the front's) marked. Writes a PNG; returns path."""
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
    ax.set(xlabel=AXIS_LABELS.get(x, x), ylabel="score: L1 to the original (lower better)",
           title=f"Pareto front, {len(points)} pairs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, title)


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


def plot_kept_channels(kept: Mapping[str, Mapping[str, Mapping[str, int]]],
                       path: str | os.PathLike, title: str | None = None) -> Path:
    """Channels kept per group as bars in front of the original width (a pale bar behind),
    one panel per generator: ``kept[name] = {"kept": {group: n}, "width": {group: n}}``
    (e.g. ``space.kept(bits)`` and ``space.kept(space.full())``). Writes a PNG."""
    from matplotlib.figure import Figure
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
    return _save(fig, path, title)

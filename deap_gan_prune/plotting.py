"""Plots people would rather see than read: fitness and size against generation (PNG)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from deap import tools  # noqa: E402

from .checkpoints import atomic_write  # noqa: E402


def plot_fitness(logbook: tools.Logbook, path: str | os.PathLike,
                 chapters: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Fitness (max and mean) and the best's size ratio against generation, one line per
    chapter (``"A"``, ``"B"`` of :func:`eaCoevolve`; a logbook without chapters is drawn as
    one population). Size comes from ``best_size`` where recorded. Writes a PNG; returns path.
    """
    chapters = list(chapters or logbook.chapters.keys() or [None])
    fig, (ax_fit, ax_size) = plt.subplots(1, 2, figsize=(10, 4))
    for name, color in zip(chapters, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        book = logbook.chapters[name] if name else logbook
        gens = logbook.select("gen")
        label = f"G_{name}" if name else "population"
        for key, style in (("max", "-"), ("avg", "--")):
            values = book.select(key)
            if any(v is not None for v in values):
                ax_fit.plot(gens, [float(v) for v in values], style, color=color,
                            label=f"{label} {key}")
        size = book.select("best_size")
        if any(v is not None for v in size):
            ax_size.plot(gens, [float(v) for v in size], "-o", color=color, markersize=3,
                         label=label)
    ax_fit.set(xlabel="generation", ylabel="fitness F", title="fitness")
    ax_size.set(xlabel="generation", ylabel="size of the best / original",
                title="size ratio of the best", ylim=(0, 1.05))
    for ax in (ax_fit, ax_size):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return path

"""Plot fitness (max, mean) and the best's size ratio against generation from the logbook in
a ``masks.json`` (``search``) or a search checkpoint, the budget it records drawn on the size
panel; for a front file (``search --front``), quality against size or latency, one point per
pair, the chosen one marked. ``--kept-channels``: the channels kept per group of the masks of
a masks file or a front's point (any generator). ``--quality-vs-size``: quality against size
across the points of a front or the budgets of a benchmark JSON (per-budget rows, e.g.
``benchmarks/results/front_vs_budgets.json``; drawn without the option)."""
from __future__ import annotations

import argparse
import json

from ..evolution.logbooks import logbook_from_records
from ..outputs import check_output_file
from ..plotting import (
    AXIS_LABELS,
    QUALITY_LABELS,
    benchmark_quality_points,
    figure_format,
    front_quality_points,
    kept_channels,
    plot_fitness,
    plot_front,
    plot_kept_channels,
    plot_quality_vs_size,
    score_label,
)
from . import CommandError
from .common import add_point_arguments, check_front, front_point, is_front, read_json
from .slim_cmd import mask_bits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="masks.json, a search checkpoint (JSON with a logbook), "
                                     "a front file of 'search --front' or a benchmark JSON")
    parser.add_argument("--out", default="fitness.png",
                        help="figure to write: .png, .pdf, .svg or .jpg")
    parser.add_argument("--title", default=None, help="title above the plot (default: none)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--kept-channels", action="store_true",
                      help="the channels kept per group, original width behind, of a masks "
                           "file (both generators or the one of --generator) or a front's "
                           "point (default: fitness against generation, or the front)")
    kind.add_argument("--quality-vs-size", action="store_true",
                      help="quality against size: the points of a front file (a benchmark "
                           "JSON is always drawn so)")
    parser.add_argument("--x", choices=["parameters", "macs", "latency"], default=None,
                        help="front files: the size axis (default the first size objective)")
    parser.add_argument("--metric", default="ssim",
                        help="benchmark JSON: the quality measure of its rows, e.g. ssim, "
                             "a2b_stripe_share, b2a_psnr_db (default ssim)")
    add_point_arguments(parser)


#: entries the plot reads from a record or a chapter of it: numbers (or null)
PLOTTED = ("max", "avg", "best_size_ratio", "best_size", "best_l_cyc")  # best_size: older files


def _check_numbers(entry: dict, where: str) -> None:
    for key in PLOTTED:
        value = entry.get(key)
        if value is not None and (type(value) not in (int, float)):
            raise CommandError(f"{where} has {key} = {json.dumps(value)[:40]}, not a number")


def check_records(records: object, path: str) -> list[dict]:
    """The logbook records of ``path`` if they can be plotted; a CommandError naming the file
    and the first bad record otherwise."""
    if not records or not isinstance(records, list):
        raise CommandError(f"{path}: holds no logbook records")
    chapters = None
    for i, record in enumerate(records):
        where = f"{path}: logbook record {i}"
        if not isinstance(record, dict):
            kind = "null" if record is None else type(record).__name__
            raise CommandError(f"{where} is {kind}, not an object")
        if type(record.get("gen")) is not int:
            raise CommandError(f"{where} has no integer 'gen'")
        names = sorted(k for k, v in record.items() if isinstance(v, dict))
        if chapters is not None and names != chapters:
            raise CommandError(f"{where} has chapters {names}, record 0 has {chapters}")
        chapters = names
        _check_numbers(record, where)
        for name in names:
            _check_numbers(record[name], f"{where}, chapter {name}")
    return records


def is_benchmark(data: object) -> bool:
    """True for a benchmark JSON with per-budget rows (one run's, or ``runs`` of them)."""
    if not isinstance(data, dict) or "logbook" in data:
        return False
    found = data.get("runs")
    runs: list = found if isinstance(found, list) else [data]
    return any(isinstance(r, dict) and isinstance(r.get("rows"), list) and any(
        isinstance(row, dict) and "budget" in row for row in r["rows"]) for r in runs)


def run_kept(args: argparse.Namespace, data: dict) -> int:
    """``--kept-channels``: one panel per generator of the masks (or the front's point)."""
    if is_front(data):
        point = front_point(data, args, args.file)
        data = {"spaces": data.get("spaces"), "masks": {n: data["points"][point][n]
                                                        for n in "AB"}}
    masks = data.get("masks") if isinstance(data, dict) else None
    if not isinstance(masks, dict) or not masks:
        raise CommandError(f"{args.file}: not a masks file of 'search' (no masks)")
    names = sorted(masks)
    kept = {("G" if names == ["A"] else f"G_{n}"): kept_channels(*mask_bits(data, n, args.file))
            for n in names}
    path = plot_kept_channels(kept, args.out, title=args.title)
    print(f"wrote {path} (" + ", ".join(
        f"{n}: {sum(k['kept'].values())} of {sum(k['width'].values())} channels"
        for n, k in kept.items()) + ")")
    return 0


def run_quality(args: argparse.Namespace, data: dict) -> int:
    """Quality against size of a front's points or a benchmark's rows."""
    if is_front(data):
        points = front_quality_points({**data, "points": front_points(data, args)}, args.x)
        x = args.x or data["objectives"][1]
        path = plot_quality_vs_size(points, args.out, xlabel=AXIS_LABELS.get(x, x),
                                    ylabel=score_label(data.get("config")).removesuffix(
                                        " (lower is better)"),
                                    higher_is_better=False, title=args.title)
    else:
        try:
            points = benchmark_quality_points(data, args.metric)
        except ValueError as exc:
            raise CommandError(f"{args.file}: {exc}") from None
        label, higher = QUALITY_LABELS.get(args.metric, (args.metric, None))
        path = plot_quality_vs_size(points, args.out,
                                    xlabel="parameters / original, mean of the generators",
                                    ylabel=label, higher_is_better=higher, title=args.title)
    print(f"wrote {path} ({len(points)} points)")
    return 0


def front_points(data: dict, args: argparse.Namespace) -> list[dict]:
    """The front's points, checked, with the size axis ``--x`` in every one."""
    check_front(data, args.file)
    if args.x and any(args.x not in p["values"] for p in data["points"]):
        raise CommandError(f"{args.file}: the front has no {args.x} values")
    return data["points"]


def fitness_config(data: dict, path: str) -> dict | None:
    """The search configuration recorded in a masks file or checkpoint, if any; a
    CommandError when its budget is not a size ratio."""
    config = data.get("config")
    if not isinstance(config, dict):
        return None
    budget = config.get("budget")
    if budget is not None and (type(budget) not in (int, float) or not 0 < budget <= 1):
        raise CommandError(f"{path}: the recorded budget {json.dumps(budget)[:40]} is not a "
                           "size ratio in (0, 1]")
    return config


def run(args: argparse.Namespace) -> int:
    check_output_file(args.out, "--out")
    figure_format(args.out)
    data = read_json(args.file, "logbook")
    if args.kept_channels:
        return run_kept(args, data)
    if args.quality_vs_size or is_benchmark(data):
        if not (is_front(data) or is_benchmark(data)):
            raise CommandError(f"{args.file}: --quality-vs-size takes a front file of 'search "
                               "--front' or a benchmark JSON with per-budget rows")
        return run_quality(args, data)
    if is_front(data):
        chosen = front_point(data, args, args.file)
        if args.x and any(args.x not in p["values"] for p in data["points"]):
            raise CommandError(f"{args.file}: the front has no {args.x} values")
        path = plot_front(data, args.out, x=args.x, chosen=chosen, title=args.title)
        print(f"wrote {path} ({len(data['points'])} pairs, point {chosen} marked)")
        return 0
    records = check_records(data.get("logbook") if isinstance(data, dict) else None, args.file)
    path = plot_fitness(logbook_from_records(records), args.out, title=args.title,
                        config=fitness_config(data, args.file))
    print(f"wrote {path} ({len(records)} generations)")
    return 0

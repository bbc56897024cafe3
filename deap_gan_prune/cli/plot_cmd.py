"""Plot fitness (max, mean) and the best's size ratio against generation from the logbook in
a ``masks.json`` (``search``) or a search checkpoint; or, for a front file (``search
--front``), quality against size or latency, one point per pair, the chosen one marked."""
from __future__ import annotations

import argparse
import json

from ..evolution.logbooks import logbook_from_records
from ..outputs import check_output_file
from ..plotting import plot_fitness, plot_front
from . import CommandError
from .common import add_point_arguments, front_point, is_front, read_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="masks.json or a search checkpoint (JSON with a logbook)")
    parser.add_argument("--out", default="fitness.png", help="PNG to write")
    parser.add_argument("--title", default=None, help="title above the plot (default: none)")
    parser.add_argument("--x", choices=["parameters", "macs", "latency"], default=None,
                        help="front files: the size axis (default the first size objective)")
    add_point_arguments(parser)


#: entries the plot reads from a record or a chapter of it: numbers (or null)
PLOTTED = ("max", "avg", "best_size", "best_l_cyc")


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


def run(args: argparse.Namespace) -> int:
    check_output_file(args.out, "--out")
    data = read_json(args.file, "logbook")
    if is_front(data):
        chosen = front_point(data, args, args.file)
        if args.x and any(args.x not in p["values"] for p in data["points"]):
            raise CommandError(f"{args.file}: the front has no {args.x} values")
        path = plot_front(data, args.out, x=args.x, chosen=chosen, title=args.title)
        print(f"wrote {path} ({len(data['points'])} pairs, point {chosen} marked)")
        return 0
    records = check_records(data.get("logbook") if isinstance(data, dict) else None, args.file)
    path = plot_fitness(logbook_from_records(records), args.out, title=args.title)
    print(f"wrote {path} ({len(records)} generations)")
    return 0

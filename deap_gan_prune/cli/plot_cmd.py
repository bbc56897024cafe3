"""Plot fitness (max, mean) and the best's size ratio against generation from the logbook in
a ``masks.json`` (``search``) or a search checkpoint."""
from __future__ import annotations

import argparse

from ..logbooks import logbook_from_records
from ..plotting import plot_fitness
from . import CommandError
from .common import read_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="masks.json or a search checkpoint (JSON with a logbook)")
    parser.add_argument("--out", default="fitness.png", help="PNG to write")
    parser.add_argument("--title", default=None)


def run(args: argparse.Namespace) -> int:
    data = read_json(args.file, "logbook")
    records = data.get("logbook") if isinstance(data, dict) else None
    if not records or not isinstance(records, list):
        raise CommandError(f"{args.file}: holds no logbook records")
    path = plot_fitness(logbook_from_records(records), args.out, title=args.title)
    print(f"wrote {path} ({len(records)} generations)")
    return 0

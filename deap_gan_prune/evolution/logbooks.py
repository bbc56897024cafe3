"""DEAP logbooks to and from plain JSON records (chapters as nested dicts)."""
from __future__ import annotations

import numpy as np
from deap import tools


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def logbook_records(logbook: tools.Logbook) -> list[dict]:
    """The logbook as JSON-able records; chapter entries are nested under the chapter name
    and numpy numbers become Python numbers."""
    records = []
    for i, record in enumerate(logbook):
        entry = _plain(dict(record))
        for name, chapter in logbook.chapters.items():
            entry[name] = _plain(dict(chapter[i]))
        records.append(entry)
    return records


def logbook_from_records(records: list[dict]) -> tools.Logbook:
    """Rebuild a logbook (with chapters) from :func:`logbook_records`' output."""
    logbook = tools.Logbook()
    for record in records:
        logbook.record(**record)
    if records:
        logbook.header = list(records[0])
    return logbook

"""What a single-budget search returns (:class:`SearchResult`), for one generator or two."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deap import tools

from ..core.maskspace import MaskSpace
from .logbooks import logbook_records
from .search_config import SearchConfig


@dataclass
class SearchResult:
    """The best mask of each generator (for two co-evolved generators: the hall of fame's best
    pair, scored jointly; with finalists: each generator's best finalist), by name.

    masks, spaces, terms: per generator name ("A", "B"). logbook: one population's records,
    or chapters "A" and "B". halloffame: ``{name: mask, ..., "score": s}`` best first (with
    ``"gen"`` for pairs). finalists: ``{name: mask, "score": s}`` after the finalists'
    longer adaptation, best first per generator. populations: the final populations.
    """

    masks: dict[str, list[int]]
    spaces: dict[str, MaskSpace]
    logbook: tools.Logbook
    terms: dict[str, dict]
    config: SearchConfig
    populations: Mapping[str, list] = field(repr=False, default_factory=dict)
    halloffame: list[dict] = field(repr=False, default_factory=list)
    finalists: list[dict] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary (the masks file): masks, spaces, terms, config, the logbook's
        records, the hall of fame and the finalists."""
        return {"masks": {n: list(m) for n, m in self.masks.items()},
                "spaces": {n: s.to_dict() for n, s in self.spaces.items()},
                "terms": dict(self.terms), "config": self.config.to_dict(),
                "logbook": logbook_records(self.logbook),
                "halloffame": [dict(h) for h in self.halloffame],
                "finalists": [dict(f) for f in self.finalists]}

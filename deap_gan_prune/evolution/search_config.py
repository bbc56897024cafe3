"""Settings and result of :func:`deap_gan_prune.evolution.search.search_masks`."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from deap import tools

from ..nets.maskspace import MaskSpace
from .logbooks import logbook_records

#: Pixels a search of one generator of the user's class scores at when no size is given
#: (``benchmarks/search_resolution.py`` compares it with the fine-tuning's 128).
GENERATOR_SEARCH_SIZE = 64

#: The settings :meth:`SearchConfig.widths` changes from the defaults.
WIDTHS: dict[str, object] = {"init": "uniform", "mutate": "move", "mate": "uniform_group",
                             "cxpb": 0.5, "mutpb": 0.5, "seed_channels": "random",
                             "budget_measures": ("parameters",), "finalists": 4,
                             "finalist_steps": 300}


def default_variation(single: bool, budget: float | None, fitness: str) -> str:
    """The variation a search runs unless told: "widths" (:meth:`SearchConfig.widths`) for
    one generator of the user's class at a budget below 1 with the adapted fitness (where
    ``benchmarks/real_generator.py`` measured it), "channels" otherwise."""
    widths = single and budget is not None and budget < 1 and fitness == "adapted"
    return "widths" if widths else "channels"


@dataclass
class SearchConfig:
    """Settings of :func:`search_masks`. The defaults are the ones our benchmarks chose
    (README, "Results"); :meth:`paper` gives the paper's search.

    ``fitness``: "adapted" (:class:`AdaptedFitness`: each candidate distilled for
    ``adapt_steps`` steps toward the original on ``train_images`` adaptation images, then
    scored by ``adapt_score`` on the ``n_images`` held-out images; ``lambda_cycle`` adds a
    cycle term only when > 0 and the fitness is then partner-dependent) or "paper"
    (:class:`GeneratorFitness`, the paper's F with ``perceptual`` and ``lambda_cycle``) or
    "supernet" (:class:`SupernetFitness`: each mask scored by ``adapt_score`` ("l1" or
    "ssim") on the weights of once-for-all generators passed to :func:`search_masks` as
    ``supernets``, with no adaptation).
    ``budget``: a size ratio (e.g. 0.25 = 4x smaller) that every individual is repaired to
    meet in every one of ``budget_measures`` ("parameters", "macs", and "latency": the latency
    model the search is given, predicted ms), dropping channels in random order
    (``repair_order="random"``) or least L1 norm first (``"l1"``); ``None`` for the paper's
    formulation, where only γ (``gamma``) pushes the size down. ``gamma=None`` means 0 with a
    budget (the repair caps the size) and 1 without.
    ``seed_uniform``: with a budget, one individual of each starting population is the
    uniform keep-ratio mask at the budget, so the search cannot end below it on its own score.
    ``select``: "tournament" (size ``tournsize``), "rank" or "roulette" (the paper's).
    ``seed_channels``: which channels the seeded uniform mask keeps in each group: the
    "first" ones or "random" ones (drawn with ``seed``, as :func:`random_mask_like` does).
    ``init``: "bernoulli" (each channel kept with ``p_keep``, the paper's), "importance"
    (the top ``p_keep`` share of each group by L1 norm, perturbed) or "uniform" (with a
    budget: the uniform mask's counts with random channels, then ``init_moves`` capacity
    moves, :func:`initMaskCounts`).
    ``mutate``: "segment", "flip" or "move" (:func:`mutMoveChannels`: ``move_fraction`` of a
    group's channels moved to another group at the same size).
    ``finalists``: single-generator search only; when > 0, the best ``finalists`` masks of
    the hall of fame and the seeded uniform mask are each distilled for ``finalist_steps``
    steps (the adapted fitness with more steps) and the best of them is the result.
    ``n_images``: validation images per domain the fitness is computed on.
    ``train_steps``: with the paper's fitness, its optional brief training of every candidate
    before it is scored (:class:`BriefDistillation` on the next ``train_images`` images; 0 =
    off).
    """

    population: int = 12
    generations: int = 8
    cxpb: float = 0.7
    mutpb: float = 0.1
    elitism: int = 1
    p_keep: float = 0.5
    init: Literal["bernoulli", "importance", "uniform"] = "bernoulli"
    init_moves: int = 4
    mate: str = "two_point"
    mutate: str = "segment"
    move_fraction: float = 0.25
    select: Literal["tournament", "rank", "roulette"] = "tournament"
    tournsize: int = 3
    layout: Literal["independent", "tied"] = "independent"
    fitness: Literal["adapted", "paper", "supernet"] = "adapted"
    adapt_steps: int = 30
    adapt_score: Literal["l1", "ssim", "discriminator"] = "l1"
    adapt_lr: float = 2e-4
    perceptual: Literal["discriminator", "features", "pixel"] = "discriminator"
    lambda_cycle: float | None = None
    gamma: float | None = None
    size_measure: Literal["parameters", "macs"] = "parameters"
    budget: float | None = None
    budget_measures: tuple[str, ...] = ("parameters", "macs")
    repair_order: Literal["random", "l1"] = "random"
    seed_uniform: bool = True
    seed_channels: Literal["first", "random"] = "first"
    schedule: Literal["latest", "previous"] = "latest"
    n_images: int = 16
    batch_size: int = 16
    train_steps: int = 0
    train_images: int = 32
    finalists: int = 0
    finalist_steps: int = 300
    seed: int = 0

    @classmethod
    def paper(cls, **overrides: Any) -> SearchConfig:
        """The paper's search: its fitness F (discriminator-perceptual, λ = 10), roulette
        selection, population 32, 50 generations; with a budget, the repair drops the
        channels of least L1 norm and no uniform mask is seeded (as this library did first)."""
        settings = {"fitness": "paper", "select": "roulette", "population": 32, "generations": 50,
                    "repair_order": "l1", "seed_uniform": False}
        return cls(**{**settings, **overrides})

    @classmethod
    def widths(cls, **overrides: Any) -> SearchConfig:
        """The width search (a budget is required): every mask starts as the uniform mask
        with random channels plus capacity moves (``init="uniform"``), varies by exchanging
        whole groups and moving channels between groups at one size, is repaired in
        parameters only, and the best ``finalists`` (4) of the hall of fame and the uniform
        seed are each distilled ``finalist_steps`` (300) steps before the best is kept. The
        default of ``deap-gan-prune search --generator`` (README, "A real pretrained
        generator")."""
        settings = dict(WIDTHS)
        settings.update(overrides)
        return cls(**settings)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        self.budget_measures = tuple(self.budget_measures)
        if self.gamma is None:
            self.gamma = 0.0 if self.budget is not None else 1.0
        if self.lambda_cycle is None:
            self.lambda_cycle = 10.0 if self.fitness == "paper" else 0.0
        for name, value, allowed in (
                ("fitness", self.fitness, ("adapted", "paper", "supernet")),
                ("select", self.select, ("tournament", "rank", "roulette")),
                ("repair_order", self.repair_order, ("random", "l1")),
                ("init", self.init, ("bernoulli", "importance", "uniform")),
                ("seed_channels", self.seed_channels, ("first", "random")),
                ("adapt_score", self.adapt_score, ("l1", "ssim", "discriminator"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.adapt_steps < 0 or self.tournsize < 1:
            raise ValueError("adapt_steps must be >= 0 and tournsize >= 1")
        if self.population < 2:
            raise ValueError(f"population must be >= 2, got {self.population}")
        if self.generations < 0:
            raise ValueError(f"generations must be >= 0, got {self.generations}")
        unknown = [m for m in self.budget_measures if m not in ("parameters", "macs", "latency")]
        if unknown or not self.budget_measures:
            raise ValueError(f"budget_measures must be some of 'parameters', 'macs' and "
                             f"'latency', got {list(self.budget_measures)}")
        if self.budget is not None and not 0 < self.budget <= 1:
            raise ValueError(f"budget is a size ratio in (0, 1], got {self.budget}")
        if self.init == "uniform" and self.budget is None:
            raise ValueError('init="uniform" needs a budget (it starts from the uniform mask)')
        if self.finalists < 0 or self.finalist_steps < 0 or self.init_moves < 0:
            raise ValueError("finalists, finalist_steps and init_moves must be >= 0")
        if not 0 < self.move_fraction <= 1:
            raise ValueError(f"move_fraction must be in (0, 1], got {self.move_fraction}")
        if not 0 <= self.elitism < self.population:
            raise ValueError(f"elitism must be in [0, population), got {self.elitism}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["budget_measures"] = list(self.budget_measures)
        return d


@dataclass
class SearchResult:
    """The best pair of masks seen (the hall of fame's first, scored jointly), their spaces,
    the logbook, the best pair's terms and the hall of fame (``(mask_a, mask_b, generation,
    joint score)``, best first)."""

    masks: tuple[list[int], list[int]]
    spaces: tuple[MaskSpace, MaskSpace]
    logbook: tools.Logbook
    terms: tuple[dict, dict]
    config: SearchConfig
    populations: tuple[Sequence, ...] = field(repr=False, default=((), ()))
    halloffame: list = field(repr=False, default_factory=list)

    def slot_masks(self) -> tuple[dict, dict]:
        """Per-slot masks of the best pair, for :func:`deap_gan_prune.slim`."""
        return (self.spaces[0].slot_masks(self.masks[0]),
                self.spaces[1].slot_masks(self.masks[1]))

    def to_dict(self) -> dict:
        """JSON-ready summary: masks, spaces, terms, config and the logbook's records."""
        return {"masks": {"A": list(self.masks[0]), "B": list(self.masks[1])},
                "spaces": {"A": self.spaces[0].to_dict(), "B": self.spaces[1].to_dict()},
                "terms": {"A": self.terms[0], "B": self.terms[1]},
                "config": self.config.to_dict(), "logbook": logbook_records(self.logbook),
                "halloffame": [{"A": list(a), "B": list(b), "gen": g, "score": sc}
                               for a, b, g, sc in self.halloffame]}

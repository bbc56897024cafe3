"""Settings of a single-budget search (:func:`deap_gan_prune.evolution.search.search`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..configs import setting, to_dict, validate

#: Pixels a search of one generator of the user's class scores at when no size is given
#: (``benchmarks/search_resolution.py`` compares it with the fine-tuning's 128).
GENERATOR_SEARCH_SIZE = 64

#: The size ratio a search budgets when given none (4x smaller, as
#: ``examples/horse2zebra.py``), unless it budgets a speed-up (:data:`GENERATOR_SPEEDUP`).
DEFAULT_BUDGET = 0.25

#: The speed-up a search of one generator of the user's class budgets when given neither a
#: size budget nor a speed-up: at most 1/4 of the original's latency on ONNX Runtime CPU,
#: the runtime ``export`` deploys to (``benchmarks/equal_latency.py``).
GENERATOR_SPEEDUP = 4.0

#: The settings :meth:`SearchConfig.widths` changes from the defaults.
WIDTHS: dict[str, object] = {"init": "uniform", "mutate": "move", "mate": "uniform_group",
                             "cxpb": 0.5, "mutpb": 0.5, "seed_channels": "random",
                             "budget_measures": ("parameters",), "finalists": 4,
                             "finalist_steps": 300}


def default_variation(own_class: bool, budget: float | None, fitness: str) -> str:
    """The variation a search runs unless told: "widths" (:meth:`SearchConfig.widths`) for
    one generator of the user's class at a budget below 1 with the adapted fitness (where
    ``benchmarks/real_generator.py`` measured it), "channels" otherwise."""
    widths = own_class and budget is not None and budget < 1 and fitness == "adapted"
    return "widths" if widths else "channels"


@dataclass
class FitnessSettings:
    """The settings every search shares: the evolution (``population``, ``generations``,
    ``cxpb``, ``mutpb``, ``mate``, ``mutate``), the mask layout and the fitness
    (``fitness``; the adapted fitness's ``adapt_steps``, ``adapt_score``, ``adapt_lr`` and
    ``batch_size``; ``n_images`` held-out images scored on and the next ``adapt_images``
    adapted or trained on), and ``seed``. :class:`SearchConfig` and :class:`FrontConfig`
    extend it."""

    population: int = setting(12, "individuals (masks) per generator", within="[2, inf)")
    generations: int = setting(8, "generations after the starting population", within="[0, inf)")
    cxpb: float = setting(0.7, "probability that a pair of masks is crossed", within="[0, 1]")
    mutpb: float = setting(0.1, "probability that a mask is mutated", within="[0, 1]")
    mate: Literal["two_point", "group_boundary", "uniform_group"] = setting(
        "two_point", "crossover of two masks (default two_point for channels, uniform_group "
        "for widths)")
    mutate: Literal["segment", "flip", "move"] = setting(
        "segment", "mutation: a random segment of bits (default of channels), independent "
        "bit flips, or channels moved between two groups at one size (default of widths)")
    layout: Literal["independent", "tied"] = setting(
        "independent", "independent: every residual block's inner width is its own; tied: "
        "as the released code, tied to the stream width")
    fitness: Literal["adapted", "paper", "supernet"] = setting(
        "adapted", "adapted: each candidate distilled briefly toward the original, then "
        "scored on held-out images (default); paper: the paper's F; supernet: scored on "
        "--supernet weights as they are")
    adapt_steps: int = setting(30, "distillation steps per candidate (adapted; default 30)",
                               within="[0, inf)")
    adapt_score: Literal["l1", "ssim", "discriminator"] = setting(
        "l1", "what the adapted (or supernet) fitness scores the candidate's outputs by: L1 "
        "or SSIM to the original's, or the original discriminator")
    adapt_lr: float = setting(2e-4, "learning rate of the candidates' adaptation (Adam)",
                              within="(0, inf)")
    n_images: int = setting(16, "held-out validation images per domain the fitness scores "
                            "on", within="[1, inf)")
    adapt_images: int = setting(
        32, "further images per domain candidates are adapted (or, with --train-steps, "
        "trained) on", within="[0, inf)")
    batch_size: int = setting(16, "images a step of the candidates' adaptation", within="[1, inf)")
    seed: int = setting(0, "random seed: the same settings give the same search")


@dataclass
class SearchConfig(FitnessSettings):
    """Settings of :func:`~.search.search` at one budget. The defaults are the ones our
    benchmarks chose (README, "Results"); :meth:`paper` gives the paper's search.

    ``fitness``: "adapted" (:class:`AdaptedFitness`: each candidate distilled for
    ``adapt_steps`` steps toward the original on ``adapt_images`` adaptation images, then
    scored by ``adapt_score`` on the ``n_images`` held-out images; ``lambda_cycle`` adds a
    cycle term only when > 0 and the fitness is then partner-dependent) or "paper"
    (:class:`GeneratorFitness`, the paper's F with ``perceptual`` and ``lambda_cycle``) or
    "supernet" (:class:`SupernetFitness`: each mask scored by ``adapt_score`` ("l1" or
    "ssim") on the weights of once-for-all generators, the task's ``supernets``, with no
    adaptation).
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
    before it is scored (:class:`BriefDistillation` on the next ``adapt_images`` images; 0 =
    off).
    """

    elitism: int = setting(1, "best individuals carried into the next generation",
                           within="[0, inf)")
    p_keep: float = setting(0.5, "share of channels a starting mask keeps", within="[0, 1]")
    init: Literal["bernoulli", "importance", "uniform"] = setting(
        "bernoulli", "starting masks: each channel kept at random (the paper's; default of "
        "channels), the channels of largest L1 norm, perturbed, or the uniform counts with "
        "capacity moves (default of widths)")
    init_moves: int = setting(4, "capacity moves of each uniform starting mask", within="[0, inf)")
    move_fraction: float = setting(0.25, "share of a group's channels a move mutation "
                                   "moves", within="(0, 1]")
    select: Literal["tournament", "rank", "roulette"] = setting(
        "tournament", "selection (default tournament; roulette is the paper's)")
    tournsize: int = setting(3, "tournament size", within="[1, inf)")
    perceptual: Literal["discriminator", "features", "pixel"] = setting(
        "discriminator", "the perceptual term of the paper's fitness (--fitness paper)")
    lambda_cycle: float | None = setting(
        None, "cycle weight λ (default 10 for the paper's fitness, 0 for adapted)")
    gamma: float | None = setting(
        None, "size weight γ (default 0 with a budget, 1 with --budget none)")
    size_measure: Literal["parameters", "macs"] = setting(
        "parameters", "the size γ weighs and the printed size ratio counts")
    budget: float | None = setting(
        None, "size ratio every candidate is repaired to meet in every one of "
        "budget_measures (default None: no cap, the paper's soft size term)", within="(0, 1]")
    budget_measures: tuple[Literal["parameters", "macs", "latency"], ...] = setting(
        ("parameters", "macs"), "what the budget caps: parameters, macs, latency")
    round_to: int = setting(
        1, "keep every group's channels in multiples of this (4, 8 or 16 for vector units; "
        "default 1 = any count: benchmarks/round_to.py measured no speed-up distinguishable "
        "from noise on ONNX Runtime CPU)", within="[1, inf)")
    repair_order: Literal["random", "l1"] = setting(
        "random", "which channels the budget repair drops first (default random)")
    seed_uniform: bool = setting(True, "with a budget, one starting mask is the uniform one")
    seed_channels: Literal["first", "random"] = setting(
        "first", "which channels the seeded uniform mask keeps in each group")
    schedule: Literal["latest", "previous"] = setting(
        "latest", "the partner each generator is scored with: the latest or the previous "
        "generation's best")
    train_steps: int = setting(0, "brief training of every candidate before scoring (the "
                               "paper's optional variant; default 0 = off)", within="[0, inf)")
    finalists: int = setting(
        0, f"masks of the hall of fame distilled --finalist-steps steps at the end, with the "
        f"uniform seed, the best kept (default {WIDTHS['finalists']} for widths, 0 = off for "
        "channels; one generator only)", within="[0, inf)")
    finalist_steps: int = setting(300, "distillation steps per finalist", within="[0, inf)")

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
        validate(self)
        self.budget_measures = tuple(self.budget_measures)
        if self.gamma is None:
            self.gamma = 0.0 if self.budget is not None else 1.0
        if self.lambda_cycle is None:
            self.lambda_cycle = 10.0 if self.fitness == "paper" else 0.0
        if not self.budget_measures:
            raise ValueError("SearchConfig: budget_measures must name at least one of "
                             "parameters, macs and latency")
        if self.init == "uniform" and self.budget is None:
            raise ValueError('init="uniform" needs a budget (it starts from the uniform mask)')
        if not self.elitism < self.population:
            raise ValueError(f"SearchConfig: elitism must be below population, got "
                             f"{self.elitism}")

    def to_dict(self) -> dict:
        """The settings as plain JSON values (tuples as lists)."""
        return to_dict(self)

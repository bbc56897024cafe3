"""Settings of :func:`deap_gan_prune.evolution.front.search_front`."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, cast

from ..configs import setting, to_dict, validate
from .search_config import FitnessSettings, SearchConfig

SIZE_OBJECTIVES = ("parameters", "macs", "latency")


@dataclass
class FrontConfig(FitnessSettings):
    """Settings of :func:`search_front`.

    ``objectives``: the size objectives minimised beside the score, any of "parameters"
    (ratio to the original), "macs" (ratio) and "latency" (predicted ms; needs a latency
    table). ``size_range``: the starting masks' size ratios are drawn log-uniformly in it
    (ratios of ``range_measure``), and no mask may exceed its upper end (budget repair).
    ``population`` (μ = λ per generator), ``generations``, ``cxpb``/``mutpb`` (every child is
    a crossover child or a mutant when they sum to 1); ``uniform_seeds``: how many starting
    masks are uniform keep-ratio masks spread over ``size_range`` (at most half the
    population; default 0). ``size_init``: "strata" (one starting size in each of
    ``population`` strata of equal log width over the range, so both ends are held) or
    "random" (independent log-uniform draws). ``size_cap``: "parent" (every child repaired to
    at most ``size_growth`` times its parent's size) or "range" (only to the range's upper
    end). ``size_floor``: also repair every child up to the range's lower end
    (:func:`repairMinSize`; off by default), so the front stays within the range. ``fitness``:
    "adapted" or "supernet" (the masks scored by ``adapt_score``, "l1" or "ssim", on the
    ``supernets`` given to :func:`search_front`). ``survivors``: the survivor selection,
    "nsga2" (``tools.selNSGA2``), "spea2" (``tools.selSPEA2``) or "nsga3"
    (``tools.selNSGA3`` with :func:`reference_points`). ``mate``, ``mutate``, ``layout`` as in
    :class:`SearchConfig`; ``adapt_*``, ``n_images``, ``adapt_images``, ``batch_size``: the
    adapted fitness's settings; ``seed``: everything is deterministic under it.
    """

    population: int = setting(16, "individuals (masks) per generator", within="[4, inf)")
    cxpb: float = setting(0.6, "probability that a pair of masks is crossed", within="[0, 1]")
    mutpb: float = setting(0.4, "probability that a mask is mutated", within="[0, 1]")
    fitness: Literal["adapted", "supernet"] = setting(
        "adapted", "adapted: each candidate distilled briefly toward the original, then "
        "scored on held-out images; supernet: scored on --supernet weights as they are")
    objectives: tuple[Literal["parameters", "macs", "latency"], ...] = setting(
        ("parameters",), "size objectives beside quality, comma-separated among parameters, "
        "macs, latency")
    size_range: tuple[float, float] = setting(
        (0.05, 0.5), "size ratios the starting masks span; HIGH is also a cap",
        within="(0, 1]", metavar=("LOW", "HIGH"))
    range_measure: Literal["parameters", "macs"] = setting(
        "parameters", "what size_range's ratios count")
    uniform_seeds: int = setting(0, "uniform starting masks spread over size_range",
                                 within="[0, inf)")
    size_init: Literal["strata", "random"] = setting(
        "strata", "starting sizes: one in each of population strata, or random")
    size_cap: Literal["parent", "range"] = setting(
        "parent", "children repaired to size_growth times their parent's size, or to the "
        "range's upper end")
    size_growth: float = setting(1.0, "largest growth of a child over its parent",
                                 within="[1, inf)")
    size_floor: bool = setting(False, "children repaired up to the range's lower end too")
    survivors: Literal["nsga2", "spea2", "nsga3"] = setting(
        "nsga2", "the survivor selection")

    def __post_init__(self) -> None:
        validate(self)
        self.objectives = tuple(self.objectives)
        self.size_range = cast(tuple[float, float], tuple(float(v) for v in self.size_range))
        if not self.objectives or len(set(self.objectives)) != len(self.objectives):
            raise ValueError(f"FrontConfig: objectives must be distinct names among "
                             f"{SIZE_OBJECTIVES}, got {self.objectives}")
        if not self.size_range[0] <= self.size_range[1]:
            raise ValueError(f"FrontConfig: size_range must be (low, high) with low <= high, "
                             f"got {self.size_range}")
        if not self.cxpb + self.mutpb <= 1:
            raise ValueError(f"FrontConfig: cxpb and mutpb must have a sum <= 1, got "
                             f"{self.cxpb}, {self.mutpb}")

    def search_config(self) -> SearchConfig:
        """The :class:`SearchConfig` whose fitness settings these are (no size term)."""
        shared = {f.name: getattr(self, f.name) for f in fields(FitnessSettings)}
        return SearchConfig(**shared, lambda_cycle=0.0, gamma=0.0)

    def to_dict(self) -> dict:
        """The settings as plain JSON values (tuples as lists)."""
        return to_dict(self)

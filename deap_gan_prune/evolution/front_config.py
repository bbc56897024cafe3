"""Settings of :func:`deap_gan_prune.evolution.front.search_front`."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, cast

from .search_config import SearchConfig

SIZE_OBJECTIVES = ("parameters", "macs", "latency")


@dataclass
class FrontConfig:
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
    :class:`SearchConfig`; ``adapt_*``, ``n_images``, ``train_images``, ``batch_size``: the
    adapted fitness's settings; ``seed``: everything is deterministic under it.
    """

    population: int = 16
    generations: int = 8
    cxpb: float = 0.6
    mutpb: float = 0.4
    objectives: tuple[str, ...] = ("parameters",)
    size_range: tuple[float, float] = (0.05, 0.5)
    range_measure: Literal["parameters", "macs"] = "parameters"
    uniform_seeds: int = 0
    size_init: Literal["strata", "random"] = "strata"
    size_cap: Literal["parent", "range"] = "parent"
    size_growth: float = 1.0
    size_floor: bool = False
    fitness: Literal["adapted", "supernet"] = "adapted"
    survivors: Literal["nsga2", "spea2", "nsga3"] = "nsga2"
    mate: str = "two_point"
    mutate: str = "segment"
    layout: Literal["independent", "tied"] = "independent"
    adapt_steps: int = 30
    adapt_score: Literal["l1", "ssim", "discriminator"] = "l1"
    adapt_lr: float = 2e-4
    n_images: int = 16
    train_images: int = 32
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        self.objectives = tuple(self.objectives)
        # a pair, checked below
        self.size_range = cast(tuple[float, float], tuple(float(v) for v in self.size_range))
        if not self.objectives or any(o not in SIZE_OBJECTIVES for o in self.objectives) \
                or len(set(self.objectives)) != len(self.objectives):
            raise ValueError(f"objectives must be distinct names among {SIZE_OBJECTIVES}, got "
                             f"{self.objectives}")
        low, high = self.size_range if len(self.size_range) == 2 else (0, 0)
        if not 0 < low <= high <= 1:
            raise ValueError(f"size_range must be (low, high) with 0 < low <= high <= 1, got "
                             f"{self.size_range}")
        if self.range_measure not in ("parameters", "macs"):
            raise ValueError(f"range_measure must be 'parameters' or 'macs', got "
                             f"{self.range_measure!r}")
        if self.population < 4 or self.generations < 0:
            raise ValueError(f"population must be >= 4 and generations >= 0, got "
                             f"{self.population}, {self.generations}")
        for name, value, allowed in (("size_init", self.size_init, ("strata", "random")),
                                     ("size_cap", self.size_cap, ("parent", "range")),
                                     ("fitness", self.fitness, ("adapted", "supernet")),
                                     ("survivors", self.survivors, ("nsga2", "spea2", "nsga3"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not self.size_growth >= 1:
            raise ValueError(f"size_growth must be >= 1, got {self.size_growth}")
        if self.uniform_seeds < 0:
            raise ValueError(f"uniform_seeds must be >= 0, got {self.uniform_seeds}")
        if not (self.cxpb >= 0 and self.mutpb >= 0 and self.cxpb + self.mutpb <= 1):
            raise ValueError(f"cxpb and mutpb must be >= 0 with a sum <= 1, got {self.cxpb}, "
                             f"{self.mutpb}")

    def search_config(self) -> SearchConfig:
        """The :class:`SearchConfig` whose fitness settings these are (no size term)."""
        return SearchConfig(population=self.population, generations=self.generations,
                            layout=self.layout, fitness=self.fitness,
                            adapt_steps=self.adapt_steps, adapt_score=self.adapt_score,
                            adapt_lr=self.adapt_lr, lambda_cycle=0.0, gamma=0.0,
                            n_images=self.n_images, train_images=self.train_images,
                            batch_size=self.batch_size, seed=self.seed)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["objectives"], d["size_range"] = list(self.objectives), list(self.size_range)
        return d

"""Work units of ``benchmarks/ablation.py``: the shared context (networks, data, judge, the
original's translations), mask searches and conventional baselines at a size budget, and the
slim → fine-tune → measure run of one pair of masks (slimmed from the original's weights
or, for the supernet methods, from once-for-all "supernet" weights). Tasks run in this
process or in a pool of worker processes (each with its own torch thread count); every task
seeds itself, so the results do not depend on where or in which order the tasks run.
"""
from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context

import torch

from deap_gan_prune import search
from deap_gan_prune.core.baselines import random_mask_like, uniform_mask
from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.domains import DomainData
from deap_gan_prune.evolution import SearchConfig, Task
from deap_gan_prune.generator_reports import translations
from deap_gan_prune.metrics import fidelity_scores, judge_scores, outline_scores
from deap_gan_prune.metrics.judge import Judge
from deap_gan_prune.nets.baselines import l1_norm_mask
from deap_gan_prune.nets.checkpoints import CycleGAN
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.training import CycleGANConfig, DistillLoss, finetune_pair

#: Methods compared at every budget, in table order. The first five and "supernet" are
#: searches; the last three start from the supernet's weights.
METHODS = ("adapted", "paper", "pixel_fitness", "single_generator", "tied_layout",
           "l1_norm", "random", "uniform", "supernet", "supernet_uniform", "supernet_l1")
#: Methods whose masks are slimmed from the supernet's weights (fine-tuned and distilled
#: toward the ORIGINAL generators like every other method).
SUPERNET_METHODS = ("supernet", "supernet_uniform", "supernet_l1")
#: The conventional baseline each supernet baseline applies to the supernet's weights.
SUPERNET_BASELINES = {"supernet_uniform": "uniform", "supernet_l1": "l1_norm"}
#: The method every other is compared with in the paired win counts: the default search.
REFERENCE = "adapted"
#: Each searched method: the library's default search ("adapted": adapted fitness,
#: tournament, random-order repair, uniform mask seeded) or a variant of the paper's
#: (SearchConfig.paper: the paper's F, roulette, L1-ordered repair) with these changes.
SEARCH_VARIANTS = {"adapted": ("default", {}),
                   "paper": ("paper", {}),
                   "pixel_fitness": ("paper", {"perceptual": "pixel"}),
                   "single_generator": ("paper", {"lambda_cycle": 0.0}),
                   "tied_layout": ("paper", {"layout": "tied"}),
                   "supernet": ("default", {"fitness": "supernet"})}
BUDGET_MEASURES = ("parameters", "macs")


@dataclass
class Context:
    """What every task shares: the original CycleGAN, the data, the trained judge (None when
    not trained yet), torch settings and the supernet pair (a CycleGAN of once-for-all
    generators; None when no supernet method runs). ``originals`` (the original's test
    translations) is filled lazily in each process."""

    gan: CycleGAN
    data: DomainData
    judge: Judge | None
    device: str = "cpu"
    threads: int = 1
    originals: dict | None = field(default=None, repr=False)
    supernet: CycleGAN | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["originals"] = None
        return state

    def weights(self, source: str) -> CycleGAN:
        """The generators masks are slimmed from: ``"original"`` or ``"supernet"``."""
        if source == "original":
            return self.gan
        if source == "supernet" and self.supernet is not None:
            return self.supernet
        raise ValueError(f"no {source!r} weights in this context")

    def original_outputs(self) -> dict:
        if self.originals is None:
            self.originals = translations(self.gan, self.data)
        return self.originals


def image_pool(data: DomainData) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of each domain that searches draw their scoring and adaptation images from:
    the in-memory training images of the synthetic data, else the validation images."""
    return data.train if isinstance(data.train, tuple) else (data.val_a, data.val_b)


def bits_str(bits: Iterable[int]) -> str:
    """A mask as a compact string of 0/1 characters (for results.json)."""
    return "".join("1" if b else "0" for b in bits)


def str_bits(text: str) -> list[int]:
    return [1 if c == "1" else 0 for c in text]


def spaces(gan: CycleGAN, layout: str) -> tuple[MaskSpace, MaskSpace]:
    """The mask spaces of both generators in ``layout`` ("independent" or "tied")."""
    return space_of(gan.g_a, layout=layout), space_of(gan.g_b, layout=layout)


def mask_sizes(gan: CycleGAN, layout: str, masks: dict) -> dict:
    """Size ratio of each generator's mask in parameters and MACs (transposed convs at output
    positions), plus the pair's ratio of summed parameters."""
    out, total, full = {}, 0, 0
    for name, space in zip(("A", "B"), spaces(gan, layout)):
        bits = str_bits(masks[name])
        out[name] = {m: space.size_ratio(bits, m) for m in BUDGET_MEASURES}
        total += space.size(bits, "parameters")
        full += space.size(space.full(), "parameters")
    out["pair_parameters"] = total / full
    return out


def _within(make: Callable[[str], list[int]]) -> list[int]:
    """The channel-wise AND of a baseline's masks at one budget in parameters and in MACs
    (both keep a per-group prefix of one ranking, so the AND meets both budgets)."""
    masks = [make(measure) for measure in BUDGET_MEASURES]
    return [int(all(col)) for col in zip(*masks)]


def baseline_masks(gan: CycleGAN, method: str, budget: float, seed: int,
                   like: dict | None = None) -> dict:
    """``{"A": bits, "B": bits}`` (strings) of a conventional baseline at ``budget`` in both
    parameters and MACs; ``random`` copies the per-group counts of ``like`` (the reference
    search's result), drawing channels with ``seed``. ``l1_norm`` ranks the channels of
    ``gan``'s weights (pass the supernet pair for ``supernet_l1``); the supernet baselines
    are the conventional ones by name."""
    method = SUPERNET_BASELINES.get(method, method)
    out = {}
    for name, g, space in zip(("A", "B"), (gan.g_a, gan.g_b), spaces(gan, "independent")):
        if method == "l1_norm":
            bits = _within(functools.partial(l1_norm_mask, g, space, budget))
        elif method == "uniform":
            bits = _within(functools.partial(uniform_mask, space, budget))
        elif method == "random":
            bits = random_mask_like(space, str_bits(like[name]), seed=seed * 2 + len(out))
        else:
            raise ValueError(f"unknown baseline {method!r}")
        out[name] = bits_str(bits)
    return out


def flat_quality(ctx: Context, g_a: torch.nn.Module, g_b: torch.nn.Module) -> dict:
    """Quality of a generator pair on the test images as one flat dict of floats: outline
    measures (when outlines are known), the judge's success / target probability / Fréchet
    distance per direction, SSIM and PSNR to the original's translations, and the means over
    both directions (``judge_target_probability``, ``judge_frechet``, ``ssim``)."""
    data, out = ctx.data, translations((g_a, g_b), ctx.data)
    ref = ctx.original_outputs()
    q: dict = {}
    if data.outlines_a is not None:
        q.update(outline_scores(out["a2b"], data.outlines_a, out["b2a"], data.outlines_b))
    for d, target, real in (("a2b", "B", data.test_b), ("b2a", "A", data.test_a)):
        if ctx.judge is not None:
            s = judge_scores(ctx.judge, out[d], target, real)
            for k in ("judge_success", "judge_target_probability", "judge_frechet"):
                q[f"{d}_{k}"] = s[k]
        f = fidelity_scores(out[d], ref[d])
        q[f"{d}_ssim"], q[f"{d}_psnr_db"] = f["ssim"], f["psnr_db"]
    for k in ("judge_target_probability", "judge_frechet", "ssim"):
        if f"a2b_{k}" in q:
            q[k] = (q[f"a2b_{k}"] + q[f"b2a_{k}"]) / 2
    return {k: float(v) for k, v in q.items()}


@dataclass
class SearchTask:
    """One mask search: ``method`` (a key of SEARCH_VARIANTS) at ``budget`` (None: γ alone)."""

    method: str
    budget: float | None
    seed: int
    config: dict

    @property
    def key(self) -> tuple:
        gamma = None if self.budget is not None else self.config.get("gamma")
        return ("search", self.method, self.budget, gamma, self.seed)

    def run(self, ctx: Context) -> dict:
        started = time.perf_counter()
        preset, changes = SEARCH_VARIANTS[self.method]
        make = SearchConfig.paper if preset == "paper" else SearchConfig
        config = make(**{**self.config, **changes, "budget": self.budget, "seed": self.seed,
                         "budget_measures": BUDGET_MEASURES})
        g = ctx.gan
        supernets = {}
        if config.fitness == "supernet":
            supernets = {"A": ctx.weights("supernet").g_a, "B": ctx.weights("supernet").g_b}
        task = Task.pair(g.g_a, g.g_b, *image_pool(ctx.data),
                         discriminators={"A": g.d_a, "B": g.d_b}, supernets=supernets)
        result = search(task, config, RunOptions(device=ctx.device, progress=False))
        return {"masks": {n: bits_str(m) for n, m in result.masks.items()},
                "layout": config.layout, "terms": dict(result.terms),
                "config": config.to_dict(), "seconds": time.perf_counter() - started}


def curve_points(steps: int) -> list[int]:
    """Fine-tuning steps at which quality is measured: 0, a quarter, half, all."""
    return sorted({0, steps // 4, steps // 2, steps}) if steps > 0 else [0]


@dataclass
class FinetuneTask:
    """Slim a pair of masks from the original (``source="original"``) or the supernet
    (``"supernet"``) weights, fine-tune it (``steps``, batch ``batch_size``, distillation
    weight ``distill`` toward the ORIGINAL generators) and measure quality at
    :func:`curve_points`."""

    masks: dict
    layout: str
    steps: int
    distill: float
    seed: int
    batch_size: int
    key: tuple = ()
    source: str = "original"

    def run(self, ctx: Context) -> dict:
        started = time.perf_counter()
        gan, weights = ctx.gan, ctx.weights(self.source)
        pair = [slim(g, str_bits(self.masks[n]), s).eval()
                for n, g, s in zip(("A", "B"), (weights.g_a, weights.g_b),
                                   spaces(gan, self.layout))]
        points = curve_points(self.steps)
        curve = [{"step": 0, **flat_quality(ctx, *pair)}]
        if self.steps > 0:
            every = math.gcd(*points[1:]) if len(points) > 1 else self.steps

            def on_log(step: int, _logs: dict) -> None:
                if step in points:
                    curve.append({"step": step, **flat_quality(ctx, *pair)})
                    for g in pair:
                        g.train()

            # the L1 recipe the stored results were computed with
            config = CycleGANConfig(steps=self.steps, distill_weight=self.distill,
                                    batch_size=self.batch_size, seed=self.seed,
                                    log_every=every, distill=DistillLoss.l1_only())
            finetune_pair(gan, *pair, ctx.data, config,
                          RunOptions(device=ctx.device, progress=False, callback=on_log))
        return {"curve": curve, "seconds": time.perf_counter() - started}


_WORKER_CONTEXT: Context | None = None


def _init_worker(ctx: Context) -> None:
    global _WORKER_CONTEXT
    torch.set_num_threads(ctx.threads)
    _WORKER_CONTEXT = ctx


def _run_in_worker(task) -> dict:
    return task.run(_WORKER_CONTEXT)


def run_tasks(tasks: list, ctx: Context, workers: int,
              done: Callable[[object, dict], None]) -> None:
    """Run ``tasks`` (each with ``run(ctx)``), calling ``done(task, result)`` as each ends:
    in this process for ``workers`` <= 1, else in a pool of spawned processes."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            done(task, task.run(ctx))
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=_init_worker, initargs=(ctx,)) as pool:
        futures = {pool.submit(_run_in_worker, t): t for t in tasks}
        for future in as_completed(futures):
            done(futures[future], future.result())

"""The stages of a compression run: search, slim, fine-tune, evaluate, export. Each reads its
inputs from the run folder (the earlier stages' files) and writes its results there, so a
stage run after a restart sees exactly what an uninterrupted run would."""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import torch

from ..core.maskspace import MaskSpace
from ..domains import DomainData, folder_data, synthetic_data
from ..evolution.task import Task
from ..imagerange import InputRange
from ..nets.checkpoints import (
    CycleGAN,
    architecture_of,
    atomic_write_json,
    load_cyclegan,
    load_generator,
    save_generator,
)
from ..outputs import staged_folder
from ..runoptions import RunOptions
from .config import CompressConfig, CompressError

if TYPE_CHECKING:
    from ..evolution.front import FrontResult
    from ..evolution.front_config import FrontConfig
    from ..evolution.search_config import SearchConfig

#: files and folders of each stage in the run folder (removed when it is redone)
STAGE_FILES = {
    "search": ("search_state.json", "masks.json", "fitness.png", "front.json", "front.png"),
    "slim": ("slim",),
    "finetune": ("finetune_state.pt", "finetuned", "data"),
    "evaluate": ("evaluation.json", "samples.png", "kept_channels.png"),
    "export": ("export",),
}


class RunContext:
    """What the stages share: the settings, the run folder, the models and data (loaded once,
    on first use), progress output and the stop request of Ctrl-C / SIGTERM."""

    def __init__(self, config: CompressConfig, out: Path, progress: bool,
                 say: Callable[[str], None],
                 on_step: Callable[[str, int], None] | None = None) -> None:
        self.config, self.out, self.progress, self.say = config, out, progress, say
        self.on_step = on_step
        self.stage: str | None = None
        self.stop_requested = False
        self._calls = 0
        self._gan: CycleGAN | None = None
        self._original: torch.nn.Module | None = None
        self._data: DomainData | None = None

    # -- stop requests ------------------------------------------------------------------------
    def begin(self, stage: str) -> None:
        self.stage, self._calls = stage, 0

    def _tick(self) -> None:
        self._calls += 1
        if self.on_step is not None:
            self.on_step(self.stage or "", self._calls)

    def after_generation(self, *_args: Any) -> None:
        """The search's callback: runs after every generation (its checkpoint written);
        raises KeyboardInterrupt when a stop was asked for."""
        self._tick()
        if self.stop_requested:
            raise KeyboardInterrupt(f"stopped in stage {self.stage}")

    def stop(self) -> bool:
        """Fine-tuning's ``stop()``: asked after every step; True writes its checkpoint."""
        self._tick()
        return self.stop_requested

    # -- models and data ----------------------------------------------------------------------
    @property
    def input_range(self) -> InputRange:
        """The range the generators take their images in (``input_range``; default -1,1)."""
        return InputRange.parse(self.config.input_range)

    @property
    def range_entry(self) -> dict:
        """``{"input_range": text}``, recorded in every file that describes a generator."""
        return self.input_range.to_dict()

    @property
    def data(self) -> DomainData:
        if self._data is None:
            c = self.config
            n_val = c.n_images + c.adapt_images
            if c.dataroot:
                self._data = folder_data(c.dataroot, c.image_size or 256, n_val=n_val,
                                         seed=c.seed, n_test=c.n_test,
                                         input_range=self.input_range)
            else:
                self._data = synthetic_data(c.n_train, c.n_test, c.image_size or 64,
                                            seed=c.seed, n_val=n_val,
                                            input_range=self.input_range)
        return self._data

    @property
    def gan(self) -> CycleGAN:
        """The original CycleGAN (``checkpoints`` or the shipped teacher)."""
        if self._gan is None:
            c = self.config
            if c.checkpoints:
                self._gan = load_cyclegan(c.checkpoints, c.epoch, c.device)
            else:
                from ..teacher import load_teacher
                self._gan = load_teacher(c.device)
        return self._gan

    def gan_with_discriminators(self) -> CycleGAN:
        """The original CycleGAN, its missing discriminators fitted against the frozen
        generators (seeded)."""
        from ..training.pair import ensure_discriminators
        if not self.gan.has_discriminators:
            self.say("fitting discriminators against the frozen generators ...")
            self._gan = ensure_discriminators(self.gan, self.data, seed=self.config.seed,
                                              device=self.config.device,
                                              progress=self.progress)
        return self.gan

    @property
    def architecture(self) -> dict:
        c = self.config
        return architecture_of(cast(str, c.generator), c.generator_kwargs)

    @property
    def original(self) -> torch.nn.Module:
        """The user's generator (``generator`` with ``weights``)."""
        if self._original is None:
            self._original = load_generator(cast(str, self.config.weights), self.config.device,
                                            self.architecture)
        return self._original

    def originals(self) -> dict[str, torch.nn.Module]:
        """The generators being compressed, by name: the user's (``generator`` with
        ``weights``; "A") or the CycleGAN's G_A and G_B."""
        if self.config.generator:
            return {"A": self.original}
        return {"A": self.gan.g_a, "B": self.gan.g_b}

    @property
    def source(self) -> dict:
        """What the run's files record of the generators' class and weights (the user's
        generator: ``architecture`` and ``weights``; the CycleGAN: nothing)."""
        c = self.config
        return {"architecture": self.architecture, "weights": str(c.weights)} \
            if c.generator else {}

    def task(self, fitness: str) -> Task:
        """The search's task: :meth:`originals` with their search images
        (:func:`search_images`) and, for the CycleGAN, its discriminators (fitted first when
        the paper's ``fitness`` scores with them)."""
        if fitness == "paper" and not self.config.generator:
            self.gan_with_discriminators()
        nets = self.originals()
        images = {"A": self.data.val_a, "B": self.data.val_b}
        judges = {} if self.config.generator else {"A": self.gan.d_a, "B": self.gan.d_b}
        return Task(nets, {n: search_images(self.config, images[n]) for n in nets}, judges,
                    input_range=self.input_range)

    def load_folder(self, name: str) -> dict[str, torch.nn.Module]:
        """The generators of the run folder's ``slim`` or ``finetuned`` folder."""
        named = self.source.get("architecture")
        return {n: load_generator(self.out / name / f"slim_G_{n}.pth", self.config.device,
                                  named).eval()
                for n in self.originals()}

    def masks(self) -> dict[str, tuple[MaskSpace, list[int]]]:
        """``{name: (space, bits)}`` of ``masks.json``."""
        path = self.out / "masks.json"
        try:
            data = json.loads(path.read_text())
            return {n: (MaskSpace.from_dict(data["spaces"][n]), list(data["masks"][n]))
                    for n in self.originals()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CompressError(f"{path}: cannot read the searched masks ({exc}); redo the "
                                "search with --restart-from search") from None


# -- search ------------------------------------------------------------------------------------
def search_config(config: CompressConfig) -> SearchConfig:
    """The :class:`SearchConfig` of a single-budget search."""
    from ..evolution.search_config import SearchConfig
    make = SearchConfig.paper if config.fitness == "paper" else SearchConfig
    if config.widths:
        make = SearchConfig.widths
    size = config.size_budget()
    budget: dict[str, Any] = {"budget": None if size == 1 else size}
    if config.latency_budget() is not None:
        budget["budget_measures"] = ("latency",)
    return make(population=config.population, generations=config.generations,
                adapt_steps=config.adapt_steps, n_images=config.n_images,
                adapt_images=config.adapt_images, round_to=config.round_to, seed=config.seed,
                **budget)


def search_images(config: CompressConfig, images: torch.Tensor) -> torch.Tensor:
    """``images`` ``[N, C, H, W]`` (in the range ``input_range``) at the search's scoring
    size (``search_size``; for one generator of the user's class without it, 64 or the
    images' own if smaller), resized with antialiasing when it differs."""
    from ..evolution.search_config import GENERATOR_SEARCH_SIZE
    size = config.search_size or (min(GENERATOR_SEARCH_SIZE, images.shape[-1])
                                  if config.generator else None)
    if size is None or size == images.shape[-1]:
        return images
    value = InputRange.parse(config.input_range)
    resized = torch.nn.functional.interpolate(value.to_signed(images), size=(size, size),
                                              mode="bilinear", antialias=True,
                                              align_corners=False).clamp(-1, 1)
    return value.from_signed(resized)


def run_search(ctx: RunContext) -> None:
    """Masks of the generators, checkpointed every generation; writes ``masks.json`` and
    ``fitness.png`` (with ``front``: ``front.json`` and ``front.png``, ``masks.json`` holding
    the chosen point)."""
    from ..evolution.front import FrontResult
    from ..evolution.search import search
    from ..plotting import plot_fitness
    c, out = ctx.config, ctx.out
    config = front_config(c) if c.front else search_config(c)
    task = ctx.task(config.fitness)
    if c.latency_budget() is not None:
        task = task.with_latency(out / "latency.json", c.latency_size, c.runtime, 1,
                                 config.layout, ctx.progress)
    result = search(task, config, RunOptions(
        device=c.device, progress=ctx.progress, workers=c.workers,
        checkpoint=out / "search_state.json", resume=True, callback=ctx.after_generation))
    if isinstance(result, FrontResult):
        _write_front(ctx, result)
        return
    atomic_write_json(out / "masks.json", {**result.to_dict(), **ctx.source, **ctx.range_entry})
    plot_fitness(result.logbook, out / "fitness.png", title=f"search on {ctx.data.name}",
                 config=config.to_dict())


def front_config(config: CompressConfig) -> FrontConfig:
    """The :class:`FrontConfig` of a front search."""
    from ..evolution.front_config import FrontConfig
    return FrontConfig(population=config.population, generations=config.generations,
                       size_range=cast(tuple[float, float], tuple(config.size_range)),
                       adapt_steps=config.adapt_steps, n_images=config.n_images,
                       adapt_images=config.adapt_images, seed=config.seed)


def _write_front(ctx: RunContext, result: FrontResult) -> None:
    """``front.json``, its plots, and ``masks.json`` holding the point chosen by
    ``size_target`` (default: the knee)."""
    from ..evolution.pareto import choose_point
    from ..plotting import plot_front, plot_front_progress
    c, out = ctx.config, ctx.out
    front = {**result.to_dict(), **ctx.range_entry}
    try:
        point = choose_point(front["points"], at_size=c.size_target, default=result.chosen)
    except ValueError as exc:
        raise CompressError(f"size_target {c.size_target}: {exc}") from None
    atomic_write_json(out / "front.json", front)
    plot_front(front, out / "front.png", chosen=point)
    plot_front_progress(result.logbook, out / "fitness.png", config=front["config"],
                        title=f"front search on {ctx.data.name}")
    chosen = front["points"][point]
    atomic_write_json(out / "masks.json", {
        "masks": {n: chosen[n] for n in result.spaces}, "spaces": front["spaces"],
        "front_point": point, "values": chosen["values"], "config": front["config"],
        **ctx.source, **ctx.range_entry})


# -- slim --------------------------------------------------------------------------------------
def run_slim(ctx: RunContext) -> None:
    """Physically smaller generators from the masks, initialised from the kept weights:
    ``slim/slim_G_{A,B}.pth``."""
    from ..nets.slimming import slim
    masks = ctx.masks()
    # a generator of the user's class is saved with its architecture and mask (the upstream
    # ResNet reads back from its weights alone; space and bits are then not recorded)
    architecture = ctx.architecture if ctx.config.generator else None
    with staged_folder(ctx.out / "slim") as stage:
        for name, original in ctx.originals().items():
            space, bits = masks[name]
            save_generator(slim(original, bits, space), stage / f"slim_G_{name}.pth",
                           ctx.range_entry, architecture=architecture, space=space, bits=bits)


# -- fine-tune ---------------------------------------------------------------------------------
def run_finetune(ctx: RunContext) -> None:
    """The slim generators fine-tuned (the pair: CycleGAN losses and distillation; one
    generator: distillation on the training folder), checkpointed every
    ``checkpoint_every`` steps and when stopped: ``finetuned/slim_G_{A,B}.pth``."""
    c, out = ctx.config, ctx.out
    smalls = ctx.load_folder("slim")
    state = out / "finetune_state.pt"
    extra: dict = {"finetune_steps": c.finetune_steps, **ctx.range_entry}
    masks = ctx.masks()
    # a generator alone is distilled; a pair trains together (the cycle losses tie G_A to
    # G_B), as a search evolves one population or co-evolves two
    if c.finetune_steps > 0 and len(smalls) == 1:
        extra["best"] = _distill_alone(ctx, smalls["A"], state, masks["A"])
    elif c.finetune_steps > 0:
        from ..runoptions import RunOptions
        from ..training.config import CycleGANConfig
        from ..training.pair import finetune_pair
        loss = c.distill_loss()
        config = CycleGANConfig(steps=c.finetune_steps, batch_size=c.batch_size,
                                seed=c.seed, distill_weight=c.distill, val_every=c.val_every,
                                checkpoint_every=c.checkpoint_every, distill=loss)
        if c.lr is not None:
            config = replace(config, lr=c.lr)
        options = RunOptions(device=c.device, progress=ctx.progress, checkpoint=state,
                             resume=True)
        finetune_pair(ctx.gan_with_discriminators(), smalls["A"], smalls["B"], ctx.data,
                      config, options, stop=ctx.stop,
                      masks=[masks[n] for n in "AB"] if loss.feature > 0 else None)
    # as in run_slim: a generator of the user's class is saved with its architecture and mask
    architecture = ctx.architecture if c.generator else None
    with staged_folder(out / "finetuned") as stage:
        for name, g in smalls.items():
            space, bits = masks[name]
            save_generator(g, stage / f"slim_G_{name}.pth", extra=extra,
                           architecture=architecture, space=space, bits=bits)


def _distill_alone(ctx: RunContext, student: torch.nn.Module, state: Path,
                    mask: tuple[MaskSpace, list[int]]) -> dict | None:
    from ..runoptions import RunOptions
    from ..streams import write_images
    from ..training.distill import Teacher, distill_generator
    from ..training.distill_config import DistillConfig
    c = ctx.config
    if c.dataroot:
        source = Path(c.dataroot) / "trainA"
        count = sum(1 for _ in source.iterdir()) if source.is_dir() else 0
    else:
        source = ctx.out / "data" / "trainA"
        images = ctx.data.train[0]
        if not source.is_dir() or len(list(source.iterdir())) != len(images):
            write_images(images, source, ctx.input_range)
        count = len(images)
    config = DistillConfig(steps=c.finetune_steps, batch_size=c.batch_size,
                           image_size=c.image_size or (256 if c.dataroot else 64),
                           val_images=min(16, count // 4), val_every=c.val_every,
                           checkpoint_every=c.checkpoint_every, workers=c.workers, seed=c.seed,
                           loss=c.distill_loss(), augment=c.augment(),
                           warmup_steps=c.warmup_steps, ema=c.ema)
    if c.lr is not None:
        config = replace(config, lr=c.lr)
    options = RunOptions(device=c.device, progress=ctx.progress, checkpoint=state, resume=True,
                         callback=lambda _step, _logs: ctx.stop())
    result = distill_generator(student, Teacher(ctx.original, mask, ctx.input_range), source,
                               config, options)
    student.eval()
    return result.best


# -- evaluate ----------------------------------------------------------------------------------
def run_evaluate(ctx: RunContext) -> None:
    """Sizes, latency side by side and quality of the original, the slim generators straight
    after slimming ("searched") and the fine-tuned ones ("pruned"): ``evaluation.json``,
    ``samples.png`` and ``kept_channels.png``."""
    from ..generator_reports import generator_report, single_generator_report
    from ..metrics.evaluation import translate
    from ..plotting import kept_channels, plot_kept_channels, plot_samples
    from ..report import quality_report, single_quality_report
    c, out, data = ctx.config, ctx.out, ctx.data
    originals = ctx.originals()
    searched, tuned = ctx.load_folder("slim"), ctx.load_folder("finetuned")
    masks = ctx.masks()
    own = ctx.architecture if c.generator else None  # the user's class, else upstream ResNets
    summary: dict = {"data": data.name, "image_size": data.image_size, "device": c.device,
                     **ctx.range_entry}
    # each generator's direction, its arrow and the test images of its source domain
    tests = {"A": ("a2b", "A→B", data.test_a), "B": ("b2a", "B→A", data.test_b)}
    outputs = {kind: {tests[n][0]: translate(nets[n], tests[n][2]) for n in originals}
               for kind, nets in (("original", originals), ("searched", searched),
                                  ("pruned", tuned))}
    rows: dict[str, torch.Tensor] = {}
    reports = {}
    for n, original in originals.items():
        direction, arrow, images = tests[n]
        rows.update({f"input {n}": images, f"original {arrow}": outputs["original"][direction],
                     f"slim {arrow}": outputs["pruned"][direction]})
        space, bits = masks[n]  # own class: sizes from its mask space; ResNet: its widths
        reports[f"G_{n}"] = (
            single_generator_report(original, tuned[n], space, bits, data.image_size,
                                    c.repeats, c.device, ctx.input_range) if own is not None
            else generator_report(original, tuned[n], data.image_size, [data.image_size],
                                  repeats=c.repeats, device=c.device,
                                  input_range=ctx.input_range))
    if own is not None:
        summary.update(architecture=own["class"], arguments=own["kwargs"])
    if len(reports) == 1:  # one direction: fidelity to the original's outputs
        summary.update(generator=reports["G_A"],
                       quality=single_quality_report(outputs["original"]["a2b"],
                                                     outputs["pruned"]["a2b"],
                                                     input_range=ctx.input_range))
    else:  # both directions: the offline judge of both domains too
        summary["quality"] = quality_report(data, outputs, seed=c.seed,
                                            judge_steps=c.judge_steps, progress=ctx.progress)
        summary["generators"] = reports
    summary["kept"] = {f"G_{n}": kept_channels(space, bits) for n, (space, bits) in masks.items()}
    plot_samples({k: ctx.input_range.to_signed(v) for k, v in rows.items()},
                 out / "samples.png")
    plot_kept_channels(summary["kept"], out / "kept_channels.png")
    atomic_write_json(out / "evaluation.json", summary)


# -- export ------------------------------------------------------------------------------------
def run_export(ctx: RunContext) -> None:
    """The fine-tuned generators as ONNX (dynamic batch, height and width) and TorchScript,
    each checked against eager PyTorch within ``tolerance``; with ``int8`` also the static
    int8 ONNX file, checked on held-out images. ``export/`` with ``export.json``."""
    from ..export import export_generator, verify_export
    c, data = ctx.config, ctx.data
    tuned = ctx.load_folder("finetuned")
    size = data.image_size
    record: dict = {}
    with staged_folder(ctx.out / "export") as stage:
        for name, g in tuned.items():
            entry: dict[str, Any] = {}
            formats: tuple[tuple[Literal["onnx", "torchscript"], str], ...] = (
                ("onnx", ".onnx"), ("torchscript", ".torchscript.pt"))
            for fmt, suffix in formats:
                path = stage / f"G_{name}{suffix}"
                info = export_generator(g, path, fmt, size, c.opset,
                                        input_range=ctx.input_range)
                diff = verify_export(path, g, size, 2, fmt=fmt, input_range=ctx.input_range)
                if not diff <= c.tolerance:
                    raise CompressError(f"G_{name}{suffix}: export differs from eager PyTorch "
                                        f"by {diff:.3g} (above tolerance {c.tolerance:g})")
                entry[fmt] = {"file": path.name, "bytes": info["bytes"], "max_abs_diff": diff}
            if c.int8:
                entry["int8"] = _int8(ctx, name, g, stage)
            record[f"G_{name}"] = entry
        atomic_write_json(stage / "export.json", {"image_size": size, "opset": c.opset,
                                                  "tolerance": c.tolerance,
                                                  **ctx.range_entry, "generators": record})


def _int8(ctx: RunContext, name: str, generator: torch.nn.Module, stage: Path) -> dict:
    """``G_<name>.int8.onnx`` of ``generator``: calibrated on 16 validation images of its
    source domain, checked on 8 test images against its original."""
    from ..quantization import Int8Config, export_int8
    data = ctx.data
    source, test = {"A": (data.val_a, data.test_a), "B": (data.val_b, data.test_b)}[name]
    path = stage / f"G_{name}.int8.onnx"
    result = export_int8(generator, path, source[:16], test[:8],
                         copy.deepcopy(ctx.originals()[name]),
                         Int8Config(opset=ctx.config.opset), progress=ctx.progress,
                         input_range=ctx.input_range)
    return {"file": path.name, "bytes": result.bytes, "check": result.check,
            "float_layers": result.float_layers}


STAGE_FUNCTIONS = {"search": run_search, "slim": run_slim, "finetune": run_finetune,
                   "evaluate": run_evaluate, "export": run_export}

"""Settings of :func:`deap_gan_prune.compression.compress`: one flat dataclass, the stages
each setting belongs to, and reading and writing them as TOML (or YAML, when PyYAML is
installed)."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..configs import RUNTIME, ConfigError, same_as, setting, shown, to_dict, validate
from ..evolution.search_config import (
    DEFAULT_BUDGET,
    GENERATOR_SPEEDUP,
    FitnessSettings,
    SearchConfig,
)
from ..streams import Augment
from ..training.distill_config import DistillConfig, DistillLoss

#: the stages of a run, in order
STAGES = ("search", "slim", "finetune", "evaluate", "export")


#: the compress setting of each field of DistillLoss and Augment whose name differs
_TERM_SETTINGS = {"l1": "distill_l1", "ssim": "distill_ssim", "gradient": "distill_gradient",
                  "feature": "distill_feature"}


class CompressError(ValueError):
    """A compression run that cannot start or go on; the message names the file or setting."""


@dataclass
class CompressConfig:
    """What :func:`compress` does. Model: ``checkpoints`` (an upstream folder; None: the
    teacher shipped in the package) or ``generator`` (``pkg.module:Class``, with
    ``generator_kwargs``) and ``weights`` (one generator of the user's class). Data:
    ``dataroot`` (``trainA/trainB/testA/testB``; None: the embedded synthetic data),
    ``image_size`` (None: 64 synthetic, 256 for a folder), ``n_train``/``n_test`` (synthetic
    images; ``n_test`` also caps a folder's test images). Search: a single ``budget`` (size
    ratio, e.g. 0.25 = 4x smaller) or, with ``front``, the Pareto front over ``size_range``
    and its best point within ``size_target``; ``variation`` "widths" (the width search,
    :meth:`SearchConfig.widths`), "channels" (bit-string variation) or "auto" (widths for
    one generator of the user's class at a budget, channels otherwise); ``search_size``:
    pixels the candidates are scored at (None: 64 for one generator of the user's class,
    else ``image_size``). Fine-tuning: ``finetune_steps`` (0: none),
    ``distill`` weight (the pair's), ``lr``, ``batch_size``, ``val_every``. Evaluation:
    latency ``repeats``, ``judge_steps``. Export: ONNX ``opset``, the parity ``tolerance``
    and, with ``int8``, the static int8 ONNX file. ``input_range``: the range the generators
    take their images in (:mod:`deap_gan_prune.imagerange`; None: -1,1). ``checkpoint_every``,
    ``workers`` and ``device`` say how, not what: they may change between a run and its
    continuation."""

    checkpoints: str | None = setting(
        None, "upstream folder with latest_net_{G_A,G_B}[,D_A,D_B].pth (default: "
        "the teacher shipped in the package)", metavar="DIR", stage="search")
    epoch: str = setting("latest", "checkpoint prefix, <epoch>_net_G_A.pth", stage="search")
    generator: str | None = setting(
        None, "one generator of your own class, pkg.module:Class, with weights "
        "(default: the upstream ResNet pair)", metavar="PKG.MODULE:CLASS", stage="search")
    generator_kwargs: dict = setting(  # noqa: RUF009 (a field, dict its default_factory)
        dict, "the generator's constructor arguments as a JSON object", metavar="JSON",
        stage="search")
    weights: str | None = setting(None, "with generator: its state dict file", metavar="FILE",
                                  stage="search")
    input_range: str | None = setting(
        None, "the range the generators take their images in and give them back "
        "in: -1,1, 0,1, LOW,HIGH or mean=M[,M,M];std=S[,S,S]; data, measures and exports "
        "follow it, and every generator file records it (default -1,1)", metavar="RANGE",
        stage="search")
    dataroot: str | None = setting(
        None, "image folder with trainA, trainB, testA, testB (default: the "
        "embedded synthetic data)", metavar="DIR", stage="search")
    image_size: int | None = setting(
        None, "pixels, a multiple of 4 (default 64 synthetic, 256 for a dataroot)",
        within="(0, inf)",
        multiple_of=4, stage="search")
    n_train: int = setting(512, "synthetic training images per domain",
                           within="[1, inf)", stage="search")
    n_test: int = setting(64, "test images per domain (synthetic; at most this "
                          "many of a folder)", within="[1, inf)", stage="evaluate")
    seed: int = setting(0, "random seed: the same settings give the same files", stage="search")
    budget: float | None = setting(
        None, "size ratio every candidate meets in parameters and MACs (in "
        "parameters only with the width search) (default 0.25 = 4x smaller; for one "
        "generator of your class a speed-up instead, see speedup)", within="(0, 1]",
        optional=True, stage="search")
    speedup: float | None = setting(
        None, "a latency budget instead of budget: every candidate at most 1/X of "
        "the original's latency as a latency model measured on runtime at latency_size px "
        "predicts (default: 4 for one generator of your class without budget; else none, "
        "budget)", within="(1, inf)", optional=True, stage="search")
    runtime: str = setting(
        "onnx", "what speedup's latency model measures: onnx (ONNX Runtime on the "
        "CPU, one thread), onnx-int8, torch or cuda",
        choices=("onnx", "onnx-int8", "torch", "cuda"), optional=True, stage="search")
    latency_size: int = setting(256, "pixels speedup's latency is measured at",
                                within="[4, inf)", multiple_of=4, optional=True, stage="search")
    variation: str = setting(
        "auto", "widths (the width search), channels (bit-string variation) or "
        "auto (widths for one generator of your class at a budget, else channels)",
        choices=("auto", "widths", "channels"), stage="search")
    search_size: int | None = setting(
        None, "pixels the search scores candidates at (default 64 for one "
        "generator of your class, else image_size)",
        within="(0, inf)", multiple_of=4, stage="search")
    front: bool = setting(False, "search the Pareto front of quality and size "
                          "instead of one budget", stage="search")
    size_target: float | None = setting(
        None, "with front: the best point within this size ratio (default: the "
        "front's point nearest the ideal)", within="(0, 1]", stage="search")
    size_range: tuple[float, float] = setting(
        (0.05, 0.5), "with front: the size ratios the starting masks span", within="(0, 1]",
        metavar=("LOW", "HIGH"), stage="search")
    fitness: str = setting("adapted", "adapted (brief distillation, then L1 on "
                           "held-out images) or paper", choices=("adapted", "paper"),
                           stage="search")
    # the search's settings, declared once in FitnessSettings
    population: int = same_as(FitnessSettings, "population", stage="search")
    generations: int = same_as(FitnessSettings, "generations", stage="search")
    adapt_steps: int = same_as(FitnessSettings, "adapt_steps", stage="search")
    n_images: int = same_as(FitnessSettings, "n_images", stage="search")
    round_to: int = same_as(SearchConfig, "round_to", stage="search")
    adapt_images: int = same_as(FitnessSettings, "adapt_images", stage="search")
    finetune_steps: int = setting(800, "fine-tuning steps (0: none)",
                                  within="[0, inf)", stage="finetune")
    distill: float = setting(10.0, "distillation weight of the pair's "
                             "fine-tuning (0: CycleGAN losses only)",
                             within="[0, inf)", stage="finetune")
    lr: float | None = setting(None, "fine-tuning learning rate (Adam; default 5e-4 for one "
                               "generator's distillation, 2e-4 for a pair's CycleGAN losses)",
                               within="(0, inf)", optional=True, stage="finetune")
    batch_size: int = setting(4, "fine-tuning images a step", within="[1, inf)", stage="finetune")
    val_every: int = setting(100, "fine-tuning steps between validations; the "
                             "best weights are kept", within="[0, inf)", stage="finetune")
    # the fine-tuning's distillation terms, as declared by DistillLoss
    distill_l1: float = same_as(DistillLoss, "l1", stage="finetune", optional=True)
    distill_ssim: float = same_as(DistillLoss, "ssim", stage="finetune", optional=True)
    distill_ms_ssim: bool = same_as(DistillLoss, "ms_ssim", stage="finetune", optional=True)
    ssim_window: int = same_as(DistillLoss, "ssim_window", stage="finetune", optional=True)
    distill_gradient: float = same_as(DistillLoss, "gradient", stage="finetune", optional=True)
    distill_feature: float = same_as(DistillLoss, "feature", stage="finetune", optional=True)
    feature_layers: str = same_as(DistillLoss, "feature_layers", stage="finetune",
                                  optional=True)
    feature_map: str = same_as(DistillLoss, "feature_map", stage="finetune", optional=True)
    # one generator of your class: its fine-tuning's augmentation and schedule, as declared
    # by Augment and DistillConfig
    scale_jitter: tuple[float, float] = same_as(Augment, "scale_jitter", stage="finetune",
                                                optional=True)
    load_sizes: tuple[int, ...] = same_as(Augment, "load_sizes", stage="finetune",
                                          optional=True)
    color_jitter: float = same_as(Augment, "color_jitter", stage="finetune", optional=True)
    warmup_steps: int = same_as(DistillConfig, "warmup_steps", stage="finetune",
                                optional=True)
    ema: float = same_as(DistillConfig, "ema", stage="finetune", optional=True)
    repeats: int = setting(20, "latency runs of original and slim, interleaved",
                           within="[1, inf)", stage="evaluate")
    judge_steps: int = setting(200, "training steps of the offline judge of the "
                               "quality table", within="[0, inf)", stage="evaluate")
    opset: int = setting(17, "ONNX opset", within="[9, 20]", stage="export")
    tolerance: float = setting(1e-4, "largest difference the exported files may "
                               "show against PyTorch", within="(0, inf)", stage="export")
    int8: bool = setting(False, "also a static int8 ONNX file, checked on "
                         "held-out images", stage="export")
    checkpoint_every: int = setting(100, "fine-tuning steps between checkpoints",
                                    within="[1, inf)", stage=RUNTIME)
    workers: int = setting(0, "processes evaluating the search's candidates (0: "
                           "this process)", within="[0, inf)", stage=RUNTIME)
    device: str = setting("cpu", "cpu, cuda, cuda:1, ...", stage=RUNTIME)

    def __post_init__(self) -> None:
        try:
            validate(self)
        except ConfigError as exc:
            said = "expected" if exc.kind == "type" else "must be"
            raise CompressError(f"{exc.name} = {shown(exc.value)}: {said} {exc.need}") from None
        if self.input_range is not None:
            from ..imagerange import InputRange
            try:
                InputRange.parse(self.input_range)
            except ValueError as exc:
                raise CompressError(f"input_range = {shown(self.input_range)}: "
                                    f"{str(exc).split(': ', 1)[-1]}") from None
        self.size_range = tuple(float(v) for v in self.size_range)  # type: ignore[assignment]
        self.scale_jitter = tuple(float(v) for v in self.scale_jitter)  # type: ignore
        self.load_sizes = tuple(self.load_sizes)
        self.generator_kwargs = dict(self.generator_kwargs)
        try:
            self.distill_loss()
            self.augment()
        except ValueError as exc:
            problem = str(exc).split(": ", 1)[-1]
            name = problem.split(" ", 1)[0]
            named = _TERM_SETTINGS.get(name, name)
            raise CompressError(named + problem[len(name):]) from None
        declared = {f.name: f.default for f in fields(self)}
        extra = [name for name in ("scale_jitter", "load_sizes", "color_jitter", "warmup_steps",
                                   "ema") if getattr(self, name) != declared[name]]
        if extra and not self.generator:
            raise CompressError(f"{extra[0]}: only for one generator of your class (generator "
                                "with weights); the pair's fine-tuning takes the loss terms")
        if not self.size_range[0] < self.size_range[1]:
            raise CompressError(f"size_range = {list(self.size_range)}: must be two ratios "
                                "0 < LOW < HIGH <= 1")
        if self.size_target is not None and not self.front:
            raise CompressError("size_target: only with front (the point of the front within "
                                "that size); a single search takes budget")
        if self.speedup is not None and self.front:
            raise CompressError("speedup: a single latency budget, not with front")
        if self.speedup is not None and self.budget is not None:
            raise CompressError("speedup: a latency budget instead of budget; give one of "
                                "them")
        if self.variation == "widths" and (self.front or self.size_budget() == 1):
            raise CompressError("variation = 'widths' moves capacity at one budget below 1: "
                                "not with front or budget 1")
        if self.front and (self.fitness == "paper" or self.generator):
            raise CompressError("front: searches both generators of a CycleGAN with the "
                                "adapted fitness (leave out fitness paper and generator)")
        if self.generator and not self.weights:
            raise CompressError("generator: needs weights (the generator's state dict file)")
        if self.weights and not self.generator:
            raise CompressError("weights: needs generator (the class, pkg.module:Class)")
        if self.generator and self.checkpoints:
            raise CompressError("generator takes weights (one generator), not checkpoints")

    def distill_loss(self):
        """The fine-tuning's :class:`~deap_gan_prune.training.distill_config.DistillLoss`."""
        names = self.feature_layers.strip()
        layers: str | tuple[str, ...] = names if names in ("groups", "blocks") else tuple(
            n.strip() for n in names.split(",") if n.strip())
        return DistillLoss(l1=self.distill_l1, ssim=self.distill_ssim,
                           ms_ssim=self.distill_ms_ssim, ssim_window=self.ssim_window,
                           gradient=self.distill_gradient, feature=self.distill_feature,
                           feature_layers=layers, feature_map=self.feature_map)

    def augment(self):
        """The fine-tuning's :class:`~deap_gan_prune.streams.Augment`."""
        return Augment(scale_jitter=self.scale_jitter, load_sizes=self.load_sizes,
                       color_jitter=self.color_jitter)

    def latency_budget(self) -> float | None:
        """The speed-up the search budgets: ``speedup``, or GENERATOR_SPEEDUP for one
        generator of the user's class given neither budget (not with ``front``); None: a size
        budget."""
        if self.speedup is not None:
            return self.speedup
        if self.budget is None and self.generator and not self.front:
            return GENERATOR_SPEEDUP
        return None

    def size_budget(self) -> float:
        """The size ratio the search budgets: ``budget``, 1 / the speed-up
        (:meth:`latency_budget`), or 0.25."""
        speedup = self.latency_budget()
        if speedup is not None:
            return 1 / speedup
        return DEFAULT_BUDGET if self.budget is None else self.budget

    @property
    def widths(self) -> bool:
        """True when the search is the width search: ``variation`` "widths", or "auto" for
        one generator of the user's class at a budget with the adapted fitness."""
        if self.variation != "auto":
            return self.variation == "widths"
        from ..evolution.search_config import default_variation
        return not self.front and default_variation(bool(self.generator), self.size_budget(),
                                                    self.fitness) == "widths"

    def to_dict(self) -> dict:
        """The settings as plain JSON/TOML values (tuples as lists)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> CompressConfig:
        """Settings from a dict (a config file's): unknown keys are refused, naming them, and
        every value is checked against its field's type and range
        (:func:`~deap_gan_prune.configs.validate`, as any construction does) before anything
        runs, the error naming ``source`` and the key."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise CompressError(f"{source}: unknown setting {unknown[0]!r} (settings: "
                                f"{', '.join(sorted(names))})")
        try:
            return cls(**data)
        except CompressError as exc:
            raise CompressError(f"{source}: {exc}") from None

    def stage_settings(self, stage: str) -> dict:
        """The settings the results of ``stage`` depend on (the earlier stages' results are
        its inputs, so their settings are checked with them)."""
        d, defaults = self.to_dict(), _DEFAULTS.to_dict()
        optional = {f.name for f in fields(self) if f.metadata["optional"]}
        return {key: d[key] for key in STAGE_KEYS[stage]
                if key not in optional or d[key] != defaults[key]}


_DEFAULTS = CompressConfig()

#: the settings each stage's results depend on (their ``stage`` metadata; the others are
#: ``runtime_only``)
STAGE_KEYS = {stage: tuple(f.name for f in fields(CompressConfig)
                           if f.metadata["stage"] == stage) for stage in STAGES}


# -- files ------------------------------------------------------------------------------------
def _toml_value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CompressError(f"{key} = {value}: TOML holds finite numbers only here")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, key) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v, key)}"
                               for k, v in value.items()) + "}"
    raise CompressError(f"{key}: {type(value).__name__} cannot be written as TOML")


def to_toml(config: CompressConfig) -> str:
    """The settings as TOML text, one ``key = value`` a line (unset ones, None, left out)."""
    lines = ["# deap-gan-prune compress settings (read back with --config FILE)"]
    for key, value in config.to_dict().items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(value, key)}")
    return "\n".join(lines) + "\n"


def read_config_file(path: str | os.PathLike) -> dict:
    """The settings of a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file as a dict; a
    one-line CompressError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CompressError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise CompressError(f"{path}: YAML needs PyYAML (pip install pyyaml), or write the "
                                "config as TOML") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            first = (str(exc).strip().splitlines() or ["invalid"])[0]
            raise CompressError(f"{path}: not valid YAML ({first})") from None
        data = {} if data is None else data
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise CompressError(f"{path}: reading TOML on Python 3.10 needs tomli (pip "
                                    "install tomli)") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CompressError(f"{path}: not valid TOML ({exc})") from None
    if not isinstance(data, dict):
        raise CompressError(f"{path}: a config file must hold key = value settings")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def load_config(path: str | os.PathLike, **overrides: Any) -> CompressConfig:
    """The settings of a config file, with ``overrides`` (e.g. from flags) on top."""
    return CompressConfig.from_dict({**read_config_file(path), **overrides}, str(path))

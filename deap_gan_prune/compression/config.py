"""Settings of :func:`deap_gan_prune.compression.compress`: one flat dataclass, the stages
each setting belongs to, and reading and writing them as TOML (or YAML, when PyYAML is
installed)."""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

#: the stages of a run, in order
STAGES = ("search", "slim", "finetune", "evaluate", "export")


#: the compress setting of each field of DistillLoss and Augment whose name differs
_TERM_SETTINGS = {"l1": "distill_l1", "ssim": "distill_ssim", "gradient": "distill_gradient",
                  "feature": "distill_feature", "scale": "scale_jitter",
                  "color": "color_jitter"}


class CompressError(ValueError):
    """A compression run that cannot start or go on; the message names the file or setting."""


#: the ``stage`` of a setting that says how a run goes, not what it makes: it may change
#: between a run and its continuation
RUNTIME = "runtime"


def setting(default: Any, stage: str, help: str, *, low: float | None = None,
            above: float | None = None, high: float | None = None,
            choices: tuple[str, ...] | None = None, optional: bool = False) -> Any:
    """A :class:`CompressConfig` field declared once: its default (a callable for a mutable
    one), the stage whose results depend on it (or :data:`RUNTIME`), its help text and its
    range (``low`` <= value, ``above`` < value, value <= ``high``, one of ``choices``),
    checked by :func:`check_range`. ``optional``: a setting left out of the stage's recorded
    settings while at its default (a term added later: runs recorded before it continue)."""
    metadata = {"stage": stage, "help": help, "low": low, "above": above, "high": high,
                "choices": choices, "optional": optional}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


def check_range(value: Any, metadata: Mapping[str, Any]) -> str | None:
    """What is wrong with ``value`` against a :func:`setting`'s range, or None."""
    if value is None:
        return None
    low, above, high, choices = (metadata.get(k) for k in ("low", "above", "high", "choices"))
    if choices is not None and value not in choices:
        return f"use {', '.join(choices)}"
    if low is not None and value < low:
        return f"must be {low:g} or more"
    if above is not None and not value > above:
        return f"must be above {above:g}"
    if high is not None and value > high:
        return f"must be {high:g} or less"
    return None


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
        None, "search", "upstream folder with latest_net_{G_A,G_B}[,D_A,D_B].pth (default: "
        "the teacher shipped in the package)")
    epoch: str = setting("latest", "search", "checkpoint prefix, <epoch>_net_G_A.pth")
    generator: str | None = setting(
        None, "search", "one generator of your own class, pkg.module:Class, with weights "
        "(default: the upstream ResNet pair)")
    generator_kwargs: dict = setting(  # noqa: RUF009 (a field, dict its default_factory)
        dict, "search", "the generator's constructor arguments as a JSON object")
    weights: str | None = setting(None, "search", "with generator: its state dict file")
    input_range: str | None = setting(
        None, "search", "the range the generators take their images in and give them back "
        "in: -1,1, 0,1, LOW,HIGH or mean=M[,M,M];std=S[,S,S]; data, measures and exports "
        "follow it, and every generator file records it (default -1,1)")
    dataroot: str | None = setting(
        None, "search", "image folder with trainA, trainB, testA, testB (default: the "
        "embedded synthetic data)")
    image_size: int | None = setting(
        None, "search", "pixels, a multiple of 4 (default 64 synthetic, 256 for a dataroot)")
    n_train: int = setting(512, "search", "synthetic training images per domain", low=1)
    n_test: int = setting(64, "evaluate", "test images per domain (synthetic; at most this "
                          "many of a folder)", low=1)
    seed: int = setting(0, "search", "random seed: the same settings give the same files")
    budget: float = setting(
        0.25, "search", "size ratio every candidate meets in parameters and MACs (in "
        "parameters only with the width search) (0.25 = 4x smaller)")
    speedup: float | None = setting(
        None, "search", "a latency budget instead of budget: every candidate at most 1/X of "
        "the original's latency as a latency model measured on runtime at latency_size px "
        "predicts (default: none, budget)", above=1, optional=True)
    runtime: str = setting(
        "onnx", "search", "what speedup's latency model measures: onnx (ONNX Runtime on the "
        "CPU, one thread), onnx-int8, torch or cuda", choices=("onnx", "onnx-int8", "torch",
                                                               "cuda"), optional=True)
    latency_size: int = setting(256, "search", "pixels speedup's latency is measured at",
                                low=4, optional=True)
    variation: str = setting(
        "auto", "search", "widths (the width search), channels (bit-string variation) or "
        "auto (widths for one generator of your class at a budget, else channels)",
        choices=("auto", "widths", "channels"))
    search_size: int | None = setting(
        None, "search", "pixels the search scores candidates at (default 64 for one "
        "generator of your class, else image_size)")
    front: bool = setting(False, "search", "search the Pareto front of quality and size "
                          "instead of one budget")
    size_target: float | None = setting(
        None, "search", "with front: the best point within this size ratio (default: the "
        "front's point nearest the ideal)")
    size_range: tuple[float, float] = setting(
        (0.05, 0.5), "search", "with front: the size ratios the starting masks span")
    fitness: str = setting("adapted", "search", "adapted (brief distillation, then L1 on "
                           "held-out images) or paper", choices=("adapted", "paper"))
    population: int = setting(12, "search", "masks per generator", low=1)
    generations: int = setting(8, "search", "generations of the search", low=0)
    adapt_steps: int = setting(30, "search", "distillation steps per candidate (adapted "
                               "fitness)", low=0)
    n_images: int = setting(16, "search", "held-out images per domain the fitness scores on",
                            low=1)
    adapt_images: int = setting(32, "search", "further images per domain the candidates "
                                "adapt on", low=0)
    finetune_steps: int = setting(800, "finetune", "fine-tuning steps (0: none)", low=0)
    distill: float = setting(10.0, "finetune", "distillation weight of the pair's "
                             "fine-tuning (0: CycleGAN losses only)", low=0)
    lr: float = setting(2e-4, "finetune", "fine-tuning learning rate (Adam)", above=0)
    batch_size: int = setting(4, "finetune", "fine-tuning images a step", low=1)
    val_every: int = setting(100, "finetune", "fine-tuning steps between validations; the "
                             "best weights are kept", low=0)
    distill_l1: float = setting(1.0, "finetune", "weight of the L1 distance to the "
                                "original's output", low=0, optional=True)
    distill_ssim: float = setting(0.0, "finetune", "weight of 1 - SSIM to the original's "
                                  "output (0: off)", low=0, optional=True)
    distill_ms_ssim: bool = setting(False, "finetune", "multi-scale SSIM for that term (needs "
                                    "images above 16 x (ssim_window - 1) px)", optional=True)
    ssim_window: int = setting(11, "finetune", "SSIM's Gaussian window in pixels (odd)",
                               low=3, optional=True)
    distill_gradient: float = setting(0.0, "finetune", "weight of the L1 distance of image "
                                      "gradients (0: off)", low=0, optional=True)
    distill_feature: float = setting(0.0, "finetune", "weight of feature distillation at "
                                     "feature_layers (0: off)", low=0, optional=True)
    feature_layers: str = setting("groups", "finetune", "groups (every channel group's last "
                                  "output), blocks (the network's own blocks) or module "
                                  "names separated by commas", optional=True)
    feature_map: str = setting("kept", "finetune", "student activations against the "
                               "original's kept channels, or through learned 1x1 maps",
                               choices=("kept", "1x1"), optional=True)
    scale_jitter: tuple[float, float] = setting(
        (1.0, 1.0), "finetune", "one generator of your class: the resize before the crop "
        "scaled by a factor drawn from LOW HIGH", optional=True)
    load_sizes: tuple[int, ...] = setting(
        tuple, "finetune", "one generator of your class: sizes the images are resized to "
        "before the crop, one drawn per crop (default: none)", optional=True)
    color_jitter: float = setting(0.0, "finetune", "one generator of your class: "
                                  "brightness, contrast and saturation jitter, below 1",
                                  low=0, optional=True)
    warmup_steps: int = setting(0, "finetune", "one generator of your class: steps of linear "
                                "learning-rate warm-up", low=0, optional=True)
    ema: float = setting(0.0, "finetune", "one generator of your class: decay of the moving "
                         "average of the weights that is validated and kept (0: off), below 1",
                         low=0, optional=True)
    repeats: int = setting(20, "evaluate", "latency runs of original and slim, interleaved",
                           low=1)
    judge_steps: int = setting(200, "evaluate", "training steps of the offline judge of the "
                               "quality table", low=0)
    opset: int = setting(17, "export", "ONNX opset", low=9, high=20)
    tolerance: float = setting(1e-4, "export", "largest difference the exported files may "
                               "show against PyTorch", above=0)
    int8: bool = setting(False, "export", "also a static int8 ONNX file, checked on "
                         "held-out images")
    checkpoint_every: int = setting(100, RUNTIME, "fine-tuning steps between checkpoints",
                                    low=1)
    workers: int = setting(0, RUNTIME, "processes evaluating the search's candidates (0: "
                           "this process)", low=0)
    device: str = setting("cpu", RUNTIME, "cpu, cuda, cuda:1, ...")

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            problem = check_value(value, hints[f.name]) or check_range(value, f.metadata)
            if problem is not None:
                raise CompressError(f"{f.name} = {_shown(value)}: {problem}")
        if self.input_range is not None:
            from ..imagerange import InputRange
            try:
                InputRange.parse(self.input_range)
            except ValueError as exc:
                raise CompressError(f"input_range = {_shown(self.input_range)}: "
                                    f"{str(exc).split(': ', 1)[-1]}") from None
        self.size_range = tuple(float(v) for v in self.size_range)  # type: ignore[assignment]
        self.scale_jitter = tuple(float(v) for v in self.scale_jitter)  # type: ignore
        self.load_sizes = tuple(self.load_sizes)
        try:
            self.distill_loss()
            self.augment()
        except ValueError as exc:
            problem = str(exc).split(": ", 1)[-1]
            name = problem.split(" ", 1)[0]
            named = _TERM_SETTINGS.get(name, name)
            raise CompressError(named + problem[len(name):]) from None
        if not self.ema < 1:
            raise CompressError(f"ema = {self.ema}: must be a decay below 1")
        extra = [name for name, value, default in (
            ("scale_jitter", self.scale_jitter, (1.0, 1.0)), ("load_sizes", self.load_sizes, ()),
            ("color_jitter", self.color_jitter, 0.0), ("warmup_steps", self.warmup_steps, 0),
            ("ema", self.ema, 0.0)) if value != default]
        if extra and not self.generator:
            raise CompressError(f"{extra[0]}: only for one generator of your class (generator "
                                "with weights); the pair's fine-tuning takes the loss terms")
        self.generator_kwargs = dict(self.generator_kwargs)
        if not 0 < self.budget <= 1:
            raise CompressError(f"budget = {self.budget}: must be in (0, 1]")
        low, high = self.size_range
        if len(self.size_range) != 2 or not 0 < low < high <= 1:
            raise CompressError(f"size_range = {list(self.size_range)}: must be two ratios "
                                "0 < LOW < HIGH <= 1")
        if self.size_target is not None and not self.front:
            raise CompressError("size_target: only with front (the point of the front within "
                                "that size); a single search takes budget")
        if self.size_target is not None and not 0 < self.size_target <= 1:
            raise CompressError(f"size_target = {self.size_target}: must be in (0, 1]")
        if self.speedup is not None and self.front:
            raise CompressError("speedup: a single latency budget, not with front")
        if self.latency_size % 4:
            raise CompressError(f"latency_size = {self.latency_size}: must be a multiple of 4")
        if self.variation == "widths" and (self.front or self.budget == 1):
            raise CompressError("variation = 'widths' moves capacity at one budget below 1: "
                                "not with front or budget 1")
        if self.search_size is not None and (self.search_size <= 0 or self.search_size % 4):
            raise CompressError(f"search_size = {self.search_size}: must be a positive "
                                "multiple of 4")
        if self.front and (self.fitness == "paper" or self.generator):
            raise CompressError("front: searches both generators of a CycleGAN with the "
                                "adapted fitness (leave out fitness paper and generator)")
        if self.image_size is not None and (self.image_size <= 0 or self.image_size % 4):
            raise CompressError(f"image_size = {self.image_size}: must be a positive "
                                "multiple of 4")
        if self.generator and not self.weights:
            raise CompressError("generator: needs weights (the generator's state dict file)")
        if self.weights and not self.generator:
            raise CompressError("weights: needs generator (the class, pkg.module:Class)")
        if self.generator and self.checkpoints:
            raise CompressError("generator takes weights (one generator), not checkpoints")

    def distill_loss(self):
        """The fine-tuning's :class:`~deap_gan_prune.training.distill_config.DistillLoss`."""
        from ..training.distill_config import DistillLoss
        names = self.feature_layers.strip()
        layers: str | tuple[str, ...] = names if names in ("groups", "blocks") else tuple(
            n.strip() for n in names.split(",") if n.strip())
        return DistillLoss(l1=self.distill_l1, ssim=self.distill_ssim,
                           ms_ssim=self.distill_ms_ssim, ssim_window=self.ssim_window,
                           gradient=self.distill_gradient, feature=self.distill_feature,
                           feature_layers=layers, feature_map=self.feature_map)

    def augment(self):
        """The fine-tuning's :class:`~deap_gan_prune.streams.Augment`."""
        from ..streams import Augment
        return Augment(scale=self.scale_jitter, load_sizes=self.load_sizes,
                       color=self.color_jitter)

    @property
    def single(self) -> bool:
        """True for one generator of the user's class (``generator`` with ``weights``)."""
        return bool(self.generator)

    @property
    def widths(self) -> bool:
        """True when the search is the width search: ``variation`` "widths", or "auto" for
        one generator of the user's class at a budget with the adapted fitness."""
        if self.variation != "auto":
            return self.variation == "widths"
        from ..evolution.search_config import default_variation
        return not self.front and default_variation(self.single, self.budget,
                                                    self.fitness) == "widths"

    def to_dict(self) -> dict:
        """The settings as plain JSON/TOML values (tuples as lists)."""
        d = asdict(self)
        d["size_range"] = list(self.size_range)
        d["scale_jitter"] = list(self.scale_jitter)
        d["load_sizes"] = list(self.load_sizes)
        return d

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> CompressConfig:
        """Settings from a dict (a config file's): unknown keys are refused, naming them, and
        every value is checked against its field's type (:func:`check_value`, as any
        construction does) and range before anything runs, the error naming ``source`` and
        the key."""
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


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (str, bool, int, float, list, dict)) \
        or value is None else repr(value)


def check_value(value: Any, hint: Any) -> str | None:
    """What is wrong with ``value`` as a value of the type ``hint`` (bool, int, float, str,
    None, ``X | None``, ``tuple[X, ...]``, ``dict``), or None. A bool is not a number, a
    string is not a bool, and a float must be finite."""
    options = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    problems = [check_one(value, t) for t in options]
    if all(p is not None for p in problems):
        return next(p for p in problems if p != "expected null")
    return None


def check_one(value: Any, hint: Any) -> str | None:
    origin = get_origin(hint)
    if hint is type(None):
        return None if value is None else "expected null"
    if hint is bool:
        return None if isinstance(value, bool) else "expected true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) \
            else "expected a whole number"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "expected a number"
        return None if math.isfinite(value) else "expected a finite number"
    if hint is str:
        return None if isinstance(value, str) else "expected a string"
    if hint is dict or origin is dict:
        return None if isinstance(value, dict) else "expected a table of key = value"
    if origin is tuple:
        items = get_args(hint)
        if not isinstance(value, (list, tuple)) or (
                Ellipsis not in items and len(value) != len(items)):
            return f"expected a list of {len(items)} values"
        kinds = [items[0]] * len(value) if Ellipsis in items else list(items)
        return next((f"item {i + 1}: {p}" for i, (v, t) in enumerate(zip(value, kinds))
                     if (p := check_one(v, t)) is not None), None)
    raise TypeError(f"no check for the type {hint!r}")


_DEFAULTS = CompressConfig()

#: the settings each stage's results depend on (their ``stage`` metadata)
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

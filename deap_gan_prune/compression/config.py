"""Settings of :func:`deap_gan_prune.compression.compress`: one flat dataclass, the stages
each setting belongs to, and reading and writing them as TOML (or YAML, when PyYAML is
installed)."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

#: the stages of a run, in order
STAGES = ("search", "slim", "finetune", "evaluate", "export")


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
    and, with ``int8``, the static int8 ONNX file. ``checkpoint_every``, ``workers`` and
    ``device`` say how, not what: they may change between a run and its continuation."""

    checkpoints: str | None = None
    epoch: str = "latest"
    generator: str | None = None
    generator_kwargs: dict = field(default_factory=dict)
    weights: str | None = None
    dataroot: str | None = None
    image_size: int | None = None
    n_train: int = 512
    n_test: int = 64
    seed: int = 0
    budget: float = 0.25
    variation: str = "auto"
    search_size: int | None = None
    front: bool = False
    size_target: float | None = None
    size_range: tuple[float, float] = (0.05, 0.5)
    fitness: str = "adapted"
    population: int = 12
    generations: int = 8
    adapt_steps: int = 30
    n_images: int = 16
    adapt_images: int = 32
    finetune_steps: int = 800
    distill: float = 10.0
    lr: float = 2e-4
    batch_size: int = 4
    val_every: int = 100
    repeats: int = 20
    judge_steps: int = 200
    opset: int = 17
    tolerance: float = 1e-4
    int8: bool = False
    checkpoint_every: int = 100
    workers: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            problem = check_value(value, hints[f.name])
            if problem is not None:
                raise CompressError(f"{f.name} = {_shown(value)}: {problem}")
        self.size_range = tuple(float(v) for v in self.size_range)  # type: ignore[assignment]
        self.generator_kwargs = dict(self.generator_kwargs)
        positive = ("n_train", "n_test", "population", "batch_size", "repeats",
                    "checkpoint_every", "n_images")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise CompressError(f"{name} = {getattr(self, name)}: must be 1 or more")
        for name in ("generations", "adapt_steps", "adapt_images", "finetune_steps",
                     "val_every", "judge_steps", "workers"):
            if int(getattr(self, name)) < 0:
                raise CompressError(f"{name} = {getattr(self, name)}: must be 0 or more")
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
        if self.variation not in ("auto", "widths", "channels"):
            raise CompressError(f"variation = {self.variation!r}: use auto, widths or channels")
        if self.variation == "widths" and (self.front or self.budget == 1):
            raise CompressError("variation = 'widths' moves capacity at one budget below 1: "
                                "not with front or budget 1")
        if self.search_size is not None and (self.search_size <= 0 or self.search_size % 4):
            raise CompressError(f"search_size = {self.search_size}: must be a positive "
                                "multiple of 4")
        if self.fitness not in ("adapted", "paper"):
            raise CompressError(f"fitness = {self.fitness!r}: use adapted or paper")
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
        if not self.lr > 0 or self.distill < 0 or not self.tolerance > 0:
            raise CompressError("lr and tolerance must be > 0, distill >= 0")
        if not 9 <= self.opset <= 20:
            raise CompressError(f"opset = {self.opset}: use an ONNX opset from 9 to 20")

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
        d = self.to_dict()
        return {key: d[key] for key in STAGE_KEYS[stage]}


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


#: the settings each stage's results depend on
STAGE_KEYS = {
    "search": ("checkpoints", "epoch", "generator", "generator_kwargs", "weights", "dataroot",
               "image_size", "n_train", "seed", "budget", "variation", "search_size", "front",
               "size_target",
               "size_range", "fitness", "population", "generations", "adapt_steps",
               "n_images", "adapt_images"),
    "slim": (),
    "finetune": ("finetune_steps", "distill", "lr", "batch_size", "val_every"),
    "evaluate": ("n_test", "repeats", "judge_steps"),
    "export": ("opset", "tolerance", "int8"),
}


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

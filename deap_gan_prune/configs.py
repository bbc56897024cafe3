"""Settings dataclasses declared once. :func:`setting` stores a field's help, range, choices,
stage and flag as its metadata; :func:`validate` checks an instance against its type hints and
that metadata; :func:`add_config_flags` and :func:`flag_values` turn a dataclass into
command-line flags and back."""
from __future__ import annotations

import argparse
import json
import math
import numbers
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import MISSING, Field, field, fields, is_dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

#: the ``stage`` of a setting that says how a run goes, not what it makes
RUNTIME = "runtime"

_INTERVAL = re.compile(r"\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*")


def parse_interval(text: str) -> dict[str, float | None]:
    """``"[1, inf)"`` → ``{"low": 1, "above": None, "high": None, "below": None}``: the
    bounds of an interval in the usual notation (``[``/``]`` closed, ``(``/``)`` open,
    ``inf`` unbounded). ValueError (one line) for another text."""
    match = _INTERVAL.fullmatch(text)
    if match is None:
        raise ValueError(f"within={text!r}: write an interval such as '[0, 1]' or '(0, inf)'")
    left, lo, hi, right = match.groups()
    start = None if lo in ("-inf", "inf") else float(lo)
    end = None if hi in ("inf", "+inf") else float(hi)
    return {"low": start if left == "[" else None, "above": start if left == "(" else None,
            "high": end if right == "]" else None, "below": end if right == ")" else None}


def setting(default: Any, help: str = "", *, within: str | None = None,
            choices: Sequence[str] | None = None, multiple_of: int | None = None,
            stage: str | None = None, optional: bool = False,
            metavar: str | tuple[str, ...] | None = None) -> Any:
    """A dataclass field declared once: its default (a callable for a mutable one), its help
    text, its range (``within``, an interval such as ``"(0, 1]"``, for the value or each item
    of a tuple; one of ``choices``; a multiple of ``multiple_of``), checked by
    :func:`validate`. ``stage``: the stage of a run whose results depend on it, or
    :data:`RUNTIME` when it says how a run goes, not what it makes; ``optional``: left out of
    a stage's recorded settings while at its default. ``metavar``: its command-line flag's
    (the flag is ``--name-with-dashes``)."""
    metadata = {"help": help, **(parse_interval(within) if within else
                                 dict.fromkeys(("low", "above", "high", "below"))),
                "choices": tuple(choices) if choices is not None else None,
                "multiple_of": multiple_of, "stage": stage, "runtime_only": stage == RUNTIME,
                "optional": optional, "metavar": metavar}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


def same_as(cls: type, name: str, **metadata: Any) -> Any:
    """A field declared as the dataclass ``cls`` declares ``name`` (default, help, range,
    ...), with ``metadata`` entries changed (e.g. ``stage``): a setting two configs share,
    declared once."""
    declared = next(f for f in fields(cls) if f.name == name)
    merged = {**declared.metadata, **metadata}
    if declared.default_factory is not MISSING:
        return field(default_factory=declared.default_factory, metadata=merged)
    return field(default=declared.default, metadata=merged)


class ConfigError(ValueError):
    """A setting of the wrong type or out of its range: ``owner`` (the class's name),
    ``name`` (the field's), ``value``, ``need`` (what it must be) and ``kind`` ("type" or
    "range")."""

    def __init__(self, owner: str, name: str, value: Any, need: str, kind: str) -> None:
        self.owner, self.name, self.value, self.need, self.kind = owner, name, value, need, kind
        super().__init__(f"{owner}: {name} must be {need}, got {shown(value)}")


def shown(value: Any) -> str:
    """``value`` as a config file writes it (JSON for plain values, else its repr)."""
    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def either(choices: Sequence[Any]) -> str:
    """``"a, b or c"``."""
    names = [str(c) for c in choices]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


_HINTS: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of the dataclass ``cls`` (resolved once)."""
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def validate(instance: Any) -> None:
    """Check every field of the dataclass ``instance`` against its type hint (bool, int,
    float, str, a Literal, a class, ``dict``, ``tuple[X, ...]``, ``X | None``) and its
    :func:`setting` range; the first problem raises a one-line :class:`ConfigError` naming
    the class, the field and the problem."""
    owner = type(instance).__name__
    for f in fields(instance):
        value = getattr(instance, f.name)
        problem = check_value(value, hints(type(instance))[f.name])
        if problem is None and value is not None:
            problem = check_range(value, f.metadata)
        if problem is not None:
            raise ConfigError(owner, f.name, value, *problem)


def check_value(value: Any, hint: Any) -> tuple[str, str] | None:
    """``(need, kind)`` when ``value`` is not a value of the type ``hint``, else None. A bool
    is not a number, a string is not a bool, and a float must be finite."""
    options = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    problems = [check_one(value, t) for t in options]
    if any(p is None for p in problems):
        return None
    return next(p for p in problems if p is not None and p[0] != "null")


def check_one(value: Any, hint: Any) -> tuple[str, str] | None:
    """``(need, kind)`` when ``value`` is not of the one type ``hint`` (no union), else None."""
    origin = get_origin(hint)
    if hint is type(None):
        return None if value is None else ("null", "type")
    if origin is Literal:
        return None if value in get_args(hint) else (either(get_args(hint)), "range")
    if hint is bool:
        return None if isinstance(value, bool) else ("true or false", "type")
    if hint is int:
        return None if isinstance(value, numbers.Integral) and not isinstance(value, bool) \
            else ("a whole number", "type")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return "a number", "type"
        return None if math.isfinite(value) else ("a finite number", "type")
    if hint is str:
        return None if isinstance(value, str) else ("a string", "type")
    if hint is dict or origin is dict:
        return None if isinstance(value, dict) else ("a table of key = value", "type")
    if origin is tuple:
        items = get_args(hint)
        if not isinstance(value, (list, tuple)) or (
                Ellipsis not in items and len(value) != len(items)):
            return f"a list of {len(items)} values" if Ellipsis not in items else "a list", \
                "type"
        kinds = [items[0]] * len(value) if Ellipsis in items else list(items)
        return next(((f"{p[0]} at item {i + 1}", p[1]) for i, (v, t) in
                     enumerate(zip(value, kinds)) if (p := check_one(v, t)) is not None), None)
    if isinstance(hint, type):
        article = "an" if hint.__name__[0].lower() in "aeiou" else "a"
        return None if isinstance(value, hint) else (f"{article} {hint.__name__}", "type")
    raise TypeError(f"no check for the type {hint!r}")


def check_range(value: Any, metadata: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(need, "range")`` when ``value`` (or an item of a tuple) is outside a
    :func:`setting`'s range, else None."""
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        return either(choices), "range"
    items = value if isinstance(value, (list, tuple)) else [value]
    numbers_ = [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
    low, above, high, below = (metadata.get(k) for k in ("low", "above", "high", "below"))
    if any((low is not None and v < low) or (above is not None and not v > above)
           or (high is not None and v > high) or (below is not None and not v < below)
           for v in numbers_):
        return interval(low, above, high, below), "range"
    step = metadata.get("multiple_of")
    if step and any(v % step for v in numbers_):
        return f"a multiple of {step}", "range"
    return None


def interval(low: float | None, above: float | None, high: float | None,
             below: float | None) -> str:
    """``">= 1"``, ``"in (0, 1]"``, ...: a range as words."""
    start = (f"[{low:g}" if low is not None else f"({above:g}" if above is not None
             else None)
    end = (f"{high:g}]" if high is not None else f"{below:g})" if below is not None else None)
    if start and end:
        return f"in {start}, {end}"
    if start:
        return (">= " if low is not None else "> ") + start[1:]
    return ("<= " if high is not None else "< ") + (end or "")[:-1]


def to_dict(instance: Any) -> dict:
    """The fields of a dataclass as plain JSON values (tuples as lists, nested dataclasses
    as dicts)."""
    def plain(value: Any) -> Any:
        if is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(instance)


# -- flags --------------------------------------------------------------------------------
def flag_of(f: Field) -> str:
    """The command-line flag of a field: ``--name-with-dashes``."""
    return "--" + f.name.replace("_", "-")


def default_of(f: Field) -> Any:
    """The default value of a dataclass field."""
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def default_text(value: Any) -> str:
    """A default as a help text shows it: on/off, ``0.05 0.5``, ``{}``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return "{}" if value == {} else str(value)


def json_object(text: str) -> dict:
    """A flag's JSON object (argparse ``type``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"ngf\": 32}'")
    return value


def _flag_kind(hint: Any) -> Any:
    """The type of a flag's value: the hint without ``None``."""
    if get_origin(hint) in (Union, UnionType):
        options = [t for t in get_args(hint) if t is not type(None)]
        return options[0]
    return hint


def add_config_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
                     names: Sequence[str] | None = None, *,
                     unset: bool | Collection[str] = False,
                     overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Add one flag for each field ``names`` of the dataclass ``cls`` (default: every field,
    in order), its dest the field's name, its help the field's with ``(default X)`` added
    unless it speaks of its default (or is a switch, off unless given), its type, choices
    and ``nargs`` from the field's type.
    ``unset`` (all, or these names): the flag's default is None, so that a flag not given
    can be told apart (the help still shows the field's default); otherwise it is the
    field's default. ``overrides``: ``add_argument`` keywords replacing the generated ones,
    by field name."""
    by_name = {f.name: f for f in fields(cls)}
    for name in names if names is not None else list(by_name):
        f, hint = by_name[name], _flag_kind(hints(cls)[name])
        default = default_of(f)
        blank = unset if isinstance(unset, bool) else name in unset
        switch = hint is bool and not blank and not default  # a store_true flag: off unless given
        text = f.metadata.get("help", "")
        if "default" not in text and not switch:
            text += f" (default {default_text(default)})"
        flag = flag_of(f)
        kwargs: dict[str, Any] = {"dest": name, "default": None if blank else default,
                                  "help": text}
        metavar = f.metadata.get("metavar")
        origin = get_origin(hint)
        if hint is bool:
            kwargs["action"] = "store_true" if switch else argparse.BooleanOptionalAction
        elif origin is tuple:
            items = get_args(hint)
            kwargs.update(type=_flag_kind(items[0]), nargs="+" if Ellipsis in items
                          else len(items), metavar=metavar)
            if get_origin(items[0]) is Literal:
                kwargs.update(type=str, choices=list(get_args(items[0])))
        elif hint is dict or origin is dict:
            kwargs.update(type=json_object, metavar=metavar)
        elif origin is Literal:
            kwargs.update(choices=list(get_args(hint)), type=str)
        else:
            kwargs.update(type=hint if hint in (int, float) else str,
                          metavar=metavar or flag.lstrip("-").replace("-", "_").upper())
        kwargs.update((overrides or {}).get(name, {}))
        parser.add_argument(flag, **kwargs)


def flag_values(args: argparse.Namespace, cls: type,
                names: Sequence[str] | None = None) -> dict[str, Any]:
    """The values of the flags of :func:`add_config_flags` (fields ``names`` of ``cls``,
    default all) that are set (not None), by field name; lists as tuples."""
    wanted = names if names is not None else [f.name for f in fields(cls)]
    values = {name: getattr(args, name) for name in wanted
              if getattr(args, name, None) is not None}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}

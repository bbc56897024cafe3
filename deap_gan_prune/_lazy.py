"""Lazy attributes of a package (PEP 562): public names imported from their submodules, and
the submodules themselves, on first access, so that importing the package loads neither."""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, tuple[str, ...]], namespace: dict
                    ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package`` (its ``__name__``) whose public
    names are ``names`` (relative submodule → names); ``namespace`` is the package's
    ``globals()``, where each value is cached once imported."""
    where = {name: module for module, found in names.items() for name in found}
    public = list(where)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module, package), name)
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return public, __getattr__, __dir__

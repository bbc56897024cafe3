"""Old public names kept working: each warns once per call site (DeprecationWarning) and does
what its new name does."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any


def deprecated_alias(new: Callable[..., Any], old_name: str) -> Callable[..., Any]:
    """A function named ``old_name`` that warns and calls ``new`` (a function or a class)."""
    @functools.wraps(new)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"{old_name} is deprecated: use {new.__name__}", DeprecationWarning,
                      stacklevel=2)
        return new(*args, **kwargs)
    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = f"Deprecated name of :func:`{new.__name__}`."
    return alias

"""File helpers shared by the whole package: atomic writes (a file is never half-written),
sha256 hashes of networks and images, and importing a class from its ``"pkg.module:Class"``
path. Importing this module loads only the standard library; torch is imported by the functions
that need it, when they are called.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .outputs import WriteError

if TYPE_CHECKING:
    import torch


def _file_mode() -> int:
    """The mode a newly created file gets under the current umask (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` then move the file into place, so that ``path`` is never
    half-written; the file gets the usual mode for the umask. An OSError (disk full, no
    permission) becomes a :class:`WriteError` naming ``path``; a previous file is kept."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        if isinstance(exc, WriteError):
            raise
        kept = "; the previous file is kept" if path.is_file() else ""
        raise WriteError(path, "could not write", exc, kept) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    """Write JSON atomically (indent 2, keys in the given order)."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    atomic_write(path, write)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def models_hash(*modules: torch.nn.Module) -> str:
    """sha256 (hex) over the modules' state dicts: every key, dtype, shape and tensor bytes,
    in key order."""
    import torch
    digest = hashlib.sha256()
    for module in modules:
        for key, tensor in module.state_dict().items():
            t = tensor.detach().cpu().contiguous()
            digest.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def images_hash(*images: torch.Tensor) -> str:
    """sha256 (hex) over the images' bytes, in order: which inputs a checkpoint was made
    with."""
    digest = hashlib.sha256()
    for x in images:
        digest.update(x.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def import_class(path: str) -> type:
    """The class at ``"pkg.module:Class"`` (a ValueError naming it when it cannot be found)."""
    import importlib

    import torch
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise ValueError(f"generator class {path!r}: write it as pkg.module:Class")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"generator class {path!r}: cannot import {module_name!r} "
                         f"({exc})") from None
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"generator class {path!r}: {module_name!r} has no {name!r}")
    if not isinstance(obj, type) or not issubclass(obj, torch.nn.Module):
        raise ValueError(f"generator class {path!r} is not a torch.nn.Module class")
    return obj

"""Output paths: checked before any work starts, and multi-file outputs moved into place only
when every file is written."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputError(ValueError):
    """An output path that cannot be written; the message names it and the problem."""


class WriteError(OSError):
    """Writing a file failed (disk full, permissions, ...); the message names the file."""

    def __init__(self, path: str | os.PathLike, action: str, cause: OSError,
                 note: str = "") -> None:
        super().__init__(f"{path}: {action} ({cause.strerror or cause}){note}")
        self.errno, self.path = cause.errno, str(path)  # no filename: str() stays one line


def _label(path: Path, option: str | None) -> str:
    return f"{option} {path}" if option else str(path)


def _check_ancestors(path: Path, label: str) -> None:
    """The nearest existing folder above ``path`` must be a folder we can create files in."""
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor == path:
        return
    if not ancestor.is_dir():
        raise OutputError(f"{label}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: cannot create files in {ancestor} (permission denied)")


def check_output_file(path: str | os.PathLike, option: str | None = None) -> Path:
    """Refuse, before any work, an output file path that could not be written: a folder, a
    path under a regular file, or a folder without write permission."""
    path = Path(path)
    label = _label(path, option)
    if path.is_dir():
        raise OutputError(f"{label}: is a folder, not a file")
    if path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: cannot replace it (no write permission in "
                          f"{path.parent})")
    _check_ancestors(path, label)
    return path


def check_output_folder(path: str | os.PathLike, option: str | None = None) -> Path:
    """Refuse, before any work, an output folder that could not be written: a regular file,
    a path under a regular file, or a folder without write permission."""
    path = Path(path)
    label = _label(path, option)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{label}: is a file, not a folder")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: cannot create files in it (permission denied)")
    _check_ancestors(path, label)
    return path


def check_not_input(outputs: dict[str, str | os.PathLike | None],
                    inputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse, before any work, an output (``{option: path}``) that is one of the inputs: the
    same file or the same folder would be written over."""
    def usable(path: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and str(path) != "" and Path(path).exists()

    for out_option, out in outputs.items():
        if not usable(out):
            continue
        for in_option, given in inputs.items():
            if usable(given) and os.path.samefile(out, given):  # type: ignore[arg-type]
                raise OutputError(f"{out_option} {out}: is the input {in_option} {given}; "
                                  "choose another path (nothing was written)")


def folder_mode() -> int:
    """The mode a new folder gets under the current umask (mkdtemp makes 0700)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def _move_into(stage: Path, out: Path) -> None:
    """Move every file of ``stage`` into ``out``: one rename when ``out`` does not exist yet,
    else one replace per file."""
    if not out.exists():
        os.rename(stage, out)
        return
    for item in sorted(stage.iterdir()):
        os.replace(item, out / item.name)


@contextmanager
def staged_folder(out: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write a set of files into; they are moved into
    ``out`` only when the ``with`` block ends without an error, else discarded, so ``out``
    never holds a mixture of old and new files of a failed write."""
    out = Path(out).absolute()
    check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    os.chmod(stage, folder_mode())  # the folder it becomes follows the umask
    try:
        yield stage
        try:
            _move_into(stage, out)
        except OSError as exc:
            raise WriteError(out, "could not move the new files into place", exc) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)

"""One call from a trained model to a deployable slim one: :func:`compress` runs the stages
in a run folder, continues a stopped run at its first unfinished stage, refuses changed
settings of finished stages, holds a lock against a second run, and stops cleanly on Ctrl-C
or SIGTERM."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from ..domains import check_images_memory
from ..export import import_onnxruntime
from ..files import atomic_write, atomic_write_json, file_sha256
from ..outputs import check_output_folder
from .config import STAGES, CompressConfig, CompressError, to_toml
from .stages import STAGE_FILES, STAGE_FUNCTIONS, RunContext

STATE_FORMAT = "deap_gan_prune/compress-run"
LOCK_NAME = ".lock"
#: stages that save a checkpoint when asked to stop (the others stop at once)
CHECKPOINTED = {"search": "generation", "finetune": "step"}


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[Path]:
    """Hold ``out/.lock`` (the PID inside) for the block; a lock of a live process is
    refused, one left by a dead process is taken over."""
    path = out / LOCK_NAME
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = None
            if pid is not None and _alive(pid):
                raise CompressError(f"{out}: another compress run (PID {pid}) is using this "
                                    f"folder; wait for it to end (lock file {path})") from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        break
    else:
        raise CompressError(f"{path}: cannot take the lock")
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_state(out: Path) -> dict:
    """The run folder's ``state.json`` (the stages started or done and their settings)."""
    path = out / "state.json"
    if not path.is_file():
        return {"format": STATE_FORMAT, "stages": {}}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CompressError(f"{path}: not a readable run state ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CompressError(f"{path}: not the state of a compress run")
    return state


def _first_difference(old: dict, new: dict) -> str | None:
    return next((k for k in list(new) + list(old) if old.get(k) != new.get(k)), None)


def check_settings(state: dict, config: CompressConfig, out: Path) -> None:
    """Refuse settings that differ from those a recorded stage was run with, naming the
    first differing setting."""
    for stage in STAGES:
        record = state["stages"].get(stage)
        if record is None:
            continue
        key = _first_difference(record["settings"], config.stage_settings(stage))
        if key is not None:
            done = "finished" if record.get("done") else "started"
            raise CompressError(
                f"{out}: stage {stage} was {done} with {key} = "
                f"{json.dumps(record['settings'].get(key))}, this run has "
                f"{json.dumps(config.stage_settings(stage).get(key))}; add --restart-from "
                f"{stage} to redo it and the stages after it (or use another --out)")


#: the run folder's sub-folder that keeps the results of redone stages until they are redone
REPLACED = ".replaced"


def clear_stages(state: dict, out: Path, first: str) -> None:
    """Forget stage ``first`` and the ones after it. Their files and checkpoints are moved
    into ``out/.replaced/<stage>/`` (with ``report.md``), kept until the stage finishes anew
    (:func:`drop_replaced`); where an earlier restart's files are kept there already, those
    stay and this stage's unfinished ones are removed."""
    for stage in STAGES[STAGES.index(first):]:
        state["stages"].pop(stage, None)
        aside = out / REPLACED / stage
        keep = not aside.exists()
        names = STAGE_FILES[stage] + (("report.md",) if stage == first else ())
        for name in names:
            path = out / name
            if not path.exists():
                continue
            if keep:
                aside.mkdir(parents=True, exist_ok=True)
                os.replace(path, aside / name)
            elif path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def drop_replaced(out: Path, stage: str) -> None:
    """Remove the results that ``stage`` had before it was redone (it has finished anew)."""
    shutil.rmtree(out / REPLACED / stage, ignore_errors=True)
    with contextlib.suppress(OSError):
        (out / REPLACED).rmdir()  # only once empty


def _files(out: Path, stage: str) -> dict[str, str]:
    """``{path relative to out: sha256}`` of every file ``stage`` wrote."""
    found = {}
    for name in STAGE_FILES[stage]:
        path = out / name
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if f.is_file():
                found[f.relative_to(out).as_posix()] = file_sha256(f)
    return found


def unverified(record: dict, out: Path) -> str | None:
    """Why a finished stage's recorded files cannot be trusted (one is missing or changed),
    or None when they are as the stage wrote them."""
    for name, digest in record.get("files", {}).items():
        path = out / name
        if not path.is_file():
            return f"{name} is missing"
        if file_sha256(path) != digest:
            return f"{name} has changed since the stage wrote it"
    return None


@contextlib.contextmanager
def _stop_signals(ctx: RunContext, say: Callable[[str], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM: in a checkpointed stage the first one asks it to stop after the
    current generation or step (its checkpoint saved), a second one stops at once; in other
    stages they stop at once. Only in the main thread (signals go there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        unit = CHECKPOINTED.get(ctx.stage or "")
        if unit is None or ctx.stop_requested:
            raise KeyboardInterrupt
        ctx.stop_requested = True
        say(f"stopping after this {unit} of stage {ctx.stage}, once its checkpoint is saved "
            "(again to stop at once)")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def compress(config: CompressConfig | None = None, out: str | os.PathLike = "runs/compress",
             *, restart_from: str | None = None, progress: bool = True,
             say: Callable[[str], None] | None = None,
             on_step: Callable[[str, int], None] | None = None) -> Path:
    """From a trained model to a deployable slim one, in the run folder ``out``: search the
    masks (``config.budget``, or a front and its point within ``config.size_target``), slim,
    fine-tune, evaluate (sizes, latency, quality, pictures), export (ONNX and TorchScript
    checked against PyTorch; int8 ONNX with ``config.int8``), then ``report.md``.

    Every stage writes its results into ``out`` and is recorded in ``out/state.json`` with its
    settings; ``out/config.toml`` holds the settings (``load_config`` reads them back). Called
    again on the same folder it continues at the first unfinished stage (the search and the
    fine-tuning from their own checkpoints) and ends with the same masks, weights and ONNX
    files as a run never stopped; settings that differ from a recorded stage's are refused
    (CompressError naming the setting) unless ``restart_from`` names that stage or an
    earlier one, which is then redone with the stages after it. ``out/.lock`` (the PID)
    refuses a second run on the folder while one runs. On Ctrl-C or SIGTERM the search stops
    after its generation, the fine-tuning after its step, each with its checkpoint written;
    KeyboardInterrupt is raised. ``on_step(stage, n)`` is called after the n-th generation or
    step of this call (and with n 1 when another stage starts). Returns ``out/report.md``."""
    config = CompressConfig() if config is None else config
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    if restart_from is not None and restart_from not in STAGES:
        raise CompressError(f"restart_from {restart_from!r}: use one of {', '.join(STAGES)}")
    out = check_output_folder(out, "--out")
    if out.is_dir() and not (out / "state.json").exists() and \
            any(p.name != LOCK_NAME for p in out.iterdir()):
        raise CompressError(f"--out {out}: holds other files and no compress run (no "
                            "state.json); give a new or empty folder (nothing was written)")
    import_onnxruntime()  # the last stage exports: a missing package is refused before any work
    if config.dataroot is None:
        size = config.image_size or 64
        check_images_memory(config.n_train + config.n_test, size,
                            f"image_size {size} with n_train {config.n_train} and n_test "
                            f"{config.n_test}")
    out.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(config, out, progress, say, on_step)
    with run_lock(out):
        state = read_state(out)
        if restart_from is not None:
            clear_stages(state, out, restart_from)
            say(f"stages from {restart_from} on are redone; their results so far are kept in "
                f"{out / REPLACED} until the new ones are written")
        check_settings(state, config, out)
        atomic_write_json(out / "state.json", state)
        text = to_toml(config)
        atomic_write(out / "config.toml", lambda tmp: Path(tmp).write_text(text))
        with _stop_signals(ctx, say):
            for stage in STAGES:
                record = state["stages"].get(stage, {})
                if record.get("done"):
                    why = unverified(record, out)
                    if why is None:
                        continue
                    say(f"stage {stage} is redone: {why}")
                    clear_stages(state, out, stage)
                    atomic_write_json(out / "state.json", state)
                ctx.begin(stage)
                if stage not in CHECKPOINTED and on_step is not None:
                    on_step(stage, 1)
                state["stages"][stage] = {"settings": config.stage_settings(stage),
                                          "done": False}
                atomic_write_json(out / "state.json", state)
                say(f"stage {stage} ...")
                try:
                    STAGE_FUNCTIONS[stage](ctx)
                except KeyboardInterrupt:
                    saved = (f"; its checkpoint is saved in {out}" if stage in CHECKPOINTED
                             else "")
                    say(f"stopped in stage {stage}{saved}; the same command continues it")
                    raise
                state["stages"][stage].update(done=True, files=_files(out, stage))
                atomic_write_json(out / "state.json", state)
                drop_replaced(out, stage)
            ctx.stage = None
        from .report_md import write_report
        report = write_report(out, {**config.to_dict(), "budget": config.size_budget(),
                                    "speedup": config.latency_budget()})
    say(f"wrote {report}")
    return report

"""The ``deap-gan-prune`` command line. The library itself knows no command line: each
subcommand is a thin module here that parses arguments and calls the library. It is the end
of the pipeline: it chains search, slimming, fine-tuning, evaluation, export and plots."""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TextIO

#: subcommand name -> (module, one-line help)
SUBCOMMANDS = {
    "compress": ("compress_cmd", "from a trained model to a deployable slim one: search, slim, "
                                 "fine-tune, evaluate, export, report (resumable)"),
    "inspect": ("inspect_cmd", "describe a generator or discriminator checkpoint"),
    "search": ("search_cmd", "co-evolve channel masks of both generators (--front: the "
                             "Pareto front of quality and size)"),
    "supernet": ("supernet_cmd", "train once-for-all generators, on whose weights every mask "
                                 "works (for 'search --supernet')"),
    "slim": ("slim_cmd", "turn searched masks into smaller generators"),
    "finetune": ("finetune_cmd", "fine-tune slim generators (CycleGAN losses, distillation)"),
    "evaluate": ("evaluate_cmd", "measure size, latency and quality against the original"),
    "export": ("export_cmd", "export a generator to ONNX or TorchScript, checked against "
                             "PyTorch"),
    "plot": ("plot_cmd", "plot fitness and size against generation from a logbook, or a "
                         "front of 'search --front'"),
    "translate": ("translate_cmd", "apply a generator (.pth or exported .onnx) to a folder of "
                                   "images"),
}

#: environment variable that, set to 1, shows the full traceback of an error (as --debug)
DEBUG_ENV = "DEAP_GAN_PRUNE_DEBUG"
DEBUG_HINT = f"add --debug (or set {DEBUG_ENV}=1) for the traceback"


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default as ``(default X)`` at the end of its help, unless the help
    already states it (``default`` in the text); flags (on/off) and options without a default
    value are left as written."""

    _FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction,
              argparse._StoreConstAction, argparse._HelpAction, argparse._VersionAction)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text.lower() or not action.option_strings
                or isinstance(action, self._FLAGS)
                or action.default in (None, argparse.SUPPRESS)):
            return text
        return f"{text} (default %(default)s)"


def _add_debug(parser: argparse.ArgumentParser, default: bool | str = False) -> None:
    parser.add_argument("--debug", action="store_true", default=default,
                        help=f"on an error, print the full traceback (as {DEBUG_ENV}=1)")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    parser = argparse.ArgumentParser(
        prog="deap-gan-prune", formatter_class=HelpFormatter,
        description="Compress CycleGAN generators by co-evolving channel masks with DEAP.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_debug(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(f".{module_name}", __name__)
        sp = sub.add_parser(name, help=help_text, description=module.__doc__,
                            formatter_class=HelpFormatter)
        module.add_arguments(sp)
        _add_debug(sp, default=argparse.SUPPRESS)  # before or after the subcommand
        sp.set_defaults(run=module.run)
    return parser


def debug_wanted(args: argparse.Namespace | None = None) -> bool:
    """True with ``--debug`` or the environment variable ``DEAP_GAN_PRUNE_DEBUG=1``."""
    return bool(getattr(args, "debug", False)) or \
        os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def warning_printer(prog: str) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints ``prog: warning: message`` on one line."""
    # the signature of warnings.showwarning, which passes every argument
    def show(message: Warning | str, category: type[Warning], filename: str,  # noqa: ARG001
             lineno: int, file: TextIO | None = None,  # noqa: ARG001
             line: str | None = None) -> None:  # noqa: ARG001
        print(f"{prog}: warning: {one_line(Warning(message))}", file=file or sys.stderr)
    return show


#: options that name what a command reads, and what it writes
INPUT_OPTIONS = ("file", "masks", "slim", "model", "source", "config", "checkpoints",
                 "weights", "dataroot", "supernet", "discriminator", "original",
                 "inception_weights")
OUTPUT_OPTIONS = ("out", "plot")


def _option(dest: str) -> str:
    return dest.upper() if dest in ("file", "masks", "slim", "model", "source") \
        else "--" + dest.replace("_", "-")


def _run(args: argparse.Namespace) -> int:
    """Validate what every subcommand shares (the device, no output over an input), then run
    the subcommand."""
    from ..devices import check_device
    from ..outputs import check_not_input
    if getattr(args, "device", None) is not None:
        check_device(args.device)
    check_not_input({_option(d): getattr(args, d, None) for d in OUTPUT_OPTIONS},
                    {_option(d): getattr(args, d, None) for d in INPUT_OPTIONS})
    with warnings.catch_warnings():
        warnings.showwarning = warning_printer(f"deap-gan-prune {args.command}")
        return int(args.run(args) or 0)


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a command as Ctrl-C does (KeyboardInterrupt), in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resumable(args: argparse.Namespace, unit: str) -> str:
    """What an interrupted command with a ``--checkpoint`` option left, in a few words."""
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint and os.path.exists(checkpoint):
        return (f"{checkpoint} holds the last saved {unit}: the same command with --resume "
                "continues it")
    return f"nothing was saved (add --checkpoint FILE to save each {unit} for --resume)"


def interrupted(args: argparse.Namespace) -> str:
    """The line an interrupted command ends with: what it saved and how to go on."""
    module = importlib.import_module(f".{SUBCOMMANDS[args.command][0]}", __name__)
    said = getattr(module, "interrupted", None)
    return "interrupted" + (f"; {said(args)}" if said is not None else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 on an error, 2 on bad usage. An error is one line on
    stderr naming the problem; errors that are not about the input (e.g. a RuntimeError
    inside torch) name their type and add a hint to rerun with ``--debug``, which (as
    ``DEAP_GAN_PRUNE_DEBUG=1``) prints the full traceback instead."""
    from ..evolution.parallel import WorkerError
    from ..nets.checkpoints import CheckpointError
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"deap-gan-prune {args.command}"
    try:
        with _terminate_as_interrupt():
            return _run(args)
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted(args)}", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug_wanted(args):
            traceback.print_exc()
            print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        elif isinstance(exc, (CommandError, CheckpointError, WorkerError, ImportError, OSError,
                              ValueError, KeyError)):
            print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        else:
            print(f"{prog}: error: {type(exc).__name__}: {one_line(exc)} ({DEBUG_HINT})",
                  file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

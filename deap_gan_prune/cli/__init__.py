"""The ``deap-gan-prune`` command line. The library itself knows no command line: each
subcommand is a thin module here that parses arguments and calls the library. It is the end
of the pipeline: it chains search, slimming, fine-tuning, evaluation, export and plots."""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Sequence

#: subcommand name -> (module, one-line help)
SUBCOMMANDS = {
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
}


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    parser = argparse.ArgumentParser(
        prog="deap-gan-prune",
        description="Compress CycleGAN generators by co-evolving channel masks with DEAP.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(f".{module_name}", __name__)
        sp = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(sp)
        sp.set_defaults(run=module.run)
    return parser


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def warning_printer(prog: str):
    """A ``warnings.showwarning`` that prints ``prog: warning: message`` on one line."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prog}: warning: {one_line(Warning(message))}", file=file or sys.stderr)
    return show


def _run(args: argparse.Namespace) -> int:
    """Validate what every subcommand shares (the device), then run the subcommand."""
    from ..devices import check_device
    if getattr(args, "device", None) is not None:
        check_device(args.device)
    with warnings.catch_warnings():
        warnings.showwarning = warning_printer(f"deap-gan-prune {args.command}")
        return int(args.run(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 on an error (one line on stderr), 2 on bad usage."""
    from ..nets.checkpoints import CheckpointError
    from ..evolution.parallel import WorkerError
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (CommandError, CheckpointError, WorkerError, ImportError, OSError, ValueError,
            KeyError) as exc:
        print(f"deap-gan-prune {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"deap-gan-prune {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

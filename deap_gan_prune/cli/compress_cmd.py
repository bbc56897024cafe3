"""From a trained model to a deployable slim one in one command: search, slim, fine-tune,
evaluate, export (ONNX and TorchScript, checked against PyTorch; int8 ONNX with --int8), then
report.md, all in the run folder --out. Settings come from the flags, over a config file
(--config FILE, TOML or YAML); they are saved as OUT/config.toml. The same command again
continues at the first unfinished stage; changed settings of a finished stage are refused
unless --restart-from STAGE. Ctrl-C or SIGTERM stops after the current generation or step,
its checkpoint saved."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..configs import add_config_flags, flag_values

if TYPE_CHECKING:
    from ..compression.config import CompressConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..compression.config import STAGES, CompressConfig
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="settings file, TOML (.toml) or YAML (.yaml, needs PyYAML); flags "
                             "override it (default: none)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved settings as TOML and exit")
    parser.add_argument("--out", default="runs/compress", metavar="DIR",
                        help="the run folder (default runs/compress)")
    parser.add_argument("--restart-from", choices=STAGES, default=None, metavar="STAGE",
                        help=f"redo this stage and the ones after it ({', '.join(STAGES)}; "
                             "default: continue at the first unfinished stage)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    group = parser.add_argument_group("settings (default: the config file's, else the one "
                                      "shown)")
    add_config_flags(group, CompressConfig, unset=True)


def resolved_config(args: argparse.Namespace) -> CompressConfig:
    """The settings: the config file's (if any), the flags given on top."""
    from ..compression.config import CompressConfig, read_config_file
    settings = read_config_file(args.config) if args.config else {}
    settings.update(flag_values(args, CompressConfig))
    return CompressConfig.from_dict(settings, args.config or "flags")


def run(args: argparse.Namespace) -> int:
    from ..compression import compress, to_toml
    config = resolved_config(args)
    if args.print_config:
        print(to_toml(config), end="")
        return 0
    try:
        report = compress(config, args.out, restart_from=args.restart_from,
                          progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"deap-gan-prune compress: stopped; to continue: deap-gan-prune compress "
              f"--config {args.out}/config.toml --out {args.out}", file=sys.stderr)
        raise
    print(f"done: {report}")
    return 0


"""From a trained model to a deployable slim one in one command: search, slim, fine-tune,
evaluate, export (ONNX and TorchScript, checked against PyTorch; int8 ONNX with --int8), then
report.md, all in the run folder --out. Settings come from the flags, over a config file
(--config FILE, TOML or YAML); they are saved as OUT/config.toml. The same command again
continues at the first unfinished stage; changed settings of a finished stage are refused
unless --restart-from STAGE. Ctrl-C or SIGTERM stops after the current generation or step,
its checkpoint saved."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..compression.config import CompressConfig

METAVARS = {"checkpoints": "DIR", "dataroot": "DIR", "weights": "FILE", "generator":
            "PKG.MODULE:CLASS", "generator_kwargs": "JSON", "input_range": "RANGE"}


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return "{}" if value == {} else str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..compression.config import STAGES, CompressConfig
    defaults = CompressConfig()
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
    types = {"image_size": int, "search_size": int, "size_target": float, "speedup": float}
    for f in fields(CompressConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        text = f.metadata["help"]  # declared once, with the setting
        if "default" not in text:
            text += f" (default {_default_text(default)})"
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=text)
        elif f.name in ("size_range", "scale_jitter"):
            group.add_argument(flag, type=float, nargs=2, metavar=("LOW", "HIGH"),
                               default=None, help=text)
        elif f.name == "load_sizes":
            group.add_argument(flag, type=int, nargs="+", metavar="PX", default=None,
                               help=text)
        elif f.name == "generator_kwargs":
            group.add_argument(flag, type=_json_object, default=None,
                               metavar=METAVARS[f.name], help=text)
        else:
            kind = types.get(f.name, type(default) if default is not None else str)
            group.add_argument(flag, type=kind, default=None,
                               metavar=METAVARS.get(f.name), help=text)


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"ngf\": 32}'")
    return value


def resolved_config(args: argparse.Namespace) -> CompressConfig:
    """The settings: the config file's (if any), the flags given on top."""
    from ..compression.config import CompressConfig, read_config_file
    settings = read_config_file(args.config) if args.config else {}
    for f in fields(CompressConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            settings[f.name] = value
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


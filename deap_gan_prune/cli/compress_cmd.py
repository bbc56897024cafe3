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

#: flag help, by setting (the default is added from CompressConfig)
HELP = {
    "checkpoints": "upstream folder with latest_net_{G_A,G_B}[,D_A,D_B].pth (default: the "
                   "teacher shipped in the package)",
    "epoch": "checkpoint prefix, <epoch>_net_G_A.pth",
    "generator": "one generator of your own class, pkg.module:Class, with --weights (default: "
                 "the upstream ResNet pair)",
    "generator_kwargs": "--generator's constructor arguments as a JSON object",
    "weights": "with --generator: its state dict file",
    "dataroot": "image folder with trainA, trainB, testA, testB (default: the embedded "
                "synthetic data)",
    "image_size": "pixels, a multiple of 4 (default 64 synthetic, 256 for --dataroot)",
    "n_train": "synthetic training images per domain",
    "n_test": "test images per domain (synthetic; at most this many of a folder)",
    "seed": "random seed: the same settings give the same files",
    "budget": "size ratio every candidate meets in parameters and MACs (in parameters only "
              "with the width search) (0.25 = 4x smaller)",
    "variation": "widths (the width search), channels (bit-string variation) or auto "
                 "(widths for --generator at a budget, else channels)",
    "search_size": "pixels the search scores candidates at (default 64 for --generator, "
                   "else --image-size)",
    "front": "search the Pareto front of quality and size instead of one budget",
    "size_target": "with --front: the best point within this size ratio (default: the "
                   "front's point nearest the ideal)",
    "size_range": "with --front: the size ratios the starting masks span",
    "fitness": "adapted (brief distillation, then L1 on held-out images) or paper",
    "population": "masks per generator",
    "generations": "generations of the search",
    "adapt_steps": "distillation steps per candidate (adapted fitness)",
    "n_images": "held-out images per domain the fitness scores on",
    "adapt_images": "further images per domain the candidates adapt on",
    "finetune_steps": "fine-tuning steps (0: none)",
    "distill": "distillation weight of the pair's fine-tuning (0: CycleGAN losses only)",
    "lr": "fine-tuning learning rate (Adam)",
    "batch_size": "fine-tuning images a step",
    "val_every": "fine-tuning steps between validations; the best weights are kept",
    "repeats": "latency runs of original and slim, interleaved",
    "judge_steps": "training steps of the offline judge of the quality table",
    "opset": "ONNX opset",
    "tolerance": "largest difference the exported files may show against PyTorch",
    "int8": "also a static int8 ONNX file, checked on held-out images",
    "checkpoint_every": "fine-tuning steps between checkpoints",
    "workers": "processes evaluating the search's candidates (0: this process)",
    "device": "cpu, cuda, cuda:1, ...",
}
METAVARS = {"checkpoints": "DIR", "dataroot": "DIR", "weights": "FILE", "generator":
            "PKG.MODULE:CLASS", "generator_kwargs": "JSON"}


def _default_text(value) -> str:
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
    types = {"image_size": int, "search_size": int, "size_target": float}
    for f in fields(CompressConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        text = HELP[f.name]
        if "default" not in text:
            text += f" (default {_default_text(default)})"
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=text)
        elif f.name == "size_range":
            group.add_argument(flag, type=float, nargs=2, metavar=("LOW", "HIGH"),
                               default=None, help=text)
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


def resolved_config(args: argparse.Namespace):
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


"""Fine-tune slim generators (``slim_G_A.pth``, ``slim_G_B.pth``) with the CycleGAN losses
against the original discriminators, optionally distilling from the original generators; with
--generator, distil ``slim_G_A.pth`` toward the original on the whole training folder."""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..configs import add_config_flags, flag_values
from ..domains import synthetic_data
from ..nets.checkpoints import (
    load_discriminator,
    load_generator,
    save_generator,
    traced_description,
)
from ..outputs import check_output_file, check_output_folder, staged_folder
from ..runoptions import RunOptions
from ..streams import Augment, write_images
from ..training.config import CycleGANConfig
from ..training.distill import Teacher, distill_generator
from ..training.distill_config import FEATURE_MAPS, DistillConfig, DistillLoss
from ..training.pair import finetune_pair
from . import CommandError, resumable

if TYPE_CHECKING:
    from torch import nn

    from ..imagerange import InputRange
from .common import (
    add_data_arguments,
    add_generator_arguments,
    add_model_arguments,
    add_run_arguments,
    architecture,
    flagged,
    input_range,
    load_data,
    load_models,
    load_own_generator,
    range_beside,
    range_entry,
    ranges_of_models,
)

#: the pair's generators, in the order of their files
NAMES = ("G_A", "G_B")
#: the updates of a fine-tuning run without --steps
FINETUNE_STEPS = 800
#: the flags of the DistillConfig fields, by group
TRAINING = ("steps", "lr", "decay_start", "batch_size")
VALIDATION = ("val_every", "val_images")
OWN_CLASS = ("load_size", "adversarial", "disc_fit_steps", "teacher_pool", "workers")
SCHEDULE = ("warmup_steps", "ema")
FLAGS = (*TRAINING, *VALIDATION, *OWN_CLASS, *SCHEDULE, "checkpoint_every")


def distill_config(args: argparse.Namespace) -> DistillConfig:
    """The :class:`DistillConfig` of the flags (crops of ``--image-size``, default 256 with
    --dataroot, else 64); CommandError naming the flag otherwise."""
    try:
        return DistillConfig(**flag_values(args, DistillConfig, FLAGS),
                             image_size=args.image_size or (256 if args.dataroot else 64),
                             seed=args.seed, loss=distill_loss(args),
                             augment=Augment(**flag_values(args, Augment)))
    except ValueError as exc:
        raise CommandError(flagged(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slim", help="folder with slim_G_A.pth and slim_G_B.pth")
    add_model_arguments(parser)
    add_generator_arguments(parser)
    add_data_arguments(parser)
    t = parser.add_argument_group("training")
    add_config_flags(t, DistillConfig, TRAINING, unset=("lr",), overrides={
        "steps": {"default": FINETUNE_STEPS, "help": f"updates (default {FINETUNE_STEPS})"},
        "lr": {"help": "Adam's learning rate (default 5e-4 with --generator, 2e-4 for the "
                       "pair)"}})
    t.add_argument("--distill", type=float, default=10.0,
                   help="pair only: distillation weight (default 10; 0 disables)")
    v = parser.add_argument_group("validation (the best weights are kept)")
    add_config_flags(v, DistillConfig, VALIDATION, overrides={"val_every": {
        "help": "steps between validations, also run at the start and the end (default 100; "
                "0: none for the pair, start and end for --generator)"}})
    g = parser.add_argument_group("with --generator")
    add_config_flags(g, DistillConfig, OWN_CLASS)
    g.add_argument("--discriminator", metavar="FILE", default=None,
                   help="the discriminator of --adversarial (a PatchGAN state dict); default: "
                        "one is fitted first against the original generator")
    d = parser.add_argument_group(
        "distillation terms (the pair: inside --distill's term)")
    add_config_flags(d, DistillLoss, overrides={"feature_map": {"choices": FEATURE_MAPS,
                                                                "metavar": None}})
    a = parser.add_argument_group("augmentation and schedule (with --generator)")
    add_config_flags(a, Augment, unset=True)
    add_config_flags(a, DistillConfig, SCHEDULE, unset=True)
    r = parser.add_argument_group("checkpoints")
    r.add_argument("--checkpoint", metavar="FILE", default=None,
                   help="training state rewritten every --checkpoint-every steps (with "
                        "--generator, the best weights are written beside it, FILE_best.pth; "
                        "default: none)")
    add_config_flags(r, DistillConfig, ("checkpoint_every",))
    r.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint if it exists (same settings and models); "
                        "ends with the weights of an uninterrupted run")
    r.add_argument("--overwrite", action="store_true",
                   help="start afresh even if --checkpoint exists (it is overwritten)")
    add_run_arguments(parser)
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder, never the slim folder itself (default: "
                             "SLIM_finetuned beside it)")


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any work, bad numbers (as :class:`DistillConfig` checks them) and a
    checkpoint that would be lost."""
    distill_config(args)
    if args.resume and args.overwrite:
        raise CommandError("--resume and --overwrite exclude each other")
    if (args.resume or args.overwrite) and not args.checkpoint:
        raise CommandError(f"--{'resume' if args.resume else 'overwrite'} needs --checkpoint "
                           "FILE")
    if args.checkpoint:
        check_output_file(args.checkpoint, "--checkpoint")
        if Path(args.checkpoint).exists() and not (args.resume or args.overwrite):
            raise CommandError(f"--checkpoint {args.checkpoint}: the file exists; add --resume "
                               "to continue that run, or --overwrite to start again")


def distill_loss(args: argparse.Namespace) -> DistillLoss:
    """The distillation terms of the flags; CommandError naming the flag otherwise."""
    names = args.feature_layers.strip()
    layers: str | tuple[str, ...] = names if names in ("groups", "blocks") else tuple(
        n.strip() for n in names.split(",") if n.strip())
    try:
        return DistillLoss(l1=args.l1, ssim=args.ssim, ms_ssim=args.ms_ssim,
                           ssim_window=args.ssim_window, gradient=args.gradient,
                           feature=args.feature, feature_layers=layers,
                           feature_map=args.feature_map)
    except ValueError as exc:
        raise CommandError(flagged(exc)) from None


def output_folder(args: argparse.Namespace) -> Path:
    """--out, or ``<slim>_finetuned`` beside the slim folder; the slim folder itself (whose
    files the run reads) is refused."""
    slim = Path(args.slim).resolve()
    out = Path(args.out) if args.out else slim.parent / f"{slim.name}_finetuned"
    if out.resolve() == slim:
        raise CommandError(f"--out {args.out}: is the slim folder the run reads; write the "
                           "fine-tuned generators to another folder")
    return check_output_folder(out, "--out")


def slim_range(args: argparse.Namespace,
               names: tuple[str, ...] = ("G_A", "G_B")) -> InputRange:
    """The input range: --input-range, or the one the slim files and models record."""
    recorded = [entry for name in names
                for entry in range_beside(Path(args.slim) / f"slim_{name}.pth")]
    return input_range(args, recorded + ranges_of_models(args))


def interrupted(args: argparse.Namespace) -> str:
    """What a stopped run left (the ``step`` checkpoint, or nothing)."""
    return resumable(args, "step")


def run(args: argparse.Namespace) -> int:
    """The slim generators of the folder, each loaded, trained and written in turn: ``G_A``
    alone with --generator (distilled on the whole training folder), else ``G_A`` and ``G_B``
    (fine-tuned together with the CycleGAN losses)."""
    out = output_folder(args)
    check_arguments(args)
    names = ("G_A",) if architecture(args) is not None else NAMES
    _check_flags(args, names)
    value = slim_range(args, names)
    students: dict[str, nn.Module] = {}
    described: dict[str, dict[str, Any]] = {}
    for name in names:
        path = Path(args.slim) / f"slim_{name}.pth"
        if architecture(args) is not None:
            found = traced_description(path)
            if found is None:
                raise CommandError(f"{path}: no JSON beside it describing a --generator network")
            described[name] = dict(zip(("architecture", "space", "bits"), found))
        students[name] = load_generator(path, args.device, architecture(args))
    train = _distil if described else _finetune
    extra, message = train(args, students, described, value)
    with staged_folder(out) as stage:  # every generator, or nothing changed
        for name, student in students.items():
            save_generator(student, stage / f"slim_{name}.pth", extra=extra,
                           **described.get(name, {}))
    print(f"{message}; wrote {out}")
    return 0


def _check_flags(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """Refuse flags the generators at hand cannot use: image sizes for one generator of the
    user's class, the --generator flags for the pair (which trains against its own
    discriminators)."""
    if len(names) == 1:
        if args.image_size is not None and (args.image_size <= 0 or args.image_size % 4):
            raise CommandError(f"--image-size {args.image_size}: must be a positive multiple "
                               "of 4")
        image_size = args.image_size or (256 if args.dataroot else 64)
        if args.load_size is not None and args.load_size < image_size:
            raise CommandError(f"--load-size {args.load_size}: must be at least the image "
                               f"size ({image_size})")
        return
    distill_loss(args)
    given = {"--adversarial": bool(args.adversarial), "--teacher-pool": bool(args.teacher_pool),
             **{f"--{name.replace('_', '-')}": getattr(args, name) is not None
                for name in ("discriminator", "load_size", "scale_jitter", "load_sizes",
                             "color_jitter", "warmup_steps", "ema")}}
    for option, value in given.items():
        if value:
            raise CommandError(f"{option}: only with --generator (the pair trains against "
                               "its own discriminators)")


def _options(args: argparse.Namespace) -> RunOptions:
    """Where and how the training runs: the device, the bar, the checkpoint file."""
    return RunOptions(device=args.device, progress=not args.quiet, checkpoint=args.checkpoint,
                      resume=args.resume)


def _finetune(args: argparse.Namespace, students: dict[str, nn.Module],
              _described: dict[str, dict[str, Any]], value: InputRange) -> tuple[dict, str]:
    """G_A and G_B fine-tuned together against the original pair's discriminators (distilled
    from the original generators with --distill); returns the files' extra entries and what
    was done."""
    loss = distill_loss(args)
    data = load_data(args, n_val=args.val_images or 16, input_range=value)
    gan = load_models(args, data)
    history: dict = {}
    if args.steps > 0:
        config = CycleGANConfig(steps=args.steps, seed=args.seed,
                                batch_size=args.batch_size, distill_weight=args.distill,
                                val_every=args.val_every if args.val_images else 0,
                                checkpoint_every=args.checkpoint_every, distill=loss)
        if args.lr is not None:
            config = dataclasses.replace(config, lr=args.lr)
        described = [traced_description(Path(args.slim) / f"slim_{n}.pth") for n in NAMES]
        masks = [d[1:] for d in described if d is not None]
        try:
            history = finetune_pair(gan, students["G_A"], students["G_B"], data, config,
                                    _options(args), masks=masks if len(masks) == 2 else None)
        except ValueError as exc:
            if not str(exc).startswith("DistillLoss: "):
                raise
            raise CommandError(flagged(exc)) from None
    for student in students.values():
        student.eval()
    last = {k: round(v[-1], 4) for k, v in history.items()
            if v and k != "step" and not k.startswith(("val_", "best"))}
    best = ""
    if history.get("best_step"):
        i = history["val_step"].index(history["best_step"][0])
        best = (f"; kept the best validation, step {int(history['best_step'][0])} (L1 "
                f"{history['val_l1'][i]:.4f}, {history['val_psnr_db'][i]:.2f} dB)")
    extra = {"finetune_steps": args.steps, "distill": args.distill,
             **range_entry(data.input_range)}
    return extra, f"fine-tuned {args.steps} steps; last losses {last}{best}"


def _folders(args: argparse.Namespace, scratch: Path) -> tuple[Path, Path]:
    """trainA and trainB of --dataroot, or the synthetic training images written to
    ``scratch``."""
    if args.dataroot:
        return Path(args.dataroot) / "trainA", Path(args.dataroot) / "trainB"
    data = synthetic_data(args.n_train, args.n_test, args.image_size or 64, seed=args.seed)
    images_a, images_b = cast(tuple, data.train)  # synthetic data: two tensors
    write_images(images_a, scratch / "trainA")
    write_images(images_b, scratch / "trainB")
    return scratch / "trainA", scratch / "trainB"


def _distil(args: argparse.Namespace, students: dict[str, nn.Module],
            described: dict[str, dict[str, Any]], value: InputRange) -> tuple[dict, str]:
    """A generator of the user's class: ``slim_G_A.pth`` distilled toward the original
    (``--weights``) on the whole trainA folder (:func:`distill_generator`); returns the
    file's extra entries and what was done."""
    teacher = load_own_generator(args)
    mask = (described["G_A"]["space"], described["G_A"]["bits"])
    if args.discriminator and not args.adversarial > 0:
        raise CommandError("--discriminator needs --adversarial WEIGHT > 0")
    discriminator = (load_discriminator(args.discriminator, args.device)
                     if args.discriminator else None)
    config = distill_config(args)
    best = None
    if args.checkpoint:
        checkpoint = Path(args.checkpoint)
        best = checkpoint.with_name(checkpoint.stem + "_best.pth")
    with tempfile.TemporaryDirectory(prefix="deap-gan-prune-") as scratch:
        source, target = _folders(args, Path(scratch))
        try:
            result = distill_generator(students["G_A"], Teacher(teacher, mask, value), source,
                                       config, _options(args),
                                       target=target if args.adversarial > 0 else None,
                                       discriminator=discriminator, best=best)
        except ValueError as exc:
            if not str(exc).startswith("DistillLoss: "):
                raise
            raise CommandError(flagged(exc)) from None
    extra = {"finetune_steps": args.steps, "finetune": {
        "lr": args.lr, "decay_start": args.decay_start, "batch_size": args.batch_size,
        "image_size": config.image_size, "adversarial": args.adversarial,
        "train_images": len(result.train_files), "val_images": len(result.val_files),
        "best": result.best}, **range_entry(value)}
    kept = ""
    if result.best is not None:
        kept = (f"; kept the best validation, step {result.best['step']} (L1 "
                f"{result.best['l1']:.4f}, {result.best['psnr_db']:.2f} dB to the original)")
    return extra, (f"distilled {args.steps} steps toward the original on "
                   f"{len(result.train_files)} images ({len(result.val_files)} held out){kept}")

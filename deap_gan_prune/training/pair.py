"""The fine-tuning and once-for-all steps of a CycleGAN pair on its domain data: fitting
missing discriminators, fine-tuning both slim generators, training both supernets."""
from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..domains import DomainData, training_images
from ..files import atomic_write_json, images_hash
from ..nets.checkpoints import CycleGAN, save_discriminator, save_generator
from ..nets.groups import space_of
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from ..seeding import seeded
from .config import CycleGANConfig
from .discriminator import fit_discriminator
from .distill_config import DistillLoss
from .loop import History, finetune
from .losses import PairTeacher
from .supernet import SupernetConfig, train_supernet
from .validation import PairValidation


def ensure_discriminators(gan: CycleGAN, data: DomainData, steps: int = 500, seed: int = 0,
                          device: str | torch.device = "cpu", progress: bool = True,
                          ndf: int = 64) -> CycleGAN:
    """Fit missing discriminators against the frozen generators (official pretrained files
    hold generators only): D_A learns real B vs G_A(A), D_B real A vs G_B(B). The new ones
    are on ``device`` in eval mode; the generators and the caller's global random states are
    left as they were."""
    from ..nets.models import NLayerDiscriminator
    d_a, d_b = gan.d_a, gan.d_b
    config = CycleGANConfig(steps=steps, seed=seed)
    options = RunOptions(device=device, progress=progress)
    for name, direction in (("d_a", "A"), ("d_b", "B")):
        if getattr(gan, name) is None:
            with seeded(seed, [device]):
                d = NLayerDiscriminator(ndf=ndf).to(device)
                g = gan.g_a if direction == "A" else gan.g_b
                fit_discriminator(g, d, data.loader(4, seed), config, options,
                                  direction=direction)
            d_a, d_b = (d, d_b) if name == "d_a" else (d_a, d)
    assert d_a is not None
    assert d_b is not None  # both fitted above when missing
    return CycleGAN(gan.g_a, gan.g_b, d_a.eval(), d_b.eval())


def finetune_pair(gan: CycleGAN, slim_a: nn.Module, slim_b: nn.Module, data: DomainData,
                  config: CycleGANConfig | None = None, options: RunOptions | None = None, *,
                  stop: Callable[[], bool] | None = None,
                  masks: Sequence[tuple[Any, Sequence[int]]] | None = None) -> History:
    """Fine-tune the slim generators in place with the CycleGAN losses against copies of the
    original discriminators, distilling from the original generators when
    ``config.distill_weight`` > 0 (:func:`~deap_gan_prune.training.finetune`; batches of
    ``config.batch_size`` drawn with ``config.seed``).

    ``config.val_every`` > 0: every that many steps (and at step 0 and the end) the L1 and
    PSNR of both generators to the originals' outputs on ``data.val_a``/``data.val_b`` are
    measured (history ``val_*``), and with ``config.keep_best`` the pair ends with the weights
    of the lowest mean L1. ``options``: the device, the progress bar, the callback (every
    ``config.log_every`` steps) and the checkpoint: the training state, rewritten every
    ``config.checkpoint_every`` steps and at the end; with ``options.resume`` an existing one
    is continued to the same weights as a run never interrupted. ``stop()``, asked after
    every step, True writes the checkpoint and raises KeyboardInterrupt. The slim generators
    end in eval mode; ``gan``'s networks and the caller's global random states are left as
    they were. ``config.distill``: the distillation terms (None: L1),
    ``masks``: ``((space, bits), (space, bits))`` the slim generators were slimmed with
    (feature distillation on the kept channels). Returns the history."""
    config = CycleGANConfig() if config is None else config
    options = options or DEFAULT_OPTIONS
    if gan.d_a is None or gan.d_b is None:
        raise ValueError("finetune_pair: fine-tuning needs both original discriminators")
    if config.distill is not None and (config.distill_weight <= 0
                                       or config.distill == DistillLoss.l1_only()):
        config = dataclasses.replace(config, distill=None)
    device = options.device
    d_a, d_b = copy.deepcopy(gan.d_a).train(), copy.deepcopy(gan.d_b).train()
    validation = (PairValidation(gan.g_a, gan.g_b, data.val_a.to(device), data.val_b.to(device),
                                 config.batch_size, input_range=data.input_range)
                  if config.val_every > 0 else None)
    identity = {"data": data.name, "data_images": images_hash(data.val_a, data.val_b)}
    teacher = (PairTeacher(gan.g_a, gan.g_b, masks=masks, example=data.val_a[:1],
                           input_range=data.input_range)
               if config.distill_weight > 0 else None)
    history = finetune(CycleGAN(slim_a.train(), slim_b.train(), d_a, d_b),
                       data.loader(config.batch_size, config.seed), config, options,
                       teacher=teacher, validation=validation, identity=identity, stop=stop)
    slim_a.eval()
    slim_b.eval()
    return history


def supernet_generator(gan: CycleGAN, name: str, images: torch.Tensor,
                       out: str | os.PathLike, config: SupernetConfig | None = None,
                       options: RunOptions | None = None, *,
                       resume: bool = False) -> torch.nn.Module:
    """The once-for-all version of generator ``name`` ("G_A" or "G_B") of ``gan``
    (:func:`~.supernet.train_supernet` on ``images`` of its source domain,
    ``[N, 3, H, W]``), its training state in ``out/train_state_<name>.pt`` (it replaces
    ``options.checkpoint``), continued with ``resume``; its judging discriminator and its
    partner are passed for the GAN and cycle terms."""
    if name not in ("G_A", "G_B"):
        raise ValueError(f"supernet_generator: name must be 'G_A' or 'G_B', got {name!r}")
    g, d, partner = ((gan.g_a, gan.d_a, gan.g_b) if name == "G_A"
                     else (gan.g_b, gan.d_b, gan.g_a))
    options = (options or DEFAULT_OPTIONS).replace(
        checkpoint=Path(out) / f"train_state_{name}.pt", resume=resume)
    return train_supernet(g, images, space_of(g, images), config, options,
                          discriminator=d, partner=partner)


def supernet_pair(gan: CycleGAN, data: DomainData, out: str | os.PathLike,
                  config: SupernetConfig | None = None, options: RunOptions | None = None, *,
                  n_images: int = 64, resume: bool = False) -> CycleGAN:
    """Once-for-all versions of both generators (:func:`~.supernet.train_supernet` on
    ``n_images`` training images per domain, as ``config`` says), written to ``out`` as
    ``latest_net_{G_A,G_B}.pth`` (upstream keys, with their JSON) beside copies of the
    discriminators and ``supernet.json`` (the settings). The training states
    ``train_state_G_{A,B}.pt`` in ``out`` are rewritten as it goes (``options``: the device
    and the progress bars; its checkpoint is not used); with ``resume`` they are continued.
    With ``config.gan_weight > 0`` each generator also trains against the original
    discriminator that judges it (G_A: D_A, G_B: D_B; both needed), with
    ``config.cycle_weight > 0`` through the original partner generator. Returns the supernets
    with the original discriminators."""
    config = SupernetConfig() if config is None else config
    if config.gan_weight > 0 and not gan.has_discriminators:
        raise ValueError(f"supernet_pair: gan_weight {config.gan_weight} needs both original "
                         "discriminators (D_A, D_B), and this CycleGAN lacks them")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = training_images(data, n_images, config.seed)
    nets = [supernet_generator(gan, name, x, out, config, options, resume=resume)
            for name, x in zip(("G_A", "G_B"), images)]
    settings = {"steps": config.steps, "n_images": int(images[0].shape[0]),
                "seed": config.seed, "gan_weight": config.gan_weight,
                "cycle_weight": config.cycle_weight, "budgets": list(config.budgets),
                "n_random": config.n_random, "lr": config.lr, "batch_size": config.batch_size}
    for key in ("measures", "checkpoint_every"):
        if getattr(config, key) != getattr(SupernetConfig(), key):
            settings[key] = config.to_dict()[key]
    for name, net in zip(("G_A", "G_B"), nets):
        save_generator(net, out / f"latest_net_{name}.pth", extra={"supernet": settings})
    for name, d in (("D_A", gan.d_a), ("D_B", gan.d_b)):
        if d is not None:
            save_discriminator(d, out / f"latest_net_{name}.pth")
    atomic_write_json(out / "supernet.json", {"kind": "supernet", **settings})
    return CycleGAN(nets[0], nets[1], gan.d_a, gan.d_b)

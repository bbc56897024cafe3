"""Fit a discriminator against a frozen generator (for pretrained models shipped without one)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

from ..nets.frozen import borrowed
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from .config import CycleGANConfig
from .loop import History, cycle_batches, rng_scope
from .losses import discriminator_loss
from .pool import ImagePool

_SIDES = {"A": ("A", "B"), "B": ("B", "A")}  # direction -> (generator input, D's real domain)


def fit_discriminator(generator: nn.Module, discriminator: nn.Module, loader: Iterable,
                      config: CycleGANConfig | int | None = None,
                      options: RunOptions | None = None, *, direction: str = "A") -> History:
    """Train ``discriminator`` in place on real target-domain images (label 1) against the
    frozen ``generator``'s translations (label 0, through an image pool), upstream D loss.

    ``direction="A"``: the generator is G_A (A→B) and the discriminator D_A, real images are
    ``batch["B"]``, fakes ``G_A(batch["A"])``; ``"B"``: G_B (B→A), D_B, reals ``batch["A"]``.
    ``config``: a :class:`CycleGANConfig` (steps, lr, betas, pool, schedule, seed) or
    a number of steps. ``options``: the device and the progress bar. The generator's weights
    are not changed. Both networks run on ``options.device`` (the discriminator in train
    mode) and are given back on their devices, in their modes and with their gradient flags;
    the caller's global random states are left as they were. Returns the history (``step``,
    ``lr``, ``D``: the loss averaged over each ``log_every`` steps).
    """
    if direction not in _SIDES:
        raise ValueError(f"fit_discriminator: direction must be 'A' or 'B', got {direction!r}")
    if config is None or isinstance(config, int):
        config = CycleGANConfig() if config is None else CycleGANConfig(steps=config)
    options = options or DEFAULT_OPTIONS
    dev = torch.device(options.device)
    src, tgt = _SIDES[direction]
    history: History = defaultdict(list)
    window: list[float] = []
    with borrowed(generator, device=dev, requires_grad=False), \
            borrowed(discriminator, device=dev, training=True, requires_grad=True):
        opt = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=config.betas)
        pool = ImagePool(config.pool_size, seed=config.seed)
        batches = cycle_batches(loader, dev)
        with rng_scope(config.seed, dev), tqdm(total=config.steps, desc=f"fit D_{direction}",
                                               disable=not options.progress, leave=False) as bar:
            for step in range(config.steps):
                lr = config.lr_at(step)
                for group in opt.param_groups:
                    group["lr"] = lr
                batch = next(batches)
                with torch.no_grad():
                    fake = generator(batch[src])
                opt.zero_grad(set_to_none=True)
                loss = discriminator_loss(discriminator, batch[tgt], pool.query(fake))
                loss.backward()
                opt.step()
                window.append(float(loss.detach()))
                done = step + 1
                if done % config.log_every == 0 or done == config.steps:
                    history["step"].append(float(done))
                    history["lr"].append(lr)
                    history["D"].append(sum(window) / len(window))
                    bar.set_postfix(D=f"{history['D'][-1]:.3f}", refresh=False)
                    window.clear()
                bar.update(1)
    return dict(history)

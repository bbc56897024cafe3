"""Brief distillation of a candidate before it is scored: the adapted fitness's adaptation
(:class:`Distillation`) and the paper's optional per-candidate training
(:class:`BriefDistillation`).

The paper trains each pruned candidate for a short while on a small share of the training set
before computing its fitness. Here the candidate learns to reproduce the original generator's
outputs (an L1 distillation, which needs neither discriminator nor partner), so the step is
cheap, deterministic and fits :class:`GeneratorFitness`'s ``prepare`` slot. It runs the same
loop as the adapted fitness's adaptation (:class:`Distillation`).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Distillation:
    """``distil(network, inputs, targets, steps)``: Adam steps (lr ``lr``, β 0.5/0.999) of the
    L1 loss between ``network(inputs[b])`` and ``targets[b]`` for batches ``b`` of
    ``batch_size`` indices drawn once from ``seed`` (so every candidate sees the same batches).
    Trains in place; can continue where an earlier call stopped (``start``)."""

    def __init__(self, n_images: int, steps: int, batch_size: int = 4, lr: float = 2e-4,
                 seed: int = 0) -> None:
        if n_images <= 0 and steps > 0:
            raise ValueError("adaptation needs at least one adaptation image")
        order = torch.Generator().manual_seed(seed)
        self.batches = [torch.randint(0, n_images, (batch_size,), generator=order)
                        for _ in range(steps)]
        self.lr = lr

    def optimizer(self, network: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(network.parameters(), lr=self.lr, betas=(0.5, 0.999))

    def __call__(self, network: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                 optimizer: torch.optim.Optimizer, start: int = 0, stop: int | None = None
                 ) -> nn.Module:
        network.train()
        for index in self.batches[start:stop]:
            loss = (network(inputs[index]) - targets[index]).abs().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return network.eval()


class BriefDistillation:
    """``prepare(slim_generator) -> slim_generator`` trained ``steps`` Adam steps (lr ``lr``)
    to match ``targets`` (the original generator's outputs ``[n, C, H, W]``) on ``images``
    (``[n, C, H, W]``), ``batch_size`` images at a time, batches drawn with ``seed``.
    Picklable (plain tensors and numbers), so it travels with the fitness to workers."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, steps: int = 20,
                 lr: float = 2e-4, batch_size: int = 4, seed: int = 0) -> None:
        if images.shape[0] != targets.shape[0] or images.shape[0] == 0:
            raise ValueError(f"images and targets must be non-empty and of one length, got "
                             f"{images.shape[0]} and {targets.shape[0]}")
        self.images, self.targets = images.detach().cpu(), targets.detach().cpu()
        self.steps, self.lr, self.batch_size, self.seed = steps, lr, batch_size, seed

    @classmethod
    def from_generator(cls, generator: nn.Module, images: torch.Tensor, **options: Any
                       ) -> BriefDistillation:
        """Targets computed once by the original ``generator``."""
        with torch.no_grad():
            was_training = generator.training
            targets = generator.eval()(images)
            generator.train(was_training)
        return cls(images, targets, **options)

    def __call__(self, generator: nn.Module) -> nn.Module:
        param = next(generator.parameters())
        images, targets = self.images.to(param.device), self.targets.to(param.device)
        distil = Distillation(images.shape[0], self.steps, self.batch_size, self.lr, self.seed)
        return distil(generator, images, targets, distil.optimizer(generator))

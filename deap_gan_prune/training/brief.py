"""Brief training of a candidate before it is scored (the paper's optional variant).

The paper trains each pruned candidate for a short while on a small share of the training set
before computing its fitness. Here the candidate learns to reproduce the original generator's
outputs (an L1 distillation, which needs neither discriminator nor partner), so the step is
cheap, deterministic and fits :class:`GeneratorFitness`'s ``prepare`` slot.
"""
from __future__ import annotations

import torch
from torch import nn


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
    def from_generator(cls, generator: nn.Module, images: torch.Tensor, **options
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
        order = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.Adam(generator.parameters(), lr=self.lr, betas=(0.5, 0.999))
        generator.train()
        for _ in range(self.steps):
            index = torch.randint(0, images.shape[0], (self.batch_size,), generator=order)
            loss = (generator(images[index.to(param.device)]) -
                    targets[index.to(param.device)]).abs().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return generator.eval()

"""Per-channel importance scores aligned with a mask space's bits (L1 filter norms).

Scores rank channels *within a group*; consumers (``repairBudget``, ``initMaskImportance``)
normalise them per group before comparing groups.
"""
from __future__ import annotations

from typing import cast

import torch
from torch import nn

from ..core.maskspace import MaskSpace


def filter_l1(conv: nn.Module) -> torch.Tensor:
    """L1 norm of each output filter's weights (bias excluded), shape ``[out_channels]``.

    Conv2d weights are ``[out, in, k, k]``; ConvTranspose2d weights are ``[in, out, k, k]``,
    so their output filters lie along dim 1.
    """
    w = cast(torch.Tensor, conv.weight).detach()
    if isinstance(conv, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return w.abs().flatten(1).sum(dim=1)


def _combined(norms: list[torch.Tensor]) -> torch.Tensor:
    """One conv's norms as they are; several convs' as the mean of norm / conv's mean norm."""
    if len(norms) == 1:
        return norms[0]
    return torch.stack([n / n.mean().clamp_min(1e-12) for n in norms]).mean(0)


def l1_importance(generator: nn.Module, space: MaskSpace) -> list[float]:
    """One score per bit of ``space`` (higher = more important), as Python floats.

    A group written by one conv (the ResNet's first, down1, each block's inner width, up1,
    up2) scores each channel by its filter's L1 norm (sum of |weights|, bias excluded; Li et
    al. 2017). A group written by several convs (a residual stream: the ResNet's second down
    conv and every block's second conv; in the tied layout also every block's first conv)
    scores each channel by the mean over those convs of its filter's L1 norm divided by that
    conv's mean filter norm, so every conv counts equally whatever its weight scale
    (dimensionless, group mean 1). A bit of a block group scores the mean over its channels.
    """
    if not space.matches(generator):
        raise ValueError("l1_importance: the generator's convs or widths differ from the mask "
                         "space's")
    modules = dict(generator.named_modules())
    scores: list[float] = []
    with torch.no_grad():
        for gi, group in enumerate(space.groups):
            writers = [modules[c.name] for c in space.convs if c.out_group == gi]
            combined = _combined([filter_l1(c).double().cpu() for c in writers])
            if group.block > 1:  # one score per bit: the mean over its block of channels
                combined = combined.view(group.size, group.block).mean(1)
            scores += [float(v) for v in combined.tolist()]
    return scores

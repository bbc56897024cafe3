"""Upstream CycleGAN weight initialisation (``--init_type normal --init_gain 0.02``)."""
from __future__ import annotations

import torch
from torch import nn


def init_weights(module: nn.Module, gain: float = 0.02, seed: int | None = None) -> nn.Module:
    """Set every conv / transposed-conv / linear weight to N(0, gain²) and its bias to 0, in
    place (as upstream ``init_weights`` with ``init_type="normal"``). With ``seed``, the draws
    come from a generator of their own (the global RNG is untouched). Returns ``module``."""
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = torch.randn(m.weight.shape, generator=generator) * gain
                m.weight.copy_(w.to(m.weight))
                if m.bias is not None:
                    m.bias.zero_()
    return module

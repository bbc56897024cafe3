"""A style network with a layer of the user's own: a conditional instance norm holding a
``[n_styles, C]`` table of scales and shifts (and a per-style buffer), declared to the
tracing through ``channel_dims``."""
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn


class CondIN(nn.Module):
    """Instance norm with one scale and shift per style and channel; ``style`` picks the row."""

    channel_dims: ClassVar[dict[str, int]] = {"scale": 1, "shift": 1, "offset": 1}
    channel_count = "num_features"

    def __init__(self, channels: int, n_styles: int = 3, style: int = 1) -> None:
        super().__init__()
        self.num_features, self.style = channels, style
        self.scale = nn.Parameter(1 + 0.2 * torch.randn(n_styles, channels))
        self.shift = nn.Parameter(0.2 * torch.randn(n_styles, channels))
        self.register_buffer("offset", 0.1 * torch.randn(n_styles, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        row = self.scale[self.style], self.shift[self.style] + self.offset[self.style]
        return F.instance_norm(x) * row[0].view(1, -1, 1, 1) + row[1].view(1, -1, 1, 1)


class Undeclared(CondIN):
    """The same layer without its declaration: refused by the tracing."""

    channel_dims = None  # type: ignore[assignment]


class Widening(CondIN):
    """A declared layer that doubles its channels: refused (build it from convolutions)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([super().forward(x)] * 2, 1)


class CondStyleNet(nn.Module):
    """Fast-style-transfer shape: reflect-padded convs, a stride-2 down, two residual blocks,
    nearest up-sampling, every norm a :class:`CondIN`."""

    def __init__(self, ngf: int = 8, n_styles: int = 3, norm: type[CondIN] = CondIN) -> None:
        super().__init__()
        self.contract = nn.Sequential(
            nn.ReflectionPad2d(2), nn.Conv2d(3, ngf, 5), norm(ngf, n_styles), nn.ReLU(),
            nn.Conv2d(ngf, 2 * ngf, 3, stride=2, padding=1), norm(2 * ngf, n_styles),
            nn.ReLU())
        self.blocks = nn.ModuleList(nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(2 * ngf, 2 * ngf, 3), norm(2 * ngf, n_styles),
            nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(2 * ngf, 2 * ngf, 3),
            norm(2 * ngf, n_styles)) for _ in range(2))
        self.expand = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.ReflectionPad2d(1), nn.Conv2d(2 * ngf, ngf, 3),
            norm(ngf, n_styles), nn.ReLU(), nn.ReflectionPad2d(2), nn.Conv2d(ngf, 3, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.contract(x)
        for block in self.blocks:
            y = y + block(y)
        return torch.tanh(self.expand(y))


class UndeclaredStyleNet(CondStyleNet):
    def __init__(self, ngf: int = 8) -> None:
        super().__init__(ngf, norm=Undeclared)


class WideningNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.norm, self.b = nn.Conv2d(3, 4, 3, padding=1), Widening(4), \
            nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.norm(self.a(x)))

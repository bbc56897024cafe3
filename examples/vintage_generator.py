"""The real pretrained generator of ``real_photos.py`` and of the real-model benchmarks: a
CycleGAN ResNet generator (ngf 64, 9 blocks, InstanceNorm with affine weights, blocks named
``block``; 11,388,675 parameters) with the layout of the MIT-licensed ``vintagify`` package's
modern → vintage photo filter. The class is written here (the package's own imports
torchvision); its weights are read from the installed package, never downloaded.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

WEIGHTS = "resources/G_A2B_epoch33.pth"
INSTALL = "pip install --no-deps vintagify==0.1.2"


class VintageBlock(nn.Module):
    """``x + block(x)``: pad, 3x3 conv, affine InstanceNorm, ReLU, pad, 3x3 conv, norm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim, affine=True),
            nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class VintageGenerator(nn.Module):
    """The upstream ResNet generator with affine InstanceNorms; ``[N, 3, H, W]`` in [-1, 1]
    to the same (H, W multiples of 4)."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                 n_blocks: int = 9) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7),
                                   nn.InstanceNorm2d(ngf, affine=True), nn.ReLU()]
        width = ngf
        for _ in range(2):
            layers += [nn.Conv2d(width, width * 2, 3, stride=2, padding=1),
                       nn.InstanceNorm2d(width * 2, affine=True), nn.ReLU()]
            width *= 2
        layers += [VintageBlock(width) for _ in range(n_blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1,
                                          output_padding=1),
                       nn.InstanceNorm2d(width // 2, affine=True), nn.ReLU()]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MissingWeights(RuntimeError):
    """The pretrained weights are not installed; the message says how to install them."""


def weights_path(path: str | os.PathLike | None = None) -> Path:
    """``path``, or the weights inside the installed ``vintagify`` package."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise MissingWeights(f"{path}: no such weights file")
        return path
    spec = importlib.util.find_spec("vintagify")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeights(f"the real pretrained generator is not installed: {INSTALL} "
                             "(or give the weights file's path)")
    found = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS
    if not found.is_file():
        raise MissingWeights(f"{found}: missing from the installed vintagify; {INSTALL}")
    return found


def load_real_generator(path: str | os.PathLike | None = None) -> VintageGenerator:
    """The pretrained generator in eval mode (CPU, float32), read with ``weights_only``."""
    path = weights_path(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    generator = VintageGenerator()
    generator.load_state_dict(state)
    return generator.eval()

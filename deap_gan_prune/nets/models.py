"""CycleGAN networks with the upstream (junyanz/pytorch-CycleGAN-and-pix2pix) state-dict keys.

``ResnetGenerator`` also takes per-layer widths, so a pruned generator is the same class with
smaller widths and the same key names. Networks know nothing of masks or evolution.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import torch
from torch import nn

from ..core.widths import GeneratorWidths


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """``out = x + conv_block(x)``; conv_block: pad, conv(dim→inner), IN, ReLU, [dropout],
    pad, conv(inner→dim), IN. Keys ``conv_block.{1,5}`` (``{1,6}`` with dropout)."""

    def __init__(self, dim: int, inner: int | None = None, use_dropout: bool = False) -> None:
        super().__init__()
        inner = dim if inner is None else inner
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, inner, 3, bias=True),
                                   _norm(inner), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(inner, dim, 3, bias=True), _norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    @property
    def conv1(self) -> nn.Conv2d:
        return cast(nn.Conv2d, self.conv_block[1])

    @property
    def conv2(self) -> nn.Conv2d:
        return cast(nn.Conv2d, self.conv_block[len(self.conv_block) - 2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN ResNet generator (``--netG resnet_{n}blocks --norm instance``).

    Input and output: ``[N, input_nc, H, W]`` → ``[N, output_nc, H, W]`` in [-1, 1], H and W
    divisible by 4. Either give ``ngf``/``n_blocks`` (the upstream widths) or ``widths`` (or their
    ``to_dict()``).
    Keys: ``model.{1,4,7}`` convs, ``model.{10..}`` blocks, then two transposed convs and the
    last 7x7 conv (``model.{19,22,26}`` for 9 blocks).
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 widths: GeneratorWidths | Mapping | None = None,
                 use_dropout: bool = False) -> None:
        super().__init__()
        if widths is None:
            widths = GeneratorWidths.default(ngf, n_blocks, input_nc, output_nc)
        elif isinstance(widths, Mapping):  # as a generator file's JSON records them
            widths = GeneratorWidths.from_dict(dict(widths))
        self.n_blocks = widths.n_blocks
        self.use_dropout = use_dropout
        w = widths
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(w.input_nc, w.first, 7, bias=True), _norm(w.first),
            nn.ReLU(True),
            nn.Conv2d(w.first, w.down1, 3, stride=2, padding=1, bias=True), _norm(w.down1),
            nn.ReLU(True),
            nn.Conv2d(w.down1, w.stream, 3, stride=2, padding=1, bias=True), _norm(w.stream),
            nn.ReLU(True),
        ]
        layers += [ResnetBlock(w.stream, m, use_dropout) for m in w.inner]
        layers += [
            nn.ConvTranspose2d(w.stream, w.up1, 3, stride=2, padding=1, output_padding=1,
                               bias=True), _norm(w.up1), nn.ReLU(True),
            nn.ConvTranspose2d(w.up1, w.up2, 3, stride=2, padding=1, output_padding=1,
                               bias=True), _norm(w.up2), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(w.up2, w.output_nc, 7, bias=True), nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)

    @property
    def widths(self) -> GeneratorWidths:
        """The widths, read from the layers (a slimmed copy reports its own)."""
        nb = self.n_blocks

        def conv(i: int) -> nn.Conv2d:
            return cast(nn.Conv2d, self.model[i])
        return GeneratorWidths(
            conv(1).out_channels, conv(4).out_channels, conv(7).out_channels,
            tuple(block.conv1.out_channels for block in self.blocks),
            conv(10 + nb).out_channels, conv(13 + nb).out_channels, conv(1).in_channels,
            conv(17 + nb).out_channels)

    # Named access to the prunable layers (indices follow the upstream layout).
    @property
    def blocks(self) -> list[ResnetBlock]:
        return [cast(ResnetBlock, self.model[10 + b]) for b in range(self.n_blocks)]

    def slot_convs(self) -> dict[str, nn.Module]:
        """The conv whose output channels each width slot counts (``stream``: second down conv;
        the blocks' second convs also write the stream and are listed as ``stream.b``)."""
        nb = self.n_blocks
        convs: dict[str, nn.Module] = {"first": self.model[1], "down1": self.model[4],
                                       "stream": self.model[7]}
        for b, block in enumerate(self.blocks):
            convs[f"inner{b}"] = block.conv1
            convs[f"stream.{b}"] = block.conv2
        convs["up1"] = self.model[10 + nb]
        convs["up2"] = self.model[13 + nb]
        convs["last"] = self.model[17 + nb]
        return convs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """The PatchGAN discriminator (``--netD basic``: n_layers 3, instance norm).

    ``[N, input_nc, H, W]`` → a patch score map ``[N, 1, H', W']`` (30x30 for 256x256).
    Keys ``model.{0,2,5,8,11}`` for 3 layers.
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        self.input_nc, self.ndf, self.n_layers = input_nc, ndf, n_layers
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=True),
                       _norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=True),
                   _norm(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Intermediate activations (after every LeakyReLU) followed by the score map."""
        feats = []
        for layer in self.model:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(x)
        feats.append(x)
        return feats


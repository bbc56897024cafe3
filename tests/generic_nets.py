"""Small generators of other architectures than the upstream ResNet, for the tests of
channel-group discovery (toy sizes: ngf 4-8, 32x32 or 128x128 images)."""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


class AffineBlock(nn.Module):
    """A residual block with affine InstanceNorm, its layers named (no Sequential)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pad1, self.conv1 = nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3)
        self.norm1 = nn.InstanceNorm2d(dim, affine=True)
        self.pad2, self.conv2 = nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3)
        self.norm2 = nn.InstanceNorm2d(dim, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(self.pad1(x))))
        return x + self.norm2(self.conv2(self.pad2(y)))


class AffineResnet(nn.Module):
    """A CycleGAN-like ResNet generator with InstanceNorm(affine=True) and blocks in a
    ModuleList named ``block`` (another package's layout)."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 8,
                 n_blocks: int = 2) -> None:
        super().__init__()
        self.head = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf, affine=True),
            nn.ReLU(True), nn.Conv2d(ngf, 2 * ngf, 3, 2, 1),
            nn.InstanceNorm2d(2 * ngf, affine=True), nn.ReLU(True))
        self.block = nn.ModuleList(AffineBlock(2 * ngf) for _ in range(n_blocks))
        self.tail = nn.Sequential(
            nn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, output_padding=1),
            nn.InstanceNorm2d(ngf, affine=True), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        for b in self.block:
            x = b(x)
        return self.tail(x)


class DeepResnet(nn.Module):
    """A ResNet generator with three stride-2 down-samplings, dropout inside the blocks and
    affine-free InstanceNorm."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 4,
                 n_blocks: int = 2) -> None:
        super().__init__()
        norm = functools.partial(nn.InstanceNorm2d, affine=False)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), norm(ngf), nn.ReLU(True)]
        c = ngf
        for _ in range(3):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm(2 * c), nn.ReLU(True)]
            c *= 2
        self.down = nn.Sequential(*layers)
        self.res = nn.ModuleList(
            nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c), nn.ReLU(True),
                          nn.Dropout(0.5), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c))
            for _ in range(n_blocks))
        layers = []
        for _ in range(3):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), norm(c // 2),
                       nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, output_nc, 7), nn.Tanh()]
        self.up = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        for block in self.res:
            x = x + block(x)
        return self.up(x)


class UnetSkipConnectionBlock(nn.Module):
    """pix2pix's U-Net block (junyanz/pytorch-CycleGAN-and-pix2pix), unchanged:
    ``x -> cat([x, submodule(x)], 1)``."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        use_bias = norm_layer == nn.InstanceNorm2d
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1,
                             bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                        padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                        padding=1, bias=use_bias)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """pix2pix's U-Net (``--netG unet_128``: num_downs 7, BatchNorm, skip concatenations)."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 7, ngf: int = 4,
                 use_dropout: bool = False) -> None:
        super().__init__()
        norm_layer = nn.BatchNorm2d
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block,
                                            norm_layer=norm_layer, use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=norm_layer)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm_layer=norm_layer)

    def forward(self, x):
        return self.model(x)


class StyleNet(nn.Module):
    """A fast-style-transfer network (Johnson et al.): up-sampling by nearest interpolation
    followed by a conv, instead of transposed convs; residual blocks scaled by 0.5."""

    def __init__(self, ngf: int = 8) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, ngf, 9, padding=4, padding_mode="reflect")
        self.n1 = nn.InstanceNorm2d(ngf, affine=True)
        self.c2 = nn.Conv2d(ngf, 2 * ngf, 3, 2, 1)
        self.n2 = nn.InstanceNorm2d(2 * ngf, affine=True)
        self.r1 = nn.Conv2d(2 * ngf, 2 * ngf, 3, padding=1)
        self.rn1 = nn.InstanceNorm2d(2 * ngf, affine=True)
        self.r2 = nn.Conv2d(2 * ngf, 2 * ngf, 3, padding=1)
        self.rn2 = nn.InstanceNorm2d(2 * ngf, affine=True)
        self.u1 = nn.Conv2d(2 * ngf, ngf, 3, padding=1)
        self.un1 = nn.InstanceNorm2d(ngf, affine=True)
        self.out = nn.Conv2d(ngf, 3, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.n1(self.c1(x)))
        y = F.relu(self.n2(self.c2(y)))
        y = y + 0.5 * self.rn2(self.r2(F.relu(self.rn1(self.r1(y)))))
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = F.relu(self.un1(self.u1(y)))
        return torch.tanh(self.out(y))


class WithLinear(nn.Module):
    """A generator with a layer the channel tracing does not support (a Linear on pixels)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.mix = nn.Linear(32, 32)
        self.out = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.mix(self.conv(x)))


class InvertedResidual(nn.Module):
    """MobileNetV2's block: pointwise expand, depthwise 3x3, pointwise project, plus the
    input."""

    def __init__(self, dim: int, expand: int = 2) -> None:
        super().__init__()
        hidden = dim * expand
        self.expand = nn.Sequential(nn.Conv2d(dim, hidden, 1, bias=False),
                                    nn.BatchNorm2d(hidden), nn.ReLU6(True))
        self.depthwise = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden,
                                                 bias=False),
                                       nn.BatchNorm2d(hidden), nn.ReLU6(True))
        self.project = nn.Sequential(nn.Conv2d(hidden, dim, 1, bias=False), nn.BatchNorm2d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.depthwise(self.expand(x)))


class SeparableNet(nn.Module):
    """A generator of depthwise-separable convs: a depthwise 3x3 (stride 2, with bias) then a
    pointwise 1x1, MobileNetV2 inverted residual blocks, nearest up-sampling."""

    def __init__(self, ngf: int = 4, n_blocks: int = 2) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, ngf, 3, padding=1), nn.InstanceNorm2d(ngf),
                                  nn.ReLU(True))
        self.separable = nn.Sequential(
            nn.Conv2d(ngf, ngf, 3, 2, 1, groups=ngf), nn.BatchNorm2d(ngf), nn.ReLU6(True),
            nn.Conv2d(ngf, 2 * ngf, 1), nn.BatchNorm2d(2 * ngf), nn.ReLU6(True))
        self.blocks = nn.Sequential(*(InvertedResidual(2 * ngf) for _ in range(n_blocks)))
        self.tail = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(2 * ngf, 3, 3,
                                                                         padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.blocks(self.separable(self.head(x))))


class GroupedConvNet(nn.Module):
    """A generator with a grouped conv that is not depthwise (``groups`` given)."""

    def __init__(self, groups: int = 2, out_multiplier: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8 * out_multiplier, 3, padding=1, groups=groups)
        self.out = nn.Conv2d(8 * out_multiplier, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.grouped(F.relu(self.conv(x)))))


class GroupNormNet(nn.Module):
    """A generator normalised by GroupNorm with several channels per norm-group: the head's
    GroupNorm(4, ngf), a residual stream under GroupNorm(4, 2ngf), block-inner GroupNorm(16,
    2ngf) (2 channels per group) and an up-sampling under GroupNorm(2, ngf)."""

    def __init__(self, ngf: int = 16, n_blocks: int = 2) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, ngf, 3, padding=1), nn.GroupNorm(4, ngf),
                                  nn.SiLU(), nn.Conv2d(ngf, 2 * ngf, 3, 2, 1),
                                  nn.GroupNorm(4, 2 * ngf), nn.SiLU())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * ngf, 2 * ngf, 3, padding=1), nn.GroupNorm(16, 2 * ngf),
                          nn.SiLU(), nn.Conv2d(2 * ngf, 2 * ngf, 3, padding=1),
                          nn.GroupNorm(4, 2 * ngf))
            for _ in range(n_blocks))
        self.tail = nn.Sequential(nn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, output_padding=1),
                                  nn.GroupNorm(2, ngf), nn.SiLU(), nn.Conv2d(ngf, 3, 3, padding=1),
                                  nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        for block in self.blocks:
            x = x + block(x)
        return self.tail(x)


class MixedGroupNormNet(nn.Module):
    """One channel group (a residual stream) under GroupNorms of different channels per group
    (8 and 4): kept whole. Its block-inner group (GroupNorm(8, 16)) stays prunable."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.stem_norm = nn.Conv2d(3, 16, 3, padding=1), nn.GroupNorm(2, 16)
        self.inner, self.inner_norm = nn.Conv2d(16, 16, 3, padding=1), nn.GroupNorm(8, 16)
        self.back, self.back_norm = nn.Conv2d(16, 16, 3, padding=1), nn.GroupNorm(4, 16)
        self.out = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.stem_norm(self.stem(x)))
        x = x + self.back_norm(self.back(F.silu(self.inner_norm(self.inner(x)))))
        return self.out(x)


class UnshuffleDenoiser(nn.Module):
    """A colour denoiser in the style of FFDNet: the image pixel-unshuffled (3 -> 12 channels
    at half the size) with a noise-level map concatenated, convolved, then pixel-shuffled
    back. Its first convolution reads 13 channels; the image has 3."""

    def __init__(self, ngf: int = 16, sigma: float = 0.1) -> None:
        super().__init__()
        self.sigma = sigma
        self.head = nn.Sequential(nn.Conv2d(13, ngf, 3, padding=1), nn.ReLU(True))
        self.body = nn.Sequential(nn.Conv2d(ngf, ngf, 3, padding=1),
                                  nn.InstanceNorm2d(ngf, affine=True), nn.ReLU(True))
        self.tail = nn.Conv2d(ngf, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.pixel_unshuffle(x, 2)
        y = torch.cat([y, torch.full_like(y[:, :1], self.sigma)], 1)
        return torch.tanh(F.pixel_shuffle(self.tail(self.body(self.head(y))), 2))


class ShuffleUpscaler(nn.Module):
    """A super-resolution network: a head conv, residual blocks scaled by ``res_scale``, then a
    conv to 4x the channels and a pixel-shuffle doubling each side (the output is 2H x 2W for
    an H x W image). ESPCN-like by default (the last conv writes 4x the image's channels,
    shuffled into the output); with ``hidden_shuffle``, EDSR-like (the features are shuffled,
    then a tail conv writes the image)."""

    def __init__(self, ngf: int = 8, n_blocks: int = 1, res_scale: float = 0.5,
                 hidden_shuffle: bool = False) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.head = nn.Conv2d(3, ngf, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(ngf, ngf, 3, padding=1), nn.ReLU(True),
                          nn.Conv2d(ngf, ngf, 3, padding=1))
            for _ in range(n_blocks))
        shuffled = ngf if hidden_shuffle else 3
        self.up = nn.Sequential(nn.Conv2d(ngf, 4 * shuffled, 3, padding=1), nn.PixelShuffle(2))
        self.tail = nn.Conv2d(ngf, 3, 3, padding=1) if hidden_shuffle else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(x)
        for block in self.blocks:
            y = y + self.res_scale * block(y)
        return torch.tanh(self.tail(self.up(y)))


class SqueezeExcite(nn.Module):
    """Channel attention (squeeze-and-excitation): ``x * sigmoid(fc2(relu(fc1(avgpool(x)))))``
    with 1x1 convs as the two fully connected layers."""

    def __init__(self, dim: int, reduction: int = 2) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, dim // reduction, 1)
        self.fc2 = nn.Conv2d(dim // reduction, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(w))))


class AttentionNet(nn.Module):
    """A generator of residual blocks with channel attention (RCAN-like): each block is conv,
    ReLU, conv, squeeze-and-excitation, plus its input."""

    def __init__(self, ngf: int = 8, n_blocks: int = 2) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, ngf, 3, padding=1), nn.ReLU(True))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(ngf, ngf, 3, padding=1), nn.ReLU(True),
                          nn.Conv2d(ngf, ngf, 3, padding=1), SqueezeExcite(ngf))
            for _ in range(n_blocks))
        self.tail = nn.Conv2d(ngf, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(x)
        for block in self.blocks:
            y = y + block(y)
        return torch.tanh(self.tail(y))


class DenseBlock(nn.Module):
    """ESRGAN's residual dense block: every conv reads the concatenation of the block's input
    and all earlier growths; the last one maps back to ``dim``, scaled by 0.2 and added to the
    input."""

    def __init__(self, dim: int, growth: int, n_convs: int = 3) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(dim + i * growth, growth, 3, padding=1)
                                   for i in range(n_convs - 1))
        self.last = nn.Conv2d(dim + (n_convs - 1) * growth, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs:
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2))
        return x + 0.2 * self.last(torch.cat(features, 1))


class DenseNet(nn.Module):
    """An RRDB-like generator: a head conv, residual dense blocks whose chain is itself scaled
    by 0.2 and added to its input, a trunk conv over the whole chain plus the head's output,
    and a tail conv."""

    def __init__(self, ngf: int = 8, growth: int = 4, n_blocks: int = 2) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, ngf, 3, padding=1)
        self.blocks = nn.Sequential(*(DenseBlock(ngf, growth) for _ in range(n_blocks)))
        self.trunk = nn.Conv2d(ngf, ngf, 3, padding=1)
        self.tail = nn.Conv2d(ngf, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(x)
        y = y + self.trunk(y + 0.2 * self.blocks(y))
        return torch.tanh(self.tail(F.leaky_relu(y, 0.2)))


class FeatureUnshuffleNet(nn.Module):
    """A generator that down-samples its features (not the image) by pixel-unshuffle: a conv's
    ``ngf`` channels become ``4 ngf`` at half the size, read by the next conv; nearest
    up-sampling back."""

    def __init__(self, ngf: int = 4) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, ngf, 3, padding=1)
        self.body = nn.Conv2d(4 * ngf, 2 * ngf, 3, padding=1)
        self.tail = nn.Conv2d(2 * ngf, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.pixel_unshuffle(F.relu(self.head(x)), 2)
        y = F.interpolate(F.relu(self.body(y)), scale_factor=2)
        return torch.tanh(self.tail(y))


# -- a generator that takes its images in [0, 1] (tests of --input-range) ----------------------
class UnitRangeNet(nn.Module):
    """A generator trained on images in [0, 1]: its output is its input plus a small learned
    change of the image's centred values, so ``f(a x + b) = a f(x) + b`` for ``a > 0`` (for any
    kept channels): the same pixels give the same output pixels in any range. Every call records
    the smallest input value in the class attribute ``lowest`` (reset it before a run)."""

    lowest = float("inf")

    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.inner = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.outer = nn.Conv2d(width, 3, 3, padding=1, bias=False)
        self.register_forward_pre_hook(UnitRangeNet._record)

    @staticmethod
    def _record(_module: nn.Module, inputs: tuple) -> None:
        x = inputs[0]
        if isinstance(x, torch.Tensor) and x.numel():
            UnitRangeNet.lowest = min(UnitRangeNet.lowest, float(x.detach().min()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(dim=(2, 3), keepdim=True)
        return x + 0.1 * self.outer(F.relu(self.inner(centred)))  # relu(a z) = a relu(z), a > 0

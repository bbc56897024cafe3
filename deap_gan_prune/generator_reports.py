"""Sizes and latency of generators side by side, and their translations of the test images."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from .core.maskspace import MaskSpace
from .domains import DomainData
from .imagerange import DEFAULT_RANGE, InputRange
from .metrics.evaluation import generator_latency, translate
from .nets.checkpoints import CycleGAN
from .nets.counting import image_channels
from .nets.groups import space_of


def full_space(generator: nn.Module, image_size: int) -> MaskSpace:
    """``generator``'s mask space (:func:`space_of`, traced at ``image_size`` when it must
    be)."""
    return space_of(generator, torch.zeros(1, image_channels(generator), image_size,
                                           image_size))


def size_report(generator: nn.Module, image_size: int, space: MaskSpace | None = None
                ) -> dict:
    """Parameters and MACs (both conventions) at ``image_size`` and at 256×256 of
    ``generator``, from its mask space (``space``, default :func:`full_space`)."""
    space = space or full_space(generator, image_size)
    full = space.full()
    return {**space_size_report(space, full, image_size),
            "macs_output_256": space.size(full, "macs", 256, "output"),
            "macs_real_256": space.size(full, "macs", 256, "real")}


def space_size_report(space: MaskSpace, bits: Sequence[int], image_size: int) -> dict:
    """Parameters and MACs (both conventions, at ``image_size``) of the network that ``bits``
    keeps in ``space`` (any architecture, from the space's closed forms)."""
    return {"parameters": space.size(bits),
            f"macs_output_{image_size}": space.size(bits, "macs", image_size, "output"),
            f"macs_real_{image_size}": space.size(bits, "macs", image_size, "real")}


def single_generator_report(original: nn.Module, pruned: nn.Module, space: MaskSpace,
                            bits: Sequence[int],
                            image_size: int, repeats: int = 20,
                            device: str | torch.device = "cpu",
                            input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Sizes of a generator of any architecture and of its pruned version (from ``space``:
    the original is ``space.full()``, the pruned one ``bits``), their latency side by side
    at ``image_size`` (on images in ``input_range``) and the channels kept per group."""
    return {"sizes": {"original": space_size_report(space, space.full(), image_size),
                      "pruned": space_size_report(space, bits, image_size)},
            "latency": {f"{image_size}px": latency_report(original, pruned, image_size,
                                                          repeats=repeats, device=device,
                                                          input_range=input_range)},
            "kept": space.kept(bits)}


def latency_report(original: nn.Module, pruned: nn.Module, image_size: int,
                   batch_size: int = 1, repeats: int = 20,
                   device: str | torch.device = "cpu",
                   input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Median forward time of both generators, measured interleaved, and their ratio, on
    random images in ``input_range``."""
    x = input_range.from_signed(torch.rand(batch_size, image_channels(original), image_size,
                                           image_size, device=device) * 2 - 1)
    times = generator_latency({"original": original, "pruned": pruned}, x, repeats=repeats)
    original_s, pruned_s = times["original"]["median_s"], times["pruned"]["median_s"]
    return {"image_size": image_size, "batch_size": batch_size, "repeats": repeats,
            "original_ms": 1e3 * original_s, "pruned_ms": 1e3 * pruned_s,
            "speedup": original_s / pruned_s}


def generator_report(original: nn.Module, pruned: nn.Module, image_size: int,
                     latency_sizes: Iterable[int] | None = None, repeats: int = 20,
                     device: str | torch.device = "cpu",
                     input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Sizes of both generators, their latency side by side at each of ``latency_sizes``
    pixels (default: ``image_size`` and 256) and the pruned network's widths (the upstream
    ResNet's view of its mask space; None for other generators)."""
    sizes_px = sorted(set(latency_sizes or (image_size, 256)))
    space = full_space(pruned, image_size)
    widths = space.widths
    return {"sizes": {"original": size_report(original, image_size),
                      "pruned": size_report(pruned, image_size, space)},
            "latency": {f"{s}px": latency_report(original, pruned, s, repeats=repeats,
                                                 device=device, input_range=input_range)
                        for s in sizes_px},
            "widths": None if widths is None else widths.to_dict()}


def translations(gan_or_pair: CycleGAN | tuple[nn.Module, nn.Module],
                 data: DomainData) -> dict[str, torch.Tensor]:
    """``{"a2b": G_A(test A), "b2a": G_B(test B)}``."""
    g_a, g_b = (gan_or_pair.g_a, gan_or_pair.g_b) if isinstance(gan_or_pair, CycleGAN) \
        else gan_or_pair
    return {"a2b": translate(g_a, data.test_a), "b2a": translate(g_b, data.test_b)}

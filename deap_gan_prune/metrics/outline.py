"""Colour measures inside the horse outline: checks of a translation that no network can fool.

A horse→zebra generator should turn the pixels inside the horse's outline black and white; a
zebra→horse generator should turn them brown. Both measures read HSV (hue, saturation, value,
each in [0, 1]) of every pixel inside the outline; pixels outside are ignored.

Thresholds (on the synthetic data the brown horses use hue 18°–36°, saturation ≥ 0.4, value
0.3–0.68; the zebra stripes are grey levels ≤ 0.14 or ≥ 0.88):

- *black-or-white* (stripe): value ≤ ``BLACK_MAX_VALUE`` (black, any saturation), or value ≥
  ``WHITE_MIN_VALUE`` with saturation ≤ ``WHITE_MAX_SATURATION`` (white).
- *brown*: hue in [``BROWN_HUE[0]``, ``BROWN_HUE[1]``] degrees, saturation ≥
  ``BROWN_MIN_SATURATION``, value in [``BROWN_VALUE[0]``, ``BROWN_VALUE[1]``].
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

BLACK_MAX_VALUE = 0.25
WHITE_MIN_VALUE = 0.7
WHITE_MAX_SATURATION = 0.25
BROWN_HUE = (10.0, 45.0)  # degrees
BROWN_MIN_SATURATION = 0.3
BROWN_VALUE = (0.2, 0.75)


def _as_rgb01(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Images as float RGB in [0, 1], shape [N, 3, H, W].

    Accepts float tensors/arrays [N, 3, H, W] in [-1, 1] or uint8 arrays/tensors [N, H, W, 3]
    (a single image without the batch dimension is also accepted).
    """
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.dtype == torch.uint8:
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[-1] != 3:
            raise ValueError(f"uint8 images must be [N, H, W, 3], got {list(x.shape)}")
        return x.permute(0, 3, 1, 2).float().div(255.0)
    if not x.is_floating_point():
        raise ValueError(f"images must be float in [-1, 1] or uint8, got dtype {x.dtype}")
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"float images must be [N, 3, H, W], got {list(x.shape)}")
    return x.detach().float().cpu().add(1.0).mul(0.5).clamp(0.0, 1.0)


def _as_outline(outlines: torch.Tensor | np.ndarray, n: int, height: int,
                width: int) -> torch.Tensor:
    """Outlines as a bool tensor [N, H, W] matching the images."""
    m = torch.as_tensor(outlines if isinstance(outlines, torch.Tensor) else np.asarray(outlines))
    m = m.detach().cpu().bool()
    if m.dim() == 2:
        m = m[None]
    if tuple(m.shape) != (n, height, width):
        raise ValueError(f"outlines must be [{n}, {height}, {width}] to match the images, "
                         f"got {list(m.shape)}")
    return m


def rgb_to_hsv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RGB [N, 3, H, W] in [0, 1] → (hue in degrees [0, 360), saturation, value), each [N, H, W]."""
    r, g, b = rgb.unbind(1)
    value, _ = rgb.max(1)
    low, _ = rgb.min(1)
    spread = value - low
    saturation = torch.where(value > 0, spread / value.clamp_min(1e-12), torch.zeros_like(value))
    safe = spread.clamp_min(1e-12)
    hue = torch.where(value == r, ((g - b) / safe) % 6.0,
                      torch.where(value == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    hue = torch.where(spread > 0, hue * 60.0, torch.zeros_like(hue)) % 360.0
    return hue, saturation, value


def stripe_mask(rgb: torch.Tensor) -> torch.Tensor:
    """Black-or-white pixels of RGB [N, 3, H, W] in [0, 1]: bool [N, H, W]."""
    _, saturation, value = rgb_to_hsv(rgb)
    return (value <= BLACK_MAX_VALUE) | ((value >= WHITE_MIN_VALUE)
                                         & (saturation <= WHITE_MAX_SATURATION))


def brown_mask(rgb: torch.Tensor) -> torch.Tensor:
    """Brown pixels of RGB [N, 3, H, W] in [0, 1]: bool [N, H, W]."""
    hue, saturation, value = rgb_to_hsv(rgb)
    return ((hue >= BROWN_HUE[0]) & (hue <= BROWN_HUE[1]) & (saturation >= BROWN_MIN_SATURATION)
            & (value >= BROWN_VALUE[0]) & (value <= BROWN_VALUE[1]))


def _share_inside(mask_fn: Callable[[torch.Tensor], torch.Tensor],
                  images: torch.Tensor | np.ndarray, outlines: torch.Tensor | np.ndarray) -> float:
    rgb = _as_rgb01(images)
    inside = _as_outline(outlines, rgb.shape[0], rgb.shape[2], rgb.shape[3])
    total = int(inside.sum())
    if total == 0:
        raise ValueError("the outlines hold no pixel: nothing to measure")
    return float((mask_fn(rgb) & inside).sum()) / total


def stripe_share(images: torch.Tensor | np.ndarray, outlines: torch.Tensor | np.ndarray) -> float:
    """Share of pixels inside ``outlines`` (bool [N, H, W]) that are black or white, over the
    whole batch ``images`` ([N, 3, H, W] float in [-1, 1], or uint8 [N, H, W, 3]). In [0, 1];
    a zebra scores high, a brown horse near 0."""
    return _share_inside(stripe_mask, images, outlines)


def brown_share(images: torch.Tensor | np.ndarray, outlines: torch.Tensor | np.ndarray) -> float:
    """Share of pixels inside ``outlines`` that are brown (see the module's thresholds). In
    [0, 1]; a brown horse scores high, a zebra near 0."""
    return _share_inside(brown_mask, images, outlines)


def outline_scores(a2b_images: torch.Tensor | np.ndarray, a_outlines: torch.Tensor | np.ndarray,
                   b2a_images: torch.Tensor | np.ndarray,
                   b_outlines: torch.Tensor | np.ndarray) -> dict[str, float]:
    """The four outline measures of a translation in both directions (all in [0, 1]).

    ``a2b_images`` are horses translated to zebras (outlines of the source horses, ``a_outlines``),
    ``b2a_images`` zebras translated to horses. Keys: ``a2b_stripe_share`` (higher is better),
    ``a2b_brown_share`` (lower is better: brown left over), ``b2a_brown_share`` (higher is
    better), ``b2a_stripe_share`` (lower is better: stripes left over).
    """
    return {
        "a2b_stripe_share": stripe_share(a2b_images, a_outlines),
        "a2b_brown_share": brown_share(a2b_images, a_outlines),
        "b2a_brown_share": brown_share(b2a_images, b_outlines),
        "b2a_stripe_share": stripe_share(b2a_images, b_outlines),
    }


HIGHER_IS_BETTER = {"a2b_stripe_share": True, "a2b_brown_share": False,
                    "b2a_brown_share": True, "b2a_stripe_share": False}

"""Fidelity of a pruned generator to the original: SSIM and PSNR of their outputs.

The paper argues that pixel fidelity is not the goal (a zebra with 5 or 8 stripes is equally
good), so these are diagnostics next to the judge and FID, not the target of the search.
Both are computed by scikit-image on images mapped from the generator's range (``input_range``,
default [-1, 1]) to [0, 1] (data range 1), per image, then averaged over the batch, so the
figures do not depend on the range a generator works in:

- ``ssim``: mean structural similarity (``skimage.metrics.structural_similarity``, 7x7
  window or the largest odd window that fits, colour channels averaged); higher is better,
  1 for identical images.
- ``psnr_db``: mean peak signal-to-noise ratio in dB
  (``skimage.metrics.peak_signal_noise_ratio``); higher is better. An identical pair has an
  infinite PSNR: each image's value is capped at ``PSNR_CAP_DB`` (100 dB, an RMS error below
  1e-5 of the range) so that the mean stays finite and comparable.
"""
from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.frozen import borrowed

FIDELITY_HIGHER_IS_BETTER = {"ssim": True, "psnr_db": True}
PSNR_CAP_DB = 100.0


def _as_hwc01(images: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    """``[N, C, H, W]`` float in [-1, 1] (tensor or array) → float64 ``[N, H, W, C]`` in
    [0, 1]."""
    x = images.detach().cpu().double().numpy() if isinstance(images, torch.Tensor) \
        else np.asarray(images, dtype=np.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"{name} must be images [N, C, H, W] in [-1, 1], got shape "
                         f"{list(x.shape)}")
    return np.clip((x.transpose(0, 2, 3, 1) + 1.0) / 2.0, 0.0, 1.0)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    if np.mean((a - b) ** 2) <= 10 ** (-PSNR_CAP_DB / 10):
        return PSNR_CAP_DB
    return min(float(peak_signal_noise_ratio(b, a, data_range=1.0)), PSNR_CAP_DB)


def _signed(images: torch.Tensor | np.ndarray,
            input_range: InputRange) -> torch.Tensor | np.ndarray:
    """``images`` in ``input_range`` → [-1, 1] (the images themselves for the default)."""
    if input_range.is_default:
        return images
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    return input_range.to_signed(x.detach().double())


def fidelity_scores(pruned_outputs: torch.Tensor | np.ndarray,
                    original_outputs: torch.Tensor | np.ndarray,
                    input_range: InputRange = DEFAULT_RANGE) -> dict:
    """SSIM and PSNR of ``pruned_outputs`` against ``original_outputs`` (both ``[N, 3, H, W]``
    in ``input_range``, default [-1, 1], same shape; at least 3x3 pixels), averaged over the
    N images.

    Returns ``{"ssim": float, "psnr_db": float, "higher_is_better": {"ssim": True,
    "psnr_db": True}}``; see the module docstring for the PSNR cap.
    """
    a = _as_hwc01(_signed(pruned_outputs, input_range), "pruned_outputs")
    b = _as_hwc01(_signed(original_outputs, input_range), "original_outputs")
    if a.shape != b.shape:
        raise ValueError(f"pruned and original outputs differ in shape: "
                         f"{list(a.shape)} vs {list(b.shape)} ([N, H, W, C])")
    side = min(a.shape[1], a.shape[2])
    if side < 3:
        raise ValueError(f"images of {a.shape[1]}x{a.shape[2]} pixels are too small for SSIM")
    win = min(7, side if side % 2 else side - 1)
    ssim = [structural_similarity(x, y, data_range=1.0, channel_axis=-1, win_size=win)
            for x, y in zip(a, b)]
    psnr = [_psnr(x, y) for x, y in zip(a, b)]
    return {"ssim": float(np.mean(ssim)), "psnr_db": float(np.mean(psnr)),
            "higher_is_better": dict(FIDELITY_HIGHER_IS_BETTER)}


@torch.no_grad()
def generator_fidelity(pruned: torch.nn.Module, original: torch.nn.Module,
                       images: torch.Tensor, batch_size: int = 16,
                       device: str | torch.device = "cpu",
                       input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Run both generators (on ``device``, in eval mode for the run; given back on their
    devices, in their modes) on ``images`` ``[N, 3, H, W]`` (in ``input_range``) and return
    :func:`fidelity_scores` of their outputs."""
    outs: dict[str, list[torch.Tensor]] = {"pruned": [], "original": []}
    for name, net in (("pruned", pruned), ("original", original)):
        with borrowed(net, device=device, training=False):
            for chunk in images.split(batch_size):
                outs[name].append(net(chunk.to(device)).float().cpu())
    return fidelity_scores(torch.cat(outs["pruned"]), torch.cat(outs["original"]), input_range)

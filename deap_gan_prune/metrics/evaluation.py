"""Run generators over image sets and time them side by side."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch
from torch import nn

from ..nets.frozen import borrowed


@torch.inference_mode()
def translate(generator: nn.Module, images: torch.Tensor, batch_size: int = 32,
              device: str | torch.device | None = None) -> torch.Tensor:
    """``generator`` applied to ``images`` ``[N, C, H, W]`` in batches; returned on the CPU."""
    param = next(generator.parameters())
    device = torch.device(device) if device is not None else param.device
    was_training = generator.training
    generator.eval()
    try:
        outs = [generator(images[i:i + batch_size].to(device)).cpu()
                for i in range(0, images.shape[0], batch_size)]
    finally:
        generator.train(was_training)
    return torch.cat(outs)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def compare_latency(runners: Mapping[str, Callable[[], object]], repeats: int = 20,
                    warmup: int = 3, device: str | torch.device = "cpu") -> dict[str, dict]:
    """Median wall time (seconds) of each zero-argument ``runner``, measured interleaved:
    every round runs each runner once, in turn, so that all see the same machine load and
    their ratios are side by side. Returns ``{name: {"median_s", "min_s", "runs"}}``."""
    device = torch.device(device)
    for _ in range(warmup):
        for run in runners.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            _sync(device)
            start = time.perf_counter()
            run()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: {"median_s": statistics.median(t), "min_s": min(t), "runs": len(t)}
            for name, t in times.items()}


def generator_latency(models: Mapping[str, nn.Module], example: torch.Tensor,
                      repeats: int = 20, warmup: int = 3) -> dict[str, dict]:
    """:func:`compare_latency` of the forward passes of ``models`` on ``example``
    (``[N, C, H, W]``, on the models' device), each in eval mode for the timing and given back
    in its own mode."""
    runners = {name: (lambda m=m: m(example)) for name, m in models.items()}
    with borrowed(*models.values(), training=False):
        return compare_latency(runners, repeats, warmup, example.device)

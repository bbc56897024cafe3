"""Pruning masks at a size budget that read the weights, for the ablation against the evolved
masks (METHOD §5): L1-norm filter pruning (Li et al., ICLR 2017), and the three baselines at
the size of a search result (:func:`matching_baselines`). The weight-blind ones (uniform,
random) are :mod:`deap_gan_prune.core.baselines`.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..core.baselines import (
    Sizer,
    bits_from_ranks,
    random_mask_like,
    uniform_counts,
    uniform_mask,
)
from ..core.maskspace import ChannelGroup, MaskSpace, Measure
from ..core.widths import MacConvention
from .importance import l1_importance


def l1_norm_mask(generator: nn.Module, space: MaskSpace, budget: float,
                 measure: Measure = "parameters", image_size: int = 256,
                 convention: MacConvention = "output", round_to: int = 1) -> list[int]:
    """L1-norm filter pruning (Li et al. 2017): every group keeps the same share of its
    channels (:func:`uniform_counts`), choosing the filters of largest L1 norm
    (:func:`deap_gan_prune.nets.importance.l1_importance`; the stream ranks by the mean normalised
    norm over the convs that write it). Ties keep the lower channel index. ``round_to``: as
    :func:`uniform_counts`'s."""
    scores = l1_importance(generator, space)
    counts = uniform_counts(space, budget, measure, image_size, convention, round_to)

    def ranked(g: ChannelGroup) -> list[int]:
        return sorted(range(g.size), key=lambda j: (-scores[g.offset + j], j))

    ranking = [ranked(g) for g in space.groups]
    return bits_from_ranks(space, counts, ranking)


def matching_baselines(generator: nn.Module, space: MaskSpace, bits: Sequence[int],
                       measure: Measure = "parameters", image_size: int = 256,
                       convention: MacConvention = "output", seed: int = 0
                       ) -> dict[str, list[int]]:
    """The baselines at the size of a search result ``bits``: ``{"l1_norm": .., "uniform": ..,
    "random": ..}`` (L1 and uniform at the budget ``space.size_ratio(bits, ...)``; random with
    ``bits``' per-group counts)."""
    sizer = Sizer(space, measure, image_size, convention)
    budget = sizer.ratio(list(space.kept(bits).values()))
    return {"l1_norm": l1_norm_mask(generator, space, budget, measure, image_size, convention),
            "uniform": uniform_mask(space, budget, measure, image_size, convention),
            "random": random_mask_like(space, bits, seed)}

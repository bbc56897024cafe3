"""The base class every mask fitness shares (:class:`MaskFitness`: frozen copies, validity
checks, the size term, a memo of results), the settings every fitness takes
(:class:`Scoring`) and its cycle partner (:class:`Partner`), the worst fitness an invalid mask
gets and the warning that says so. The fitnesses themselves are in :mod:`.paper`,
:mod:`.adapted` and :mod:`.supernet`; each is built as ``Fitness(generator, space, images,
scoring, *, ...)``.
"""
from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core.maskspace import MaskSpace, SizeMeasure
from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.frozen import frozen_copy

WORST_FITNESS = 0.0


@dataclass(frozen=True)
class Scoring:
    """What every fitness shares: γ (``gamma``, the weight of the size ratio N), the size
    measure of N (``"parameters"`` or ``"macs"``), images per forward pass
    (``batch_size``), where the networks run (``device``), how many (mask, partner) results
    are remembered (``memo_size``) and the images' value range (``input_range``)."""

    gamma: float = 0.0
    size_measure: SizeMeasure = "parameters"
    batch_size: int = 16
    device: Any = "cpu"
    memo_size: int = 4096
    input_range: InputRange = DEFAULT_RANGE


@dataclass(frozen=True)
class Partner:
    """The cycle term of a generator's fitness: the partner generator (target → source; copied
    and frozen), its mask space and λ (``weight``; 0 ignores the partner)."""

    generator: nn.Module
    space: MaskSpace
    weight: float = 0.0


class InvalidMaskWarning(UserWarning):
    """A mask that cannot be scored (a group kept at zero, or a non-finite loss)."""


class MaskFitness:
    """What every mask fitness shares: frozen copies of the networks, validity checks, the
    size term and a memo of results. A subclass implements ``_compute(bits, partner) -> dict``
    (with at least ``fitness``, ``loss`` and ``size``) and says in ``uses_partner`` whether
    the partner's mask changes the result (when it does not, the memo ignores the partner, so
    re-scoring a population against a new partner costs nothing).

    Called as ``fitness(individual, partner=None) -> (F,)`` (higher is better); ``terms`` gives
    every term as Python floats. Picklable (caches are dropped), so it travels to worker
    processes and Ray actors.
    """

    #: attributes rebuilt lazily (not pickled): subclasses list their caches here.
    _caches: tuple[str, ...] = ()
    # Caches (reset to None by _reset_caches, filled on first use; their content differs by
    # subclass) and the memo of scored masks.
    _reference: Any
    _partners: OrderedDict[tuple[int, ...], nn.Module] | None
    _memo: OrderedDict

    def __init__(self, generator: nn.Module, space: MaskSpace, images: torch.Tensor,
                 scoring: Scoring, partner: Partner | None = None) -> None:
        if not space.matches(generator):
            raise ValueError("the mask space was built for other widths than the generator's")
        check_images(images, "images")
        self.device = torch.device(scoring.device)
        self.generator = frozen_copy(generator, self.device)
        self.space, self.gamma, self.size_measure = space, scoring.gamma, scoring.size_measure
        self.memo_size, self.batch_size = scoring.memo_size, scoring.batch_size
        self.input_range = scoring.input_range
        self.images = images.detach().to(self.device)
        self.partner_generator = None if partner is None else \
            frozen_copy(partner.generator, self.device)
        self.partner_space = None if partner is None else partner.space
        self.lambda_cycle = 0.0 if partner is None else float(partner.weight)
        self._reset_caches()

    @property
    def uses_partner(self) -> bool:
        """True when the partner's mask changes the result (a cycle term with λ > 0)."""
        return self.lambda_cycle != 0

    def _reset_caches(self) -> None:
        for name in self._caches:
            setattr(self, name, None)
        self._memo = OrderedDict()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_memo", *self._caches):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset_caches()

    def __call__(self, individual: Sequence[int], partner: Sequence[int] | None = None
                 ) -> tuple[float]:
        """``(F,)`` for the mask ``individual``, the cycle scored through ``partner``'s mask."""
        return (self.terms(individual, partner)["fitness"],)

    def _size(self, bits: Sequence[int]) -> float:
        return float(self.space.size_ratio(bits, self.size_measure))

    def _worst(self, reason: str, bits: Sequence[int]) -> dict[str, float]:
        warnings.warn(f"mask scored with the worst fitness: {reason}", InvalidMaskWarning,
                      stacklevel=3)
        return {"fitness": WORST_FITNESS, "loss": math.inf, **self._nan_terms(),
                "size_ratio": self._size(bits)}

    def _nan_terms(self) -> dict[str, float]:
        return {}

    def terms(self, individual: Sequence[int], partner: Sequence[int] | None = None
              ) -> dict[str, float]:
        """Every term of the fitness as Python floats (see the class's docstring)."""
        bits = tuple(int(b) for b in individual)
        partner = (tuple(int(b) for b in partner)
                   if partner is not None and self.uses_partner else None)
        key = (bits, partner)
        if key in self._memo:
            self._memo.move_to_end(key)
            return dict(self._memo[key])
        if not self.space.is_valid(bits):
            empty = [g.name for g in self.space.groups if not any(bits[g.offset:g.stop])]
            return self._worst(f"groups {empty} keep no channel" if empty
                               else "a group keeps fewer channels than its minimum", bits)
        result = self._compute(bits, partner)
        if not math.isfinite(result["loss"]):
            return self._worst("a loss is not finite (NaN or inf)", bits)
        self._memo[key] = result
        while len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)
        return dict(result)

    def _compute(self, bits: tuple[int, ...], partner: tuple[int, ...] | None) -> dict:
        raise NotImplementedError


def check_images(images: torch.Tensor, name: str) -> None:
    """ValueError unless ``images`` is a non-empty ``[m, C, H, W]`` batch."""
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty [m, C, H, W] batch, got "
                         f"{tuple(images.shape)}")

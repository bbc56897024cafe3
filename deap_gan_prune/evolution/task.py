"""What a search is about: one job model whatever the number of generators.

A :class:`Task` holds one or two named generators with their images, and optionally their
discriminators, once-for-all supernets, mask spaces and latency models. With two generators
that translate both ways (a CycleGAN's G_A and G_B), ``cycle`` couples them: each one's
fitness has the other as its cycle partner, and the search co-evolves them. One generator
(pix2pix, a super-resolution network, a CycleGAN whose other half is lost) is searched alone.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..core.maskspace import Layout, MaskSpace, SizeFunction
from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.groups import space_of


@dataclass
class Task:
    """One or two named generators and what a search needs of each.

    generators: ``{"A": G}`` or ``{"A": G_A, "B": G_B}`` (at most two; names are free).
    images: each generator's source-domain images ``[m, C, H, W]`` in ``input_range``, by the
        same names (the first ``config.n_images`` are scored on, the next
        ``config.adapt_images`` adapted on).
    discriminators: the original discriminator that judges each generator's outputs (D_A for
        G_A), where the fitness needs one.
    cycle: two generators are each other's cycle partner (the fitness's cycle term λ).
    supernets: once-for-all versions of the generators (``fitness="supernet"``), by name.
    spaces: the mask spaces (default: ``space_of(generator, images, config.layout)``).
    latency: what a "latency" budget means for each generator: a size function of the kept
        counts of its space (a :class:`~deap_gan_prune.nets.latency_model.LatencyModel`).
    input_range: the range the images are in (default [-1, 1]).
    """

    generators: Mapping[str, nn.Module]
    images: Mapping[str, torch.Tensor]
    discriminators: Mapping[str, nn.Module | None] = field(default_factory=dict)
    cycle: bool = True
    supernets: Mapping[str, nn.Module] = field(default_factory=dict)
    spaces: Mapping[str, MaskSpace] = field(default_factory=dict)
    latency: Mapping[str, SizeFunction] = field(default_factory=dict)
    input_range: InputRange = DEFAULT_RANGE

    def __post_init__(self) -> None:
        names = list(self.generators)
        if len(names) not in (1, 2):
            raise ValueError(f"Task: one or two generators, got {len(names)}")
        if set(self.images) != set(names):
            raise ValueError(f"Task: images for {sorted(self.images)}, generators "
                             f"{sorted(names)}: give images for each generator")
        for what in ("discriminators", "supernets", "spaces", "latency"):
            extra = set(getattr(self, what)) - set(names)
            if extra:
                raise ValueError(f"Task: {what} for {sorted(extra)}, which is not a generator")
        if self.supernets and set(self.supernets) != set(names):
            raise ValueError("Task: give a supernet for every generator, or none")

    @classmethod
    def pair(cls, g_a: nn.Module, g_b: nn.Module, images_a: torch.Tensor,
             images_b: torch.Tensor, **options: Any) -> Task:
        """A CycleGAN's task: G_A (A→B) on domain-A images, G_B (B→A) on domain-B images,
        coupled by the cycle; ``options`` as the class's fields (by name "A" and "B")."""
        return cls({"A": g_a, "B": g_b}, {"A": images_a, "B": images_b}, **options)

    @property
    def names(self) -> tuple[str, ...]:
        """The generators' names, in order."""
        return tuple(self.generators)

    def partner(self, name: str) -> str | None:
        """The name of ``name``'s cycle partner (None alone, or without ``cycle``)."""
        others = [n for n in self.names if n != name]
        return others[0] if self.cycle and others else None

    def weights(self, name: str) -> nn.Module:
        """The network whose weights a mask of ``name`` is slimmed from: its supernet when
        there is one, else the generator."""
        return self.supernets.get(name, self.generators[name])

    def space_map(self, layout: Layout = "independent") -> dict[str, MaskSpace]:
        """Each generator's mask space: given in ``spaces`` or traced on its images."""
        return {n: self.spaces.get(n) or space_of(g, self.images[n], layout)
                for n, g in self.generators.items()}

    def with_latency(self, cache: str | os.PathLike | None, image_size: int | None = None,
                     runtime: str = "onnx", threads: int | None = 1,
                     layout: Layout = "independent", progress: bool = True) -> Task:
        """This task with every generator's mask space (:meth:`space_map` in ``layout``) and
        its latency model on ``runtime`` with ``threads`` at ``image_size`` px (None: its
        images' size), read from or added to the ``cache`` file
        (:func:`~deap_gan_prune.nets.latency_model.latency_model_for`): what a "latency"
        budget or objective needs. A bad cache is a one-line ValueError."""
        from ..nets.latency_model import latency_model_for
        spaces = self.space_map(layout)
        models = {n: latency_model_for(cache, g, image_size or self.images[n].shape[-1],
                                       runtime, threads, space=spaces[n], progress=progress)
                  for n, g in self.generators.items()}
        return replace(self, spaces=spaces, latency=models)

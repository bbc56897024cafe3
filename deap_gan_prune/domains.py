"""The images a run works on: two unpaired domains (the embedded synthetic horses and zebras,
or an upstream image folder) with their training, validation and test splits."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from .data import DataError, UnpairedImageFolder, UnpairedTensorBatches, make_loader
from .devices import check_memory
from .imagerange import DEFAULT_RANGE, InputRange
from .synthetic import SyntheticHorseZebra


@dataclass
class DomainData:
    """Images of two unpaired domains: a training source, validation images for the fitness
    (taken from the training split), test images, and horse outlines where known
    (synthetic data). Every image is in ``input_range``, the range the generators take
    (default [-1, 1])."""

    train: tuple[torch.Tensor, torch.Tensor] | Dataset
    val_a: torch.Tensor
    val_b: torch.Tensor
    test_a: torch.Tensor
    test_b: torch.Tensor
    outlines_a: torch.Tensor | None = None
    outlines_b: torch.Tensor | None = None
    name: str = ""
    input_range: InputRange = DEFAULT_RANGE

    @property
    def image_size(self) -> int:
        return int(self.test_a.shape[-1])

    def loader(self, batch_size: int, seed: int) -> Iterable[dict]:
        """Training batches ``{"A", "B"}`` (cycled by the training loop)."""
        if isinstance(self.train, tuple):
            return UnpairedTensorBatches(*self.train, batch_size=batch_size, seed=seed)
        return make_loader(self.train, batch_size, shuffle=True, seed=seed, drop_last=True)


def check_images_memory(n_images: int, size: int, what: str) -> None:
    """Refuse, before any is made, ``n_images`` RGB images of ``size`` x ``size`` pixels per
    domain (two domains in float32, with working copies) that would not fit in memory."""
    check_memory(2 * n_images * 3 * size * size * 4 * 2.0, what)


def synthetic_data(n_train: int = 512, n_test: int = 64, size: int = 64, seed: int = 0,
                   n_val: int = 16, input_range: InputRange = DEFAULT_RANGE) -> DomainData:
    """The embedded synthetic horse (A) ↔ zebra (B) data, with outlines for the test split,
    images in ``input_range`` (default [-1, 1]). A request whose images would not fit in
    memory is refused before any is drawn."""
    check_images_memory(n_train + n_test, size,
                        f"image_size {size} with n_train {n_train} and n_test {n_test}")
    train = SyntheticHorseZebra(n=n_train, size=size, seed=seed, split="train")
    test = SyntheticHorseZebra(n=n_test, size=size, seed=seed, split="test")
    a, b = train.images("A", input_range), train.images("B", input_range)
    return DomainData((a, b), a[:n_val], b[:n_val], test.images("A", input_range),
                      test.images("B", input_range), test.outlines("A"), test.outlines("B"),
                      name=f"synthetic {size}x{size}", input_range=input_range)


def _stack(dataset: UnpairedImageFolder, domain: str, n: int | None) -> torch.Tensor:
    count = len(dataset) if n is None else min(n, len(dataset))
    return torch.stack([dataset[i][domain] for i in range(count)])


def folder_data(root: str | os.PathLike, image_size: int = 256, n_val: int = 16,
                n_test: int | None = None, seed: int = 0,
                input_range: InputRange = DEFAULT_RANGE) -> DomainData:
    """An upstream image folder (``trainA``, ``trainB``, ``testA``, ``testB``): training
    batches streamed with upstream augmentation, validation and test images in memory (a
    request that would not fit is refused before any is read), all in ``input_range``
    (default [-1, 1])."""
    check_images_memory(n_val + (n_test or 0), image_size,
                        f"image_size {image_size} with {n_val} validation and "
                        f"{n_test or 'all'} test images")
    train = UnpairedImageFolder(root, "train", image_size=image_size, seed=seed,
                                input_range=input_range)
    val = UnpairedImageFolder(root, "train", image_size=image_size, augment=False, seed=seed,
                              input_range=input_range)
    test = UnpairedImageFolder(root, "test", image_size=image_size, seed=seed,
                               input_range=input_range)
    if len(test) == 0:
        raise DataError(f"{root}: the test split holds no images")
    return DomainData(train, _stack(val, "A", n_val), _stack(val, "B", n_val),
                      _stack(test, "A", n_test), _stack(test, "B", n_test),
                      name=os.fspath(root), input_range=input_range)


def training_images(data: DomainData, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``n`` training images of each domain ``([n, 3, H, W], [n, 3, H, W])``, drawn by
    one seeded pass of the training loader (never the validation images the search scores
    on)."""
    got_a, got_b, count = [], [], 0
    for batch in data.loader(batch_size=min(n, 4), seed=seed):
        got_a.append(batch["A"])
        got_b.append(batch["B"])
        count += batch["A"].shape[0]
        if count >= n:
            break
    if not got_a:
        raise DataError("no training images to train a supernet on")
    return torch.cat(got_a)[:n], torch.cat(got_b)[:n]

"""Unpaired image folders in the upstream CycleGAN layout, ``<root>/{trainA,trainB,testA,testB}``.

Images (.jpg, .jpeg, .png, .bmp, .webp, any case) are read with Pillow and converted to RGB
(grayscale, 16-bit grayscale, palette, RGBA and CMYK included). Training preprocessing follows
upstream: resize to ``load_size`` (bicubic), random crop ``image_size``, random horizontal flip,
normalise to [-1, 1] (or the generator's range, :mod:`deap_gan_prune.imagerange`); test: resize
to ``image_size``. All randomness comes from (seed, epoch,
index), so an item is the same whatever the order, the worker or the machine.

Unreadable images never stop an epoch: files whose header or checksums are broken are dropped
when the dataset is built (one warning per folder naming them); a file that fails only when
decoded is dropped then (one warning naming it) and the next readable image is used instead.
"""
from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from .imagerange import DEFAULT_RANGE, InputRange

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
PHASES = ("train", "test")
_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error,
                Image.DecompressionBombError)


class DataError(ValueError):
    """A dataset folder or image that cannot be used; the message names it and the problem."""


def check_folder(folder: Path, what: str) -> None:
    """DataError naming ``folder`` when it is not a folder: missing, or a file."""
    if folder.is_dir():
        return
    if folder.exists():
        raise DataError(f"{folder}: is a file, not a folder ({what} expected)")
    raise DataError(f"{folder}: {what} not found")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly in ``folder`` (supported extensions, any case), sorted by name."""
    folder = Path(folder)
    check_folder(folder, "image folder")
    files = sorted(p for p in folder.iterdir()  # broken links and link loops are listed:
                   if p.suffix.lower() in IMG_EXTENSIONS and not p.is_dir())  # skipped, named
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(IMG_EXTENSIONS)}) in the folder")
    return files


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit RGB. 16/32-bit grayscale is scaled to 8 bits (by the type's
    range, or by the image's maximum for 32-bit values above 65535), float images read as [0, 1]
    (or [0, 255] if larger); alpha is dropped, as upstream does."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if mode == "F":
            top = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        else:
            top = max(65535.0, float(values.max(initial=0.0)))
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def read_rgb(path: str | os.PathLike) -> Image.Image:
    """Decode ``path`` fully into an RGB image; DataError naming the file if it cannot be."""
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except _READ_ERRORS as error:
        raise DataError(f"{path}: unreadable image ({type(error).__name__}: {error})") from None


def _looks_readable(path: Path) -> bool:
    """Cheap check without decoding pixels: non-empty, a known header, intact chunk checksums."""
    try:
        if path.stat().st_size == 0:
            return False
        with Image.open(path) as image:
            image.verify()
        return True
    except _READ_ERRORS:
        return False


def to_tensor(image: Image.Image, input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
    """RGB Pillow image → float32 tensor [3, H, W] in ``input_range`` (default [-1, 1])."""
    array = np.asarray(image, dtype=np.uint8)
    return input_range.from_uint8(torch.from_numpy(array.copy()).permute(2, 0, 1))


def load_image(path: str | os.PathLike, size: int | None = None,
               input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
    """One image as a float tensor [3, H, W] in ``input_range`` (default [-1, 1]), resized
    (bicubic) to ``size``×``size`` when ``size`` is given. DataError naming the file if it is
    missing or unreadable."""
    if Path(path).is_dir():
        raise DataError(f"{path}: is a folder, not an image file")
    if not Path(path).is_file():
        raise DataError(f"{path}: image file not found")
    image = read_rgb(path)
    if size is not None:
        image = image.resize((int(size), int(size)), Image.Resampling.BICUBIC)
    return to_tensor(image, input_range)


def augment(image: Image.Image, rng: np.random.Generator, image_size: int,
            load_size: int, input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
    """Upstream training preprocessing: resize to ``load_size``² (bicubic), random crop
    ``image_size``², random horizontal flip (both drawn from ``rng``); ``[3, S, S]`` in
    ``input_range`` (default [-1, 1])."""
    image = image.resize((load_size,) * 2, Image.Resampling.BICUBIC)
    top, left = rng.integers(0, load_size - image_size + 1, size=2)
    image = image.crop((left, top, left + image_size, top + image_size))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return to_tensor(image, input_range)


def readable_images(folder: str | os.PathLike) -> tuple[list[Path], int]:
    """The images of ``folder`` that look readable (sorted by name), and how many image files
    it holds; one warning naming the skipped ones, DataError if none is readable."""
    folder = Path(folder)
    files = list_images(folder)
    readable = [_looks_readable(p) for p in files]
    good = [p for p, ok in zip(files, readable) if ok]
    skipped = [p.name for p, ok in zip(files, readable) if not ok]
    if not good:
        raise DataError(f"{folder}: none of the {len(files)} images is readable")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable images in {folder}: "
                      f"{', '.join(skipped)}", stacklevel=3)
    return good, len(files)


class UnpairedImageFolder(Dataset):
    """Unpaired domains A and B of ``<root>/<phase>A`` and ``<root>/<phase>B``.

    Length is max(len A, len B). Item ``i`` is ``{"A": [3, S, S], "B": [3, S, S]`` float in
    ``input_range`` (default [-1, 1]), ``"A_path": str, "B_path": str}`` with
    ``S = image_size``: A is image ``i mod nA``; B is a random image (drawn from seed, epoch
    and ``i``) when ``serial_b`` is False (default for train) or image ``i mod nB`` (default
    for test, so every test image is visited). Call :meth:`set_epoch` each epoch to draw new
    crops, flips and B partners.
    """

    def __init__(self, root: str | os.PathLike, phase: str = "train", image_size: int = 256,
                 load_size: int | None = None, augment: bool | None = None, seed: int = 0,
                 serial_b: bool | None = None,
                 input_range: InputRange = DEFAULT_RANGE) -> None:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}: use 'train' or 'test'")
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.load_size = round(image_size * 286 / 256) if load_size is None else int(load_size)
        if self.load_size < image_size:
            raise ValueError(f"load_size ({self.load_size}) must be at least image_size "
                             f"({image_size})")
        self.root, self.phase, self.image_size = Path(root), phase, int(image_size)
        self.augment = phase == "train" if augment is None else bool(augment)
        self.serial_b = phase == "test" if serial_b is None else bool(serial_b)
        self.seed, self.epoch = int(seed), 0
        self.input_range = input_range
        check_folder(self.root, "dataset root")
        self.paths: dict[str, list[Path]] = {}
        self._listed: dict[str, int] = {}  # image files in each folder, readable or not
        for domain in "AB":
            self.paths[domain], self._listed[domain] = self._readable(
                self.root / f"{phase}{domain}")
        self._bad: set[Path] = set()

    @staticmethod
    def _readable(folder: Path) -> tuple[list[Path], int]:
        """The images of ``folder`` that look readable, and how many image files it holds."""
        return readable_images(folder)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose crops, flips and B partners items are drawn with."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return max(len(self.paths["A"]), len(self.paths["B"]))

    def _rng(self, index: int) -> np.random.Generator:
        key = (PHASES.index(self.phase), self.epoch, int(index))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

    def _load(self, domain: str, start: int) -> tuple[Image.Image, Path]:
        """The first readable image of ``domain`` from position ``start`` on (wrapping)."""
        paths = self.paths[domain]
        for step in range(len(paths)):
            path = paths[(start + step) % len(paths)]
            if path in self._bad:
                continue
            try:
                return read_rgb(path), path
            except DataError as error:
                self._bad.add(path)
                warnings.warn(f"skipped {error}", stacklevel=3)  # the error names the file
        raise DataError(f"{self.root / (self.phase + domain)}: none of the "
                        f"{self._listed[domain]} images is readable")

    def _preprocess(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        if not self.augment:
            return to_tensor(image.resize((self.image_size,) * 2, Image.Resampling.BICUBIC),
                             self.input_range)
        return augment(image, rng, self.image_size, self.load_size, self.input_range)

    def __getitem__(self, index: int) -> dict:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} items")
        index %= n
        rng = self._rng(index)
        n_b = len(self.paths["B"])
        b_start = index % n_b if self.serial_b else int(rng.integers(n_b))
        image_a, path_a = self._load("A", index % len(self.paths["A"]))
        image_b, path_b = self._load("B", b_start)
        return {"A": self._preprocess(image_a, rng), "B": self._preprocess(image_b, rng),
                "A_path": str(path_a), "B_path": str(path_b)}


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int,
                num_workers: int = 0, drop_last: bool = False) -> DataLoader:
    """A DataLoader whose shuffling order is fixed by ``seed`` (a seeded torch Generator)."""
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=generator, drop_last=drop_last)


class UnpairedTensorBatches:
    """An endless-epoch loader over two image tensors ``[n, 3, H, W]`` (e.g. the synthetic
    data held in memory): every pass draws independent permutations of A and B and random
    horizontal flips from its own seeded generator, and yields ``{"A": [N,3,H,W], "B": ...}``.
    """

    def __init__(self, images_a: torch.Tensor, images_b: torch.Tensor, batch_size: int,
                 seed: int = 0, flip: bool = True) -> None:
        if min(len(images_a), len(images_b)) < batch_size:
            raise DataError(f"need at least {batch_size} images per domain for batches of "
                            f"{batch_size}, got {len(images_a)} and {len(images_b)}")
        self.a, self.b, self.batch_size, self.flip = images_a, images_b, batch_size, flip
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return min(len(self.a), len(self.b)) // self.batch_size

    def _take(self, images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        x = images[index]
        if not self.flip:
            return x
        flip = torch.rand(len(index), generator=self.generator) < 0.5
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)

    def __iter__(self):
        pa = torch.randperm(len(self.a), generator=self.generator)
        pb = torch.randperm(len(self.b), generator=self.generator)
        for i in range(len(self)):
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            yield {"A": self._take(self.a, pa[s]), "B": self._take(self.b, pb[s])}

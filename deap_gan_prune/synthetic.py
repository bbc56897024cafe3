"""An embedded, seeded horse→zebra dataset: two unpaired domains drawn from one silhouette.

Both domains use scikit-image's bundled horse silhouette (``skimage.data.horse()``), placed with
a random scale, rotation, horizontal flip and position on a random landscape (blue sky gradient
with soft clouds over textured green grass, a horizon of random height and tilt). Domain A paints
the horse a brown shade; domain B paints it with black/white zebra stripes whose period, angle
and bend vary and which run across the legs. Every image comes with its outline (True on the
horse), so translations can be judged inside the outline (see ``deap_gan_prune.metrics``).

Scenes are drawn at twice the target resolution and averaged down 2×2 (antialiasing). Item ``i``
of a split depends only on ``(seed, split, i)`` and the size.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike
from PIL import Image
from scipy import ndimage
from torch.utils.data import Dataset

from .imagerange import DEFAULT_RANGE, InputRange
from .outputs import folder_mode

DOMAINS = ("A", "B")
SPLITS = {"train": 0, "test": 1}
_LEG_LINE = 0.6  # below this share of the silhouette's height are legs (zebra stripes turn)
_HSV_OFFSETS = np.array([5.0, 3.0, 1.0], np.float32)


@functools.lru_cache(maxsize=1)
def _silhouette() -> np.ndarray:
    """The horse silhouette cropped to its bounding box (plus a margin), float32 1 on the horse."""
    import skimage.data

    mask = ~np.asarray(skimage.data.horse(), dtype=bool)
    rows, cols = np.nonzero(mask)
    crop = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return np.pad(crop, 4).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _silhouette_at(width: int) -> np.ndarray:
    """The silhouette resized (antialiased) to ``width`` pixels wide, values in [0, 1]."""
    from skimage.transform import resize

    base = _silhouette()
    height = max(2, round(base.shape[0] * width / base.shape[1]))
    return resize(base, (height, width), order=1, anti_aliasing=True).astype(np.float32)


def _hsv_to_rgb(h: ArrayLike, s: ArrayLike, v: ArrayLike) -> np.ndarray:
    """HSV (each in [0, 1] (hue clipped), broadcastable float arrays or scalars) to RGB
    [..., 3] in [0, 1]."""
    h, s, v = (np.asarray(c, np.float32)[..., None] for c in (h, s, v))
    k = _HSV_OFFSETS + np.clip(h, 0.0, 1.0) * 6.0
    k -= np.where(k >= 6.0, np.float32(6.0), np.float32(0.0))
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


@functools.lru_cache(maxsize=32)
def _upsampler(size: int, cells: int) -> np.ndarray:
    """Bilinear interpolation matrix [size, cells + 1] from a ``cells`` grid to ``size`` pixels."""
    pos = np.linspace(0.0, cells, size)
    left = np.minimum(np.floor(pos).astype(int), cells - 1)
    weights = np.zeros((size, cells + 1), np.float32)
    weights[np.arange(size), left] = 1.0 - (pos - left)
    weights[np.arange(size), left + 1] = pos - left
    return weights


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise [size, size] in about [-1, 1]: a random ``cells``² grid, bilinear up."""
    grid = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
    up = _upsampler(size, cells)
    return up @ grid @ up.T


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Sky over grass, RGB [size, size, 3] in [0, 1]."""
    y = (np.arange(size, dtype=np.float32)[:, None] + 0.5) / size
    x = (np.arange(size, dtype=np.float32)[None, :] + 0.5) / size
    horizon = (rng.uniform(0.22, 0.5) + rng.uniform(-0.12, 0.12) * (x - 0.5)
               + rng.uniform(0.0, 0.04) * np.sin(2 * np.pi * (rng.uniform(0.5, 2.0) * x
                                                              + rng.uniform())))
    sky_h, sky_s, sky_v = rng.uniform(0.53, 0.63), rng.uniform(0.35, 0.7), rng.uniform(0.75, 1.0)
    depth = np.clip(y / horizon, 0.0, 1.0)  # 0 at the top of the sky, 1 at the horizon
    clouds = np.clip(_smooth_noise(rng, size, 4) * rng.uniform(0.5, 1.5) - 0.3, 0.0, 1.0)
    sky_sat = sky_s * (1.0 - 0.6 * depth) * (1.0 - clouds)
    sky_val = np.minimum(1.0, sky_v * (0.9 + 0.1 * depth) + 0.2 * clouds)
    grass_h, grass_s, grass_v = (rng.uniform(0.2, 0.36), rng.uniform(0.45, 0.85),
                                 rng.uniform(0.3, 0.7))
    texture = (0.12 * _smooth_noise(rng, size, 6) + 0.06 * _smooth_noise(rng, size, 16)
               + rng.normal(0.0, 0.05, (size, size)).astype(np.float32))
    below = np.clip((y - horizon) / (1.0 - horizon + 1e-6), 0.0, 1.0)
    is_sky = y < horizon
    return _hsv_to_rgb(np.where(is_sky, sky_h, grass_h + 0.02 * texture),
                       np.where(is_sky, sky_sat, np.clip(grass_s + 0.3 * texture, 0.2, 1.0)),
                       np.where(is_sky, sky_val, np.clip(grass_v * (1.0 + 0.25 * below) + texture,
                                                         0.1, 1.0)))


def _placement(rng: np.random.Generator, size: int, width: int,
               height: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the silhouette lands: base-silhouette coordinates (by, bx) of every output pixel."""
    scale = rng.uniform(0.8, 1.05) * size / width  # output pixels per silhouette pixel
    angle = np.deg2rad(rng.uniform(-15.0, 15.0))
    flip = rng.random() < 0.5
    cx = size * (0.5 + rng.uniform(-0.12, 0.12))
    cy = size * (0.5 + rng.uniform(-0.08, 0.12))
    y, x = np.meshgrid(np.arange(size, dtype=np.float32) + 0.5 - cy,
                       np.arange(size, dtype=np.float32) + 0.5 - cx, indexing="ij")
    cos, sin = np.cos(angle), np.sin(angle)
    qx, qy = (cos * x + sin * y) / scale, (-sin * x + cos * y) / scale
    if flip:
        qx = -qx
    return qy + height / 2.0, qx + width / 2.0


def _brown_coat(rng: np.random.Generator, v: np.ndarray, _u: np.ndarray,
                _size: int) -> np.ndarray:
    """A brown horse's colours at silhouette coordinates (v down, u across, both in [0, 1])."""
    hue, sat, val = rng.uniform(0.05, 0.1), rng.uniform(0.5, 0.8), rng.uniform(0.38, 0.6)
    shade = 0.1 * (0.5 - v) + rng.normal(0.0, 0.025, v.shape).astype(np.float32)
    return _hsv_to_rgb(hue + 0.01 * shade, np.clip(sat + 0.3 * shade, 0.4, 0.9),
                       np.clip(val + shade, 0.3, 0.68))


def _zebra_coat(rng: np.random.Generator, v: np.ndarray, u: np.ndarray,
                size: int) -> np.ndarray:
    """Zebra stripes at silhouette coordinates: across the body, horizontal on the legs.

    The stripe period is a share of the silhouette's width, at least about 5 output pixels so
    that small images (``size`` pixels wide) still show stripes rather than grey."""
    period = max(rng.uniform(0.07, 0.12), 5.0 / size)
    angle = np.deg2rad(rng.uniform(-25.0, 25.0))
    bend = rng.uniform(0.0, 0.05) * np.sin(2 * np.pi * (v * rng.uniform(0.7, 1.5) + rng.uniform()))
    body = (np.cos(angle) * u + np.sin(angle) * v + bend) / period
    legs = v * 1.2 / period
    phase = np.where(v < _LEG_LINE, body, legs) + rng.uniform()
    white = np.sin(2 * np.pi * phase) > rng.uniform(-0.25, 0.25)
    noise = rng.normal(0.0, 0.02, v.shape).astype(np.float32)
    level = np.where(white, rng.uniform(0.9, 1.0) + noise, rng.uniform(0.03, 0.12) + noise)
    return np.repeat(np.clip(level, 0.0, 1.0)[..., None], 3, axis=-1)


def _halve(a: np.ndarray) -> np.ndarray:
    """Average 2×2 pixel blocks: [2H, 2W, ...] → [H, W, ...]."""
    return 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])


def render_sample(rng: np.random.Generator, size: int = 64,
                  domain: str = "A") -> tuple[np.ndarray, np.ndarray]:
    """One scene of ``domain`` ("A" brown horse, "B" zebra) at ``size``×``size`` pixels.

    Returns the image (uint8 [size, size, 3]) and the outline (bool [size, size], True where at
    least half of the pixel is horse).
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}: use 'A' (horses) or 'B' (zebras)")
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"image size must be an integer of at least 8 pixels, got {size!r}")
    big = 2 * int(size)
    base = _silhouette_at(round(big * 1.1))
    height, width = base.shape
    background = _background(rng, big)
    by, bx = _placement(rng, big, width, height)
    alpha = ndimage.map_coordinates(base, [by - 0.5, bx - 0.5], order=1, cval=0.0)
    coat = (_brown_coat if domain == "A" else _zebra_coat)(rng, by / height, bx / width, int(size))
    image = background * (1.0 - alpha[..., None]) + coat * alpha[..., None]
    image = _halve(image)
    alpha = _halve(alpha)
    return (np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8), alpha >= 0.5)


def sample_rng(seed: int, split: str, index: int, domain: str) -> np.random.Generator:
    """The generator of item ``index``'s ``domain`` image: independent per (seed, split, index,
    domain), so items can be drawn in any order and A and B of one item are unrelated."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use 'train' or 'test'")
    key = (SPLITS[split], int(index), DOMAINS.index(domain))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] → float32 tensor [3, H, W] in [-1, 1]."""
    return torch.from_numpy(image).permute(2, 0, 1).float().div(127.5).sub(1.0)


class SyntheticHorseZebra(Dataset):
    """``n`` unpaired (horse, zebra) items of one split, rendered in memory at ``size`` pixels.

    Item ``i`` is ``{"A": [3, H, W], "B": [3, H, W]`` float in [-1, 1], ``"A_outline"``,
    ``"B_outline"``: bool [H, W]}`` and depends only on (seed, split, i, size).
    """

    def __init__(self, n: int = 512, size: int = 64, seed: int = 0, split: str = "train") -> None:
        if n < 1:
            raise ValueError(f"a synthetic dataset needs at least one item, got n={n}")
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: use 'train' or 'test'")
        self.n, self.size, self.seed, self.split = int(n), int(size), int(seed), split
        render_sample(np.random.default_rng(0), self.size)  # validate size early
        self._items: list[dict[str, torch.Tensor] | None] = [None] * self.n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -self.n <= i < self.n:
            raise IndexError(f"index {i} out of range for {self.n} items")
        i %= self.n
        item = self._items[i]
        if item is None:
            item = {}
            for domain in DOMAINS:
                image, outline = render_sample(sample_rng(self.seed, self.split, i, domain),
                                               self.size, domain)
                item[domain] = to_tensor(image)
                item[f"{domain}_outline"] = torch.from_numpy(outline)
            self._items[i] = item
        return dict(item)

    def images(self, domain: str, input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
        """Every image of ``domain``: float tensor [n, 3, H, W] in ``input_range`` (default
        [-1, 1])."""
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}: use 'A' or 'B'")
        images = torch.stack([self[i][domain] for i in range(self.n)])
        if input_range.is_default:
            return images
        return input_range.from_uint8(((images + 1.0) * 127.5).round())  # the exact pixels

    def outlines(self, domain: str) -> torch.Tensor:
        """Every outline of ``domain``: bool tensor [n, H, W]."""
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}: use 'A' or 'B'")
        return torch.stack([self[i][f"{domain}_outline"] for i in range(self.n)])


def write_synthetic_dataset(root: str | os.PathLike, n_train: int = 512, n_test: int = 64,
                            size: int = 64, seed: int = 0, overwrite: bool = False) -> Path:
    """Write the dataset in the upstream layout ``root/{trainA,trainB,testA,testB}/NNNNN.png``
    with outlines (0/255 grayscale) in ``root/outlines/<same folders>/NNNNN.png``.

    Everything is written to a temporary folder beside ``root`` and renamed into place at the
    end, so ``root`` is either complete or absent. An existing non-empty ``root`` is an error
    unless ``overwrite``. Returns ``root`` as a Path.
    """
    root = Path(root)
    if root.exists() and not (root.is_dir() and not any(root.iterdir())) and not overwrite:
        raise FileExistsError(f"{root}: already exists and is not empty (pass overwrite=True)")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    os.chmod(tmp, folder_mode())
    try:
        for split, n in (("train", n_train), ("test", n_test)):
            for domain in DOMAINS:
                folder = tmp / f"{split}{domain}"
                outline_folder = tmp / "outlines" / f"{split}{domain}"
                folder.mkdir(parents=True)
                outline_folder.mkdir(parents=True)
                for i in range(n):
                    image, outline = render_sample(sample_rng(seed, split, i, domain), size, domain)
                    Image.fromarray(image, "RGB").save(folder / f"{i:05d}.png")
                    Image.fromarray(outline.astype(np.uint8) * 255, "L").save(
                        outline_folder / f"{i:05d}.png")
        if root.exists():
            old = root.with_name(f".{root.name}.old-{os.getpid()}")
            root.rename(old)
            tmp.rename(root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root

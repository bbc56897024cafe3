"""The real-photo data of ``real_photos.py`` and of the real-generator benchmarks:
scikit-image's bundled colour photos (no download) written as an upstream image folder, split
by WHOLE photo.

Held out for testing (``testA``/``testB``, whole photos as they are; never searched on or
fine-tuned on): ``chelsea`` (a cat, 300×451), ``coffee`` (a cup, 400×600), ``rocket``
(a launch pad outdoors, 427×640).

Training (``trainA``/``trainB``): square tiles of ``astronaut`` (512²), both views of
``stereo_motorcycle`` (500×741 each; one scene, so both sit on the same side),
``immunohistochemistry`` (512²), ``retina`` (1411²) and ``hubble_deep_field`` (872×1000):
at three scales (side = the photo's short side, 1/2 and 1/3 of it) on overlapping grids,
each resized to ``tile_px`` pixels. Tile files are named ``NNNN_<photo>_s<scale>_<k>.png``
with ``NNNN`` a seeded permutation, so the first tiles in name order (what the search scores
on, as the CLI's ``--dataroot`` would give) come from every training photo.

Gray photos (camera, coins, moon, ...), the synthetic colour wheel and the RGBA logo are not
used. ``B`` holds copies of ``A`` (the single-generator path reads only ``A``).
``manifest.json`` records every file's photo.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

TEST_PHOTOS = ("chelsea", "coffee", "rocket")
TRAIN_PHOTOS = ("astronaut", "motorcycle_left", "motorcycle_right", "immunohistochemistry",
                "retina", "hubble_deep_field")
SCALES = (1, 2, 3)  # tile side = short side / scale


def photo(name: str) -> np.ndarray:
    """The bundled photo ``name`` as ``[H, W, 3]`` uint8."""
    import skimage.data as data
    if name.startswith("motorcycle_"):
        left, right, _ = data.stereo_motorcycle()
        return left if name.endswith("left") else right
    return getattr(data, name)()


def _positions(length: int, side: int, extra: int) -> list[int]:
    n = max(1, math.ceil(length / side - 1e-9)) + extra
    if n == 1 or length == side:
        return [(length - side) // 2]
    return [round(i * (length - side) / (n - 1)) for i in range(n)]


def tiles_of(image: np.ndarray, scale: int) -> list[np.ndarray]:
    """Square tiles of side ``short side // scale`` on an overlapping grid (one more
    position per axis than needed to cover it, for scales > 1)."""
    h, w = image.shape[:2]
    side = min(h, w) // scale
    extra = 1 if scale > 1 else 0
    return [image[y:y + side, x:x + side] for y in _positions(h, side, extra)
            for x in _positions(w, side, extra)]


def write_photo_folder(root: str | os.PathLike, tile_px: int = 256, seed: int = 0,
                       test_px: int | None = None) -> dict:
    """Write the folder (see the module docstring) to ``root`` unless its manifest is there;
    returns the manifest. ``test_px``: resize the test photos' short side to it (None: as
    they are). Written to a temporary folder moved into place, so a killed run leaves none
    half-written."""
    root = Path(root)
    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        wanted = {"tile_px": tile_px, "seed": seed, "test_px": test_px}
        if {k: manifest.get(k) for k in wanted} != wanted:
            raise ValueError(f"{root}: written with {({k: manifest.get(k) for k in wanted})}, "
                             f"this run wants {wanted}; use another data folder")
        return manifest
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("trainA", "trainB", "testA", "testB"):
        (tmp / sub).mkdir(parents=True)
    tiles = []
    for name in TRAIN_PHOTOS:
        image = photo(name)
        for scale in SCALES:
            for k, tile in enumerate(tiles_of(image, scale)):
                tiles.append((name, scale, k, tile))
    order = np.random.default_rng(seed).permutation(len(tiles))
    files: dict[str, str] = {}
    for number, index in enumerate(order):
        name, scale, k, tile = tiles[int(index)]
        file = f"{number:04d}_{name}_s{scale}_{k}.png"
        Image.fromarray(tile).resize((tile_px, tile_px), Image.Resampling.LANCZOS).save(
            tmp / "trainA" / file)
        files[file] = name
    test: dict[str, str] = {}
    for name in TEST_PHOTOS:
        image = Image.fromarray(photo(name))
        if test_px is not None:
            f = test_px / min(image.size)
            image = image.resize((round(image.size[0] * f), round(image.size[1] * f)),
                                 Image.Resampling.LANCZOS)
        image.save(tmp / "testA" / f"{name}.png")
        test[f"{name}.png"] = name
    for a, b in (("trainA", "trainB"), ("testA", "testB")):
        for f in (tmp / a).iterdir():
            shutil.copyfile(f, tmp / b / f.name)
    manifest = {"tile_px": tile_px, "seed": seed, "test_px": test_px,
                "train_photos": list(TRAIN_PHOTOS), "test_photos": list(TEST_PHOTOS),
                "scales": list(SCALES), "train": files, "test": test}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    return manifest

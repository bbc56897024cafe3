"""Unpaired image folders: layout, image modes, preprocessing, errors and unreadable files."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from deap_gan_prune.data import DataError, UnpairedImageFolder, list_images, load_image, make_loader


def _save(path, value=(120, 60, 30), size=(24, 20), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)
    return path


def _dataset(root, n_a=3, n_b=5, phase="train"):
    for i in range(n_a):
        _save(root / f"{phase}A" / f"a{i}.png", (10 * i, 0, 0))
    for i in range(n_b):
        _save(root / f"{phase}B" / f"b{i}.jpg", (0, 0, 40 * i))
    return root


def test_layout_length_and_unpaired_items(tmp_path):
    data = UnpairedImageFolder(_dataset(tmp_path), image_size=16, seed=0)
    assert len(data) == 5
    item = data[4]
    assert item["A"].shape == item["B"].shape == (3, 16, 16)
    assert item["A"].dtype == torch.float32
    assert item["A"].min() >= -1
    assert item["B"].max() <= 1
    assert item["A_path"].endswith("a1.png")  # 4 mod 3
    b_paths = {data[i]["B_path"] for i in range(5)}
    assert b_paths <= {str(tmp_path / "trainB" / f"b{i}.jpg") for i in range(5)}
    assert len(b_paths) > 1


def test_extensions_are_case_insensitive_sorted_and_filtered(tmp_path):
    folder = tmp_path / "trainA"
    for name in ["c.PNG", "a.JpEg", "b.bmp", "d.webp"]:
        _save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    (folder / "sub.png").mkdir()
    assert [p.name for p in list_images(folder)] == ["a.JpEg", "b.bmp", "c.PNG", "d.webp"]


@pytest.mark.parametrize(("mode", "value", "expected"), [
    ("L", 200, (200, 200, 200)),
    ("1", 1, (255, 255, 255)),
    ("LA", (100, 7), (100, 100, 100)),
    ("RGBA", (10, 20, 30, 0), (10, 20, 30)),
    ("I;16", 65535, (255, 255, 255)),
    ("I;16", 0, (0, 0, 0)),
])
def test_image_modes_become_rgb(tmp_path, mode, value, expected):
    path = tmp_path / "x.png"
    Image.new(mode, (6, 5), value).save(path)
    image = load_image(path)
    assert image.shape == (3, 5, 6)
    want = torch.tensor(expected, dtype=torch.float32) / 127.5 - 1
    assert torch.allclose(image[:, 2, 3], want, atol=1e-6)


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "g.png"
    Image.fromarray(np.array([[0, 16448, 32896, 65535]], np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    values = (load_image(path)[0, 0] + 1) * 127.5
    assert torch.allclose(values, torch.tensor([0.0, 64.0, 128.0, 255.0]), atol=0.6)


def test_palette_images_become_rgb(tmp_path):
    plain = Image.new("P", (4, 4), 1)
    plain.putpalette([0, 0, 0, 250, 10, 20] + [0] * 762)
    plain.save(tmp_path / "p.png")
    plain.save(tmp_path / "pt.png", transparency=0)
    for name in ["p.png", "pt.png"]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            image = load_image(tmp_path / name)
        assert torch.allclose((image[:, 0, 0] + 1) * 127.5, torch.tensor([250.0, 10.0, 20.0]))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "c.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path)  # pure red
    assert Image.open(path).mode == "CMYK"
    r, g, b = ((load_image(path)[:, 4, 4] + 1) * 127.5).tolist()
    assert r > 230
    assert g < 25
    assert b < 25


def test_load_image_resizes(tmp_path):
    path = _save(tmp_path / "x.png", size=(30, 10))
    assert load_image(path, 12).shape == (3, 12, 12)
    with pytest.raises(DataError, match="not found"):
        load_image(tmp_path / "missing.png")


def test_train_augmentation_is_seeded_and_flips(tmp_path):
    root = tmp_path / "d"
    left_dark = np.zeros((32, 32, 3), np.uint8)
    left_dark[:, 16:] = 255
    for domain in "AB":
        (root / f"train{domain}").mkdir(parents=True)
        for i in range(12):
            Image.fromarray(left_dark).save(root / f"train{domain}" / f"{i:02d}.png")
    data = UnpairedImageFolder(root, image_size=16, load_size=20, seed=1)
    again = UnpairedImageFolder(root, image_size=16, load_size=20, seed=1)
    other = UnpairedImageFolder(root, image_size=16, load_size=20, seed=2)
    items = [data[i]["A"] for i in range(12)]
    assert all(torch.equal(x, again[i]["A"]) for i, x in enumerate(items))
    assert any(not torch.equal(x, other[i]["A"]) for i, x in enumerate(items))
    flipped = [bool(x[0, :, 0].mean() > x[0, :, -1].mean()) for x in items]
    assert 0 < sum(flipped) < 12  # some flipped, some not
    data.set_epoch(1)
    assert any(not torch.equal(x, data[i]["A"]) for i, x in enumerate(items))


def test_test_phase_resizes_without_flip_and_visits_every_b(tmp_path):
    root = _dataset(tmp_path, n_a=2, n_b=3, phase="test")
    data = UnpairedImageFolder(root, phase="test", image_size=12)
    assert not data.augment
    assert data.load_size == round(12 * 286 / 256)
    assert [data[i]["B_path"][-6:] for i in range(3)] == ["b0.jpg", "b1.jpg", "b2.jpg"]
    assert data[0]["A"].shape == (3, 12, 12)
    source = np.asarray(Image.open(root / "testA" / "a1.png").resize((12, 12), Image.BICUBIC))
    assert torch.equal(data[1]["A"], torch.from_numpy(source.copy()).permute(2, 0, 1) / 127.5 - 1)


def test_missing_root_and_folders_raise(tmp_path):
    with pytest.raises(DataError, match="dataset root not found"):
        UnpairedImageFolder(tmp_path / "nope")
    _save(tmp_path / "trainA" / "a.png")
    with pytest.raises(DataError, match="trainB: image folder not found"):
        UnpairedImageFolder(tmp_path)
    with pytest.raises(DataError, match="testA: image folder not found"):
        UnpairedImageFolder(tmp_path, phase="test")
    with pytest.raises(ValueError, match="phase"):
        UnpairedImageFolder(tmp_path, phase="val")


def test_empty_folder_raises(tmp_path):
    _save(tmp_path / "trainA" / "a.png")
    (tmp_path / "trainB").mkdir()
    (tmp_path / "trainB" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="trainB: no images"):
        UnpairedImageFolder(tmp_path)


def test_bad_sizes_raise(tmp_path):
    with pytest.raises(ValueError, match="load_size"):
        UnpairedImageFolder(_dataset(tmp_path), image_size=16, load_size=8)


def _corrupt_files(folder):
    (folder / "empty.png").write_bytes(b"")
    (folder / "garbage.jpg").write_bytes(b"\x00\x01 definitely not an image" * 20)
    good_png = (folder / "a0.png").read_bytes()
    (folder / "cut.png").write_bytes(good_png[: len(good_png) // 2])


def test_unreadable_images_are_skipped_with_one_warning(tmp_path):
    root = _dataset(tmp_path, n_a=2, n_b=2)
    _corrupt_files(root / "trainA")
    with pytest.warns(UserWarning, match=r"skipped 3 unreadable images in .*trainA: cut\.png, "
                                         r"empty\.png, garbage\.jpg") as record:
        data = UnpairedImageFolder(root, image_size=8)
    assert len(record) == 1
    assert len(data) == 2
    assert all(data[i]["A"].shape == (3, 8, 8) for i in range(len(data)))


def test_image_failing_only_when_decoded_is_replaced_by_the_next(tmp_path):
    root = _dataset(tmp_path, n_a=3, n_b=3)
    big = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    Image.fromarray(big).save(root / "trainB" / "b1.jpg", quality=95)
    whole = (root / "trainB" / "b1.jpg").read_bytes()
    (root / "trainB" / "b1.jpg").write_bytes(whole[: len(whole) // 2])  # header intact
    data = UnpairedImageFolder(root, image_size=8, serial_b=True)
    with pytest.warns(UserWarning, match=r"b1\.jpg"):
        item = data[1]
    assert item["B_path"].endswith("b2.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert data[1]["B_path"].endswith("b2.jpg")
        with pytest.raises(DataError, match="unreadable image"):
            load_image(root / "trainB" / "b1.jpg")


def test_images_failing_when_decoded_count_in_none_readable(tmp_path):
    root = _dataset(tmp_path, n_a=1, n_b=1)
    (root / "trainA" / "empty.png").write_bytes(b"")  # dropped when the dataset is built
    big = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    for name in ("a0.png", "c.jpg"):  # dropped when decoded
        Image.fromarray(big).save(root / "trainA" / name, format="JPEG", quality=95)
        whole = (root / "trainA" / name).read_bytes()
        (root / "trainA" / name).write_bytes(whole[: len(whole) // 2])
    with pytest.warns(UserWarning, match="empty.png"):
        data = UnpairedImageFolder(root, image_size=8)
    with (pytest.warns(UserWarning, match="unreadable image") as record,
          pytest.raises(DataError, match=r"trainA: none of the 3 images is readable$")):
        data[0]
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    for message in messages:  # the path once, then the problem
        assert message.count(str(root)) == 1
        assert message.startswith(f"skipped {root}")
        assert "unreadable image" in message


def test_all_unreadable_raises(tmp_path):
    root = _dataset(tmp_path, n_a=1, n_b=1)
    (root / "trainA" / "a0.png").write_bytes(b"")
    (root / "trainA" / "z.jpg").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"trainA: none of the 2 images is readable"):
        UnpairedImageFolder(root)


def test_loader_order_is_seeded(tmp_path):
    data = UnpairedImageFolder(_dataset(tmp_path, n_a=6, n_b=2), image_size=8)

    def order(seed):
        return [p for batch in make_loader(data, 2, True, seed) for p in batch["A_path"]]

    assert order(3) == order(3)
    assert sorted(order(3)) == sorted(order(4))
    assert order(3) != order(4)
    batch = next(iter(make_loader(data, 4, False, 0)))
    assert batch["A"].shape == (4, 3, 8, 8)


def test_unpaired_tensor_batches_are_seeded_and_unpaired():
    from deap_gan_prune.data import UnpairedTensorBatches
    a = torch.arange(8.0).view(8, 1, 1, 1).expand(8, 3, 2, 2).contiguous()
    b = -a
    first = [batch["A"][:, 0, 0, 0].tolist() for batch in UnpairedTensorBatches(a, b, 4, seed=1)]
    again = [batch["A"][:, 0, 0, 0].tolist() for batch in UnpairedTensorBatches(a, b, 4, seed=1)]
    assert first == again
    assert len(first) == 2
    assert sorted(i for batch in first for i in batch) == list(range(8))
    with pytest.raises(DataError, match="at least 16"):
        UnpairedTensorBatches(a, b, 16)

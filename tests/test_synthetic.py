"""The synthetic horse/zebra dataset and the outline colour measures."""
import colorsys

import numpy as np
import pytest
import torch

from deap_gan_prune.data import UnpairedImageFolder
from deap_gan_prune.metrics import (
    HIGHER_IS_BETTER,
    brown_share,
    outline_scores,
    rgb_to_hsv,
    stripe_share,
)
from deap_gan_prune.synthetic import SyntheticHorseZebra, render_sample, write_synthetic_dataset

BROWN = (0.55, 0.33, 0.16)  # RGB in [0, 1]: hue 28°, saturation 0.71, value 0.55


@pytest.mark.parametrize("size", [32, 64])
def test_items_have_shapes_ranges_and_sensible_outlines(size):
    data = SyntheticHorseZebra(n=6, size=size, seed=3)
    assert len(data) == 6
    for i in range(len(data)):
        item = data[i]
        for domain in "AB":
            image, outline = item[domain], item[f"{domain}_outline"]
            assert image.shape == (3, size, size)
            assert image.dtype == torch.float32
            assert image.min() >= -1.0
            assert image.max() <= 1.0
            assert image.std() > 0.1  # a scene, not a flat colour
            assert outline.shape == (size, size)
            assert outline.dtype == torch.bool
            assert 0.1 < outline.float().mean() < 0.6
    assert data.images("B").shape == (6, 3, size, size)
    assert data.outlines("A").shape == (6, size, size)
    assert torch.equal(data.images("A")[4], data[4]["A"])


def test_render_sample_returns_uint8_and_outline():
    image, outline = render_sample(np.random.default_rng(0), 32, "B")
    assert image.dtype == np.uint8
    assert image.shape == (32, 32, 3)
    assert outline.dtype == bool
    assert outline.shape == (32, 32)
    assert 0.1 < outline.mean() < 0.6


def test_coverage_over_many_items():
    outlines = SyntheticHorseZebra(n=40, size=32, seed=0).outlines("A").float()
    assert 0.2 < outlines.mean() < 0.45


def test_same_seed_same_items_in_any_order():
    first = SyntheticHorseZebra(n=8, size=32, seed=5)
    second = SyntheticHorseZebra(n=8, size=32, seed=5)
    late = second[7]  # drawn first here, last there
    for i in range(8):
        first[i]
    assert all(torch.equal(first[7][k], late[k]) for k in late)
    bigger = SyntheticHorseZebra(n=20, size=32, seed=5)  # item i does not depend on n
    assert torch.equal(bigger[7]["B"], late["B"])


def test_seed_split_and_domain_change_the_items():
    base = SyntheticHorseZebra(n=4, size=32, seed=0)
    other_seed = SyntheticHorseZebra(n=4, size=32, seed=1)
    test_split = SyntheticHorseZebra(n=4, size=32, seed=0, split="test")
    for i in range(4):
        assert not torch.equal(base[i]["A"], other_seed[i]["A"])
        assert not torch.equal(base[i]["A"], test_split[i]["A"])
        assert not torch.equal(base[i]["A_outline"], base[i]["B_outline"])  # independent poses
    assert not torch.equal(base[0]["B"], base[1]["B"])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="domain"):
        render_sample(np.random.default_rng(0), 32, "C")
    with pytest.raises(ValueError, match="size"):
        render_sample(np.random.default_rng(0), 4)
    with pytest.raises(ValueError, match="split"):
        SyntheticHorseZebra(n=2, size=32, split="val")
    with pytest.raises(ValueError, match="at least one"):
        SyntheticHorseZebra(n=0)
    with pytest.raises(IndexError):
        SyntheticHorseZebra(n=2, size=32)[2]


def test_written_dataset_round_trips_through_the_folder_loader(tmp_path):
    root = write_synthetic_dataset(tmp_path / "synth", n_train=3, n_test=2, size=32, seed=4)
    assert sorted(p.name for p in root.iterdir()) == ["outlines", "testA", "testB", "trainA",
                                                      "trainB"]
    assert [p.name for p in tmp_path.iterdir()] == ["synth"]  # no temporary folder left
    folder = UnpairedImageFolder(root, phase="test", image_size=32, seed=0)
    memory = SyntheticHorseZebra(n=2, size=32, seed=4, split="test")
    assert len(folder) == 2
    for i in range(2):
        assert torch.equal(folder[i]["A"], memory[i]["A"])
        assert torch.equal(folder[i]["B"], memory[i]["B"])
        assert folder[i]["A_path"].endswith(f"{i:05d}.png")
    from PIL import Image
    outline = np.asarray(Image.open(root / "outlines" / "testB" / "00001.png")) > 127
    assert np.array_equal(outline, memory[1]["B_outline"].numpy())
    assert len(list((root / "trainB").iterdir())) == 3


def test_written_dataset_refuses_to_overwrite_unless_asked(tmp_path):
    root = write_synthetic_dataset(tmp_path / "d", n_train=1, n_test=1, size=16, seed=0)
    with pytest.raises(FileExistsError, match="not empty"):
        write_synthetic_dataset(root, n_train=1, n_test=1, size=16, seed=1)
    before = (root / "trainA" / "00000.png").read_bytes()
    write_synthetic_dataset(root, n_train=2, n_test=1, size=16, seed=1, overwrite=True)
    assert (root / "trainA" / "00000.png").read_bytes() != before
    assert len(list((root / "trainA").iterdir())) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


# ---- outline measures ------------------------------------------------------------------------

def _images(rgb_inside, rgb_outside, outline):
    """Float images [N, 3, H, W] in [-1, 1] painted with one colour inside and one outside."""
    inside = torch.tensor(rgb_inside).view(1, 3, 1, 1) * 2 - 1
    outside = torch.tensor(rgb_outside).view(1, 3, 1, 1) * 2 - 1
    return torch.where(outline[:, None], inside, outside)


def _outline(n=2, size=8):
    outline = torch.zeros(n, size, size, dtype=torch.bool)
    outline[:, 2:6, 1:7] = True
    return outline


def test_black_and_white_inside_scores_full_stripe_share():
    outline = _outline()
    images = _images((0.0, 0.0, 0.0), BROWN, outline)
    images[:, :, ::2] = torch.where(outline[:, None, ::2], 1.0, images[:, :, ::2])  # white rows
    assert stripe_share(images, outline) == 1.0
    assert brown_share(images, outline) == 0.0


def test_brown_inside_scores_full_brown_share_and_outside_is_ignored():
    outline = _outline()
    images = _images(BROWN, (0.0, 0.0, 0.0), outline)  # black all around: ignored
    assert brown_share(images, outline) == 1.0
    assert stripe_share(images, outline) == 0.0
    half = images.clone()
    half[0] = torch.where(outline[0], -1.0, half[0])  # first image black inside
    assert stripe_share(half, outline) == pytest.approx(0.5)
    assert brown_share(half, outline) == pytest.approx(0.5)


def test_uint8_images_give_the_same_shares():
    data = SyntheticHorseZebra(n=4, size=32, seed=2)
    images, outlines = data.images("B"), data.outlines("B")
    as_uint8 = ((images + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert stripe_share(as_uint8, outlines.numpy()) == pytest.approx(stripe_share(images, outlines))


def test_colour_conversion_matches_colorsys():
    rgb = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    hue, sat, val = rgb_to_hsv(rgb)
    for y, x in [(0, 0), (2, 3), (4, 6)]:
        h, s, v = colorsys.rgb_to_hsv(*rgb[0, :, y, x].tolist())
        assert hue[0, y, x] == pytest.approx(h * 360, abs=1e-3)
        assert sat[0, y, x] == pytest.approx(s, abs=1e-5)
        assert val[0, y, x] == pytest.approx(v, abs=1e-6)


def test_bad_measure_inputs_raise():
    outline = _outline()
    images = _images(BROWN, BROWN, outline)
    with pytest.raises(ValueError, match="outlines must be"):
        stripe_share(images, outline[:1])
    with pytest.raises(ValueError, match="no pixel"):
        brown_share(images, torch.zeros_like(outline))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        brown_share(images[:, :2], outline)


@pytest.mark.parametrize("size", [32, 64])
def test_real_domains_separate_on_both_measures(size):
    data = SyntheticHorseZebra(n=24, size=size, seed=0, split="test")
    a, b = data.images("A"), data.images("B")
    a_out, b_out = data.outlines("A"), data.outlines("B")
    assert stripe_share(b, b_out) > 0.5
    assert stripe_share(a, a_out) < 0.1
    assert brown_share(a, a_out) > 0.6
    assert brown_share(b, b_out) < 0.1
    # identity "translations" score badly, perfect ones well
    bad = outline_scores(a, a_out, b, b_out)
    good = outline_scores(_zebra_like(a, a_out), a_out,
                          _brown_like(b, b_out), b_out)
    assert set(bad) == set(HIGHER_IS_BETTER)
    for key, higher in HIGHER_IS_BETTER.items():
        assert (good[key] > bad[key]) == higher, key


def _zebra_like(images, outlines):
    stripes = torch.where(torch.arange(images.shape[-1]) % 4 < 2, 1.0, -1.0).expand_as(images)
    return torch.where(outlines[:, None], stripes, images)


def _brown_like(images, outlines):
    brown = torch.tensor(BROWN).view(1, 3, 1, 1) * 2 - 1
    return torch.where(outlines[:, None], brown, images)

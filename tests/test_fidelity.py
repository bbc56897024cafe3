import numpy as np
import pytest
import torch

from deap_gan_prune.metrics.fidelity import (
    FIDELITY_HIGHER_IS_BETTER,
    PSNR_CAP_DB,
    fidelity_scores,
    generator_fidelity,
)
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.slimming import slim


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(4, 3, 36, 36, generator=g), 5, 1)
    return smooth * 2 - 1  # [4, 3, 32, 32] in [-1, 1]


def test_identical_images_give_ssim_one_and_capped_psnr(images):
    scores = fidelity_scores(images, images.clone())
    assert scores["ssim"] == pytest.approx(1.0)
    assert scores["psnr_db"] == PSNR_CAP_DB
    assert scores["higher_is_better"] == FIDELITY_HIGHER_IS_BETTER == {"ssim": True,
                                                                       "psnr_db": True}


def test_noise_lowers_both_and_more_noise_lowers_more(images):
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(images.shape, generator=g)
    little = fidelity_scores((images + 0.02 * noise).clamp(-1, 1), images)
    much = fidelity_scores((images + 0.2 * noise).clamp(-1, 1), images)
    assert 1.0 > little["ssim"] > much["ssim"]
    assert PSNR_CAP_DB > little["psnr_db"] > much["psnr_db"]


def test_psnr_matches_its_definition(images):
    other = (images + 0.1).clamp(-1, 1)
    mse = (((other - images) / 2) ** 2).mean(dim=(1, 2, 3)).double()  # on [0, 1]
    expected = float((10 * torch.log10(1 / mse)).mean())
    assert fidelity_scores(other, images)["psnr_db"] == pytest.approx(expected, rel=1e-6)


def test_numpy_input_and_small_images():
    a = np.linspace(-1, 1, 2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
    assert fidelity_scores(a, a)["ssim"] == pytest.approx(1.0)
    assert fidelity_scores(a, a[:, :, ::-1, :].copy())["ssim"] < 0.9


def test_shape_mismatch_and_bad_shapes_are_clear_errors(images):
    with pytest.raises(ValueError, match="differ in shape"):
        fidelity_scores(images, images[:2])
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        fidelity_scores(images[0, 0], images[0, 0])
    with pytest.raises(ValueError, match="too small"):
        fidelity_scores(images[:, :, :2, :2], images[:, :, :2, :2])


def test_generator_fidelity_of_a_slim_generator(tiny_generator, images):
    space = space_of(tiny_generator)
    full = slim(tiny_generator, space.full(), space)
    same = generator_fidelity(full, tiny_generator, images, batch_size=3)
    assert same["ssim"] > 0.999
    assert same["psnr_db"] > 60
    bits = space.full()
    for g in space.groups:
        bits[g.offset] = 0  # drop one channel of every group
    pruned = generator_fidelity(slim(tiny_generator, bits, space), tiny_generator,
                                images)
    assert pruned["ssim"] < same["ssim"]
    assert pruned["psnr_db"] < same["psnr_db"]
    assert not tiny_generator.training

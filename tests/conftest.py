import random

import pytest
import torch

from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator

# Tiny models: one thread is fastest, and results do not depend on the thread count.
torch.set_num_threads(1)


@pytest.fixture
def tiny_generator():
    torch.manual_seed(0)
    return ResnetGenerator(ngf=4, n_blocks=2).eval()


@pytest.fixture
def tiny_discriminator():
    torch.manual_seed(1)
    return NLayerDiscriminator(ndf=4, n_layers=3).eval()


@pytest.fixture
def rng():
    return random.Random(0)


@pytest.fixture(scope="session")
def gan_dir(tmp_path_factory):
    """A folder of a tiny CycleGAN in the upstream layout (ngf 4, 2 blocks; ndf 4), seed 0.
    Tests only read it."""
    folder = tmp_path_factory.mktemp("gan")
    torch.manual_seed(0)
    for name in ("G_A", "G_B"):
        torch.save(ResnetGenerator(ngf=4, n_blocks=2).state_dict(),
                   folder / f"latest_net_{name}.pth")
    for name in ("D_A", "D_B"):
        torch.save(NLayerDiscriminator(ndf=4).state_dict(), folder / f"latest_net_{name}.pth")
    return folder

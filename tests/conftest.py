import random

import pytest
import torch

from deap_gan_prune.models import NLayerDiscriminator, ResnetGenerator

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

"""The shipped teacher loads and really translates in both directions (outline measures)."""
import json

import pytest

from deap_gan_prune.metrics.evaluation import translate
from deap_gan_prune.metrics import outline_scores
from deap_gan_prune.synthetic import SyntheticHorseZebra
from deap_gan_prune.teacher import TEACHER_DIR, load_teacher, teacher_info


@pytest.fixture(scope="module")
def scores():
    gan = load_teacher()
    test = SyntheticHorseZebra(n=32, size=64, seed=0, split="test")
    a, b = test.images("A"), test.images("B")
    translated = outline_scores(translate(gan.g_a, a), test.outlines("A"),
                                translate(gan.g_b, b), test.outlines("B"))
    untouched = outline_scores(a, test.outlines("A"), b, test.outlines("B"))
    return gan, translated, untouched


def test_teacher_architecture(scores):
    gan, _, _ = scores
    assert gan.has_discriminators
    assert gan.g_a.widths.first == 16 and gan.g_a.widths.n_blocks == 6
    assert gan.d_a.ndf == 32
    info = teacher_info()
    assert info["architecture"]["G_A"]["ngf"] == 16 and info["steps"] > 0
    assert json.loads((TEACHER_DIR / "teacher.json").read_text()) == info


def test_horse_to_zebra_paints_stripes_inside_the_horse(scores):
    _, translated, untouched = scores
    assert untouched["a2b_stripe_share"] < 0.05        # real horses have no stripes
    assert translated["a2b_stripe_share"] > 0.4        # translated ones do
    assert translated["a2b_brown_share"] < 0.1         # and little brown is left


def test_zebra_to_horse_paints_brown_inside_the_zebra(scores):
    _, translated, untouched = scores
    assert untouched["b2a_brown_share"] < 0.05
    assert translated["b2a_brown_share"] > 0.5
    assert translated["b2a_stripe_share"] < 0.1

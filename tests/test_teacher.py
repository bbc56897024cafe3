"""The shipped teacher loads and really translates in both directions (outline measures)."""
import json

import pytest

from deap_gan_prune.metrics import outline_scores
from deap_gan_prune.metrics.evaluation import translate
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
    assert gan.g_a.widths.first == 16
    assert gan.g_a.widths.n_blocks == 6
    assert gan.d_a.ndf == 32
    info = teacher_info()
    assert info["architecture"]["G_A"]["ngf"] == 16
    assert info["steps"] > 0
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


def test_shipped_supernet_keeps_the_full_network_and_its_sub_networks_translate(scores):
    """The once-for-all teacher: same widths, its full network still translates, and a
    uniform 4x sub-network straight from its weights paints stripes where the teacher's own
    weights do not (figures recorded in supernet.json by examples/train_supernet.py)."""
    from deap_gan_prune.core.baselines import uniform_mask
    from deap_gan_prune.nets.groups import space_of
    from deap_gan_prune.nets.slimming import slim
    from deap_gan_prune.teacher import SUPERNET_DIR, load_teacher_supernet
    gan, _translated, _ = scores
    sup = load_teacher_supernet()
    assert sup.g_a.widths == gan.g_a.widths
    assert sup.g_b.widths == gan.g_b.widths
    assert next(sup.g_a.parameters()).dtype.is_floating_point
    info = json.loads((SUPERNET_DIR / "supernet.json").read_text())
    assert info["kind"] == "supernet"
    assert info["steps"] > 0
    record = info["training"]  # the recipe's record of where it ran
    assert record["device"] == "cpu"
    assert record["torch"].startswith("2.")
    test = SyntheticHorseZebra(n=32, size=64, seed=0, split="test")
    a = test.images("A")
    full = outline_scores(translate(sup.g_a, a), test.outlines("A"), translate(sup.g_b, a),
                          test.outlines("A"))
    assert full["a2b_stripe_share"] > 0.4
    space = space_of(sup.g_a, a[:1])
    stripes = {}
    for name, net in (("teacher", gan.g_a), ("supernet", sup.g_a)):
        small = slim(net, uniform_mask(space, 0.25), space).eval()
        stripes[name] = outline_scores(translate(small, a), test.outlines("A"),
                                       translate(small, a), test.outlines("A"))[
                                           "a2b_stripe_share"]
    assert stripes["supernet"] > 0.3 > stripes["teacher"]

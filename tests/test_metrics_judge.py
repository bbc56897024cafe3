import numpy as np
import pytest
import torch

from deap_gan_prune.metrics.judge import (
    JUDGE_HIGHER_IS_BETTER,
    Judge,
    JudgeConfig,
    frechet_distance,
    judge_accuracy,
    judge_scores,
    load_judge,
    save_judge,
    train_judge,
)
from deap_gan_prune.nets.checkpoints import CheckpointError
from deap_gan_prune.synthetic import SyntheticHorseZebra


@pytest.fixture(scope="module")
def data():
    train = SyntheticHorseZebra(64, 32, seed=0, split="train")
    test = SyntheticHorseZebra(32, 32, seed=0, split="test")
    return train.images("A"), train.images("B"), test.images("A"), test.images("B")


@pytest.fixture(scope="module")
def judge(data):
    a, b, _, _ = data
    return train_judge(a, b, steps=80, seed=0, config=JudgeConfig(width=8), progress=False)


def test_judge_separates_the_real_domains_of_the_test_split(judge, data):
    _, _, test_a, test_b = data
    assert judge_accuracy(judge, test_a, test_b) > 0.9
    assert judge.predict_proba(test_b).shape == (len(test_b),)
    assert judge.features(test_a[:5]).shape == (5, judge.n_features)


def test_untrained_judge_does_not_separate(data):
    torch.manual_seed(0)
    _, _, test_a, test_b = data
    assert judge_accuracy(Judge(width=8, image_size=32).eval(), test_a, test_b) < 0.9


def test_training_is_deterministic_under_a_seed(data):
    a, b, test_a, _ = data
    j1 = train_judge(a[:16], b[:16], steps=3, seed=5, config=JudgeConfig(width=4),
                     progress=False)
    j2 = train_judge(a[:16], b[:16], steps=3, seed=5, config=JudgeConfig(width=4),
                     progress=False)
    j3 = train_judge(a[:16], b[:16], steps=3, seed=6, config=JudgeConfig(width=4),
                     progress=False)
    assert torch.equal(j1.predict_proba(test_a), j2.predict_proba(test_a))
    assert not torch.equal(j1.predict_proba(test_a), j3.predict_proba(test_a))


def test_scores_of_real_and_wrong_domain_images(judge, data):
    _, _, test_a, test_b = data
    good = judge_scores(judge, test_b[:16], "B", test_b[16:])
    bad = judge_scores(judge, test_a[:16], "B", test_b[16:])
    assert good["higher_is_better"] == JUDGE_HIGHER_IS_BETTER
    assert good["judge_success"] > 0.9
    assert bad["judge_success"] < 0.1
    assert good["judge_target_probability"] > bad["judge_target_probability"]
    assert good["judge_frechet"] < bad["judge_frechet"]
    towards_a = judge_scores(judge, test_a[:16], "A", test_a[16:])
    assert towards_a["judge_success"] > 0.9


def test_judge_resizes_other_image_sizes(judge, data):
    _, _, _, test_b = data
    big = torch.nn.functional.interpolate(test_b[:8], size=(64, 64), mode="bilinear")
    assert (judge.predict_proba(big) > 0.5).float().mean() > 0.7


def test_frechet_distance_is_zero_for_a_set_with_itself_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)
    d1 = frechet_distance(feats, feats + 0.5)
    d2 = frechet_distance(feats, feats + 1.0)
    assert d1 == pytest.approx(6 * 0.25, rel=1e-6)  # a pure mean shift: |delta mu|^2
    assert 0 < d1 < d2
    assert frechet_distance(feats, 2 * feats) > 0  # a change of spread counts too


def test_frechet_distance_matches_the_matrix_square_root_formula():
    from scipy import linalg as scipy_linalg  # scikit-image depends on scipy
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=(50, 4)), rng.normal(size=(60, 4)) * 1.5 + 0.3
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    root = scipy_linalg.sqrtm(s1 @ s2).real
    expected = ((f1.mean(0) - f2.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * root)
    assert frechet_distance(f1, f2) == pytest.approx(expected, rel=1e-6)


def test_bad_inputs_give_clear_errors(judge, data):
    a, b, _, _ = data
    with pytest.raises(ValueError, match="target domain"):
        judge_scores(judge, a[:4], "C", b[:4])
    with pytest.raises(ValueError, match="same F"):
        frechet_distance(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="non-empty"):
        train_judge(a[:0], b, steps=1, progress=False)


def test_save_and_load_round_trip(judge, data, tmp_path):
    _, _, test_a, _ = data
    path = save_judge(judge, tmp_path / "judge.pth")
    loaded = load_judge(path)
    assert (loaded.width, loaded.image_size) == (judge.width, judge.image_size)
    assert torch.equal(loaded.predict_proba(test_a), judge.predict_proba(test_a))
    (tmp_path / "junk.pth").write_bytes(b"not a file")
    with pytest.raises(CheckpointError, match=r"junk\.pth"):
        load_judge(tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match="no such file"):
        load_judge(tmp_path / "missing.pth")
    torch.save({"model.1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a judge file"):
        load_judge(tmp_path / "other.pth")

import json
import sys
import types

import numpy as np
import pytest
import torch
from scipy import linalg

from deap_gan_prune.cli import main
from deap_gan_prune.metrics.evaluation import translate
from deap_gan_prune.metrics.fid import (
    FID_HIGHER_IS_BETTER,
    INCEPTION_WEIGHTS_NAME,
    FidConfig,
    FIDUnavailable,
    Uint8Images,
    cached_inception_weights,
    check_inception_weights,
    fid_kid,
)
from deap_gan_prune.nets.checkpoints import load_cyclegan, save_generator


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path, monkeypatch):
    """torch-fidelity's cache (torch.hub's folder) in an empty temporary folder."""
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 16, 16, generator=g) * 2 - 1


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / INCEPTION_WEIGHTS_NAME
    path.write_bytes(b"placeholder, not real weights")
    return path


@pytest.fixture
def fake_fidelity(monkeypatch):
    """A stand-in torch_fidelity with the documented calculate_metrics API, recording calls."""
    module = types.ModuleType("torch_fidelity")
    module.calls = []

    def calculate_metrics(**kwargs):
        module.calls.append(kwargs)
        return {"frechet_inception_distance": 12.5, "kernel_inception_distance_mean": 0.01,
                "kernel_inception_distance_std": 0.002}

    module.calculate_metrics = calculate_metrics
    monkeypatch.setitem(sys.modules, "torch_fidelity", module)
    return module


def test_no_weights_file_given_is_a_one_line_error(images):
    with pytest.raises(FIDUnavailable) as info:
        fid_kid(images, images, None)
    message = str(info.value)
    assert "\n" not in message
    assert "--inception-weights" in message
    assert INCEPTION_WEIGHTS_NAME in message
    assert "none is downloaded" in message


def test_missing_weights_file_names_the_file(images, tmp_path):
    missing = tmp_path / "nowhere" / INCEPTION_WEIGHTS_NAME
    with pytest.raises(FIDUnavailable, match="no such Inception weights file") as info:
        fid_kid(images, images, missing)
    assert str(missing) in str(info.value)
    with pytest.raises(FIDUnavailable):
        check_inception_weights(tmp_path)  # a folder is not a weights file


def test_missing_torch_fidelity_names_the_extra(images, weights, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails
    with pytest.raises(FIDUnavailable, match=r"deap-gan-prune\[fid\]"):
        fid_kid(images, images, weights)


def test_weights_are_checked_before_torch_fidelity_is_needed(images, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    with pytest.raises(FIDUnavailable, match="needs Inception weights"):
        fid_kid(images, images, None)


def test_the_computation_path_passes_the_local_weights_and_never_downloads(
        images, weights, fake_fidelity):
    scores = fid_kid(images, images[:4], weights, config=FidConfig(batch_size=3))
    assert scores["fid"] == 12.5
    assert scores["kid_mean"] == 0.01
    assert scores["kid_std"] == 0.002
    assert scores["higher_is_better"] == FID_HIGHER_IS_BETTER
    (call,) = fake_fidelity.calls
    assert call["feature_extractor_weights_path"] == str(weights)
    assert call["cache"] is False
    assert call["datasets_download"] is False
    assert call["fid"]
    assert call["kid"]
    assert call["kid_subset_size"] == 4
    assert call["batch_size"] == 3
    assert call["cuda"] is False
    first = call["input1"]
    assert len(first) == 6
    assert first[0].dtype == torch.uint8
    assert first[0].shape == (3, 16, 16)


def test_bad_fid_settings_are_refused_in_one_line():
    with pytest.raises(ValueError, match="batch_size and kid_subsets must be 1 or more"):
        FidConfig(batch_size=0)
    with pytest.raises(ValueError, match="kid_subset_size must be 2 or more"):
        FidConfig(kid_subset_size=1)


def test_fid_only_and_newer_device_option(images, weights, fake_fidelity):
    fake_fidelity.defaults = types.SimpleNamespace(DEFAULTS={"device": "cuda"})
    scores = fid_kid(images, images, weights, config=FidConfig(kid=False))
    assert set(scores) == {"fid", "higher_is_better"}
    (call,) = fake_fidelity.calls
    assert call["device"] == "cpu"
    assert "cuda" not in call
    assert not call["kid"]


def test_a_failure_inside_torch_fidelity_becomes_one_line(images, weights, fake_fidelity):
    def broken(**_kwargs):
        raise RuntimeError("Invalid magic number; corrupt file?\nmore detail")

    fake_fidelity.calculate_metrics = broken
    with pytest.raises(FIDUnavailable, match="corrupt file") as info:
        fid_kid(images, images, weights)
    assert "\n" not in str(info.value)
    assert str(weights) in str(info.value)


@pytest.mark.usefixtures("fake_fidelity")
def test_uint8_conversion_and_bad_inputs(images, weights, tmp_path):
    data = Uint8Images(torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1))
    assert data[0].flatten().tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        fid_kid(images[:, :1], images, weights)
    with pytest.raises(ValueError, match="no such image folder"):
        fid_kid(str(tmp_path / "absent"), images, weights)
    with pytest.raises(ValueError, match="at least 2 images"):
        fid_kid(images[:1], images, weights)


def test_cached_weights_are_used_when_none_is_given(empty_hub_cache, images, fake_fidelity):
    cached = cached_inception_weights()
    assert cached == empty_hub_cache / "checkpoints" / INCEPTION_WEIGHTS_NAME
    with pytest.raises(FIDUnavailable, match="torch-fidelity's cache") as info:
        check_inception_weights(None)
    assert str(cached.parent) in str(info.value)
    assert "--inception-weights" in str(info.value)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"stand-in")
    assert check_inception_weights(None) == cached
    fid_kid(images, images, None)
    assert fake_fidelity.calls[0]["feature_extractor_weights_path"] == str(cached)


def test_torch_fidelity_without_its_dependency_says_which(images, weights, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def without_torchvision(name, *args, **kwargs):
        if name == "torch_fidelity":
            raise ModuleNotFoundError("No module named 'torchvision'", name="torchvision")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch_fidelity", raising=False)
    monkeypatch.setattr(builtins, "__import__", without_torchvision)
    with pytest.raises(FIDUnavailable, match=r"cannot be imported.*needs torchvision"):
        fid_kid(images, images, weights)


# -- evaluate --fid, with a stand-in feature extractor ----------------------------------------
def stand_in_features(dataset) -> np.ndarray:
    """A small stand-in for Inception: per-channel mean, std and 2x2-pooled values of the uint8
    images torch-fidelity would read (16 features)."""
    x = torch.stack([dataset[i] for i in range(len(dataset))]).double() / 255
    pooled = torch.nn.functional.adaptive_avg_pool2d(x.mean(1, keepdim=True), 2).flatten(1)
    return torch.cat([x.mean((2, 3)), x.std((2, 3)), pooled], 1).numpy()[:, :10]


def stand_in_fid(f1: np.ndarray, f2: np.ndarray) -> float:
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.fixture
def stand_in_fidelity(fake_fidelity):
    """torch-fidelity's API computing the Fréchet distance of the stand-in features."""
    def calculate_metrics(**kwargs):
        fake_fidelity.calls.append(kwargs)
        f1, f2 = (stand_in_features(kwargs[k]) for k in ("input1", "input2"))
        return {"frechet_inception_distance": stand_in_fid(f1, f2),
                "kernel_inception_distance_mean": float(abs(f1.mean() - f2.mean())),
                "kernel_inception_distance_std": 0.0}
    fake_fidelity.calculate_metrics = calculate_metrics
    return fake_fidelity


@pytest.mark.usefixtures("stand_in_fidelity")
def test_stand_in_distance_is_zero_for_one_set_and_positive_otherwise(images, weights):
    assert abs(fid_kid(images, images, weights)["fid"]) < 1e-6
    assert fid_kid(images, images.clamp(0, 1), weights)["fid"] > 0.01


DATA = ["--image-size", "32", "--n-train", "8", "--n-test", "12", "--quiet"]


def test_evaluate_fid_scores_each_direction_against_the_real_images(
        gan_dir, tmp_path, weights, stand_in_fidelity, capsys):
    from deap_gan_prune.domains import synthetic_data
    slim = tmp_path / "slim"
    gan = load_cyclegan(gan_dir)
    for name, g in (("G_A", gan.g_a), ("G_B", gan.g_b)):
        save_generator(g, slim / f"slim_{name}.pth")  # "pruned" = original: equal scores
    summary = tmp_path / "summary.json"
    assert main(["evaluate", str(slim), "--checkpoints", str(gan_dir), *DATA, "--repeats", "1",
                 "--judge-steps", "2", "--fid", "--inception-weights", str(weights),
                 "--out", str(summary)]) == 0
    out = capsys.readouterr().out
    assert "FID A→B to real B (lower better)" in out
    assert "KID B→A to real A" in out
    quality = json.loads(summary.read_text())["quality"]
    assert quality["directions"]["fid_a2b.fid"] == "lower is better"
    data = synthetic_data(8, 12, 32, seed=0, n_val=16)
    want = stand_in_fid(stand_in_features(Uint8Images(translate(gan.g_a, data.test_a))),
                        stand_in_features(Uint8Images(data.test_b)))
    assert quality["original"]["fid_a2b"]["fid"] == pytest.approx(want, rel=1e-6)
    assert quality["pruned"]["fid_a2b"]["fid"] == pytest.approx(want, rel=1e-6)
    assert quality["original"]["fid_b2a"]["fid"] != pytest.approx(want)
    assert len(stand_in_fidelity.calls) == 4
    assert all(c["feature_extractor_weights_path"] == str(weights)
               for c in stand_in_fidelity.calls)


@pytest.mark.parametrize(("argv", "problem"), [
    (["--fid"], "pass --inception-weights PATH"),
    (["--inception-weights", "nowhere.pth"], "nowhere.pth: no such Inception weights file")])
def test_evaluate_fid_without_weights_is_one_line_before_any_work(
        argv, problem, gan_dir, tmp_path, capsys, monkeypatch):
    from deap_gan_prune.cli import evaluate_cmd
    monkeypatch.setattr(evaluate_cmd, "load_data", lambda *_a, **_k: pytest.fail("work began"))
    assert main(["evaluate", str(tmp_path), "--checkpoints", str(gan_dir), *DATA, *argv]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert problem in err, err


def test_evaluate_fid_without_torch_fidelity_names_the_extra(gan_dir, tmp_path, weights,
                                                             capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    assert main(["evaluate", str(tmp_path), "--checkpoints", str(gan_dir), *DATA, "--fid",
                 "--inception-weights", str(weights)]) == 1
    assert "deap-gan-prune[fid]" in capsys.readouterr().err


def test_evaluate_fid_of_a_generator_of_another_class(tmp_path, weights, stand_in_fidelity,
                                                      capsys):
    from generic_nets import AffineResnet

    from deap_gan_prune.nets.checkpoints import architecture_of
    from deap_gan_prune.nets.groups import space_of
    from deap_gan_prune.nets.slimming import slim
    torch.manual_seed(0)
    net = AffineResnet(ngf=4, n_blocks=1).eval()
    path = tmp_path / "g.pth"
    torch.save(net.state_dict(), path)
    space = space_of(net, torch.rand(1, 3, 32, 32))
    bits = space.full()
    save_generator(slim(net, bits, space), tmp_path / "slim" / "slim_G_A.pth",
                   architecture=architecture_of(AffineResnet, {"ngf": 4, "n_blocks": 1}),
                   space=space, bits=bits)
    summary = tmp_path / "summary.json"
    assert main(["evaluate", str(tmp_path / "slim"), "--generator", "generic_nets:AffineResnet",
                 "--generator-kwargs", '{"ngf": 4, "n_blocks": 1}', "--weights", str(path),
                 *DATA, "--repeats", "1", "--fid", "--inception-weights", str(weights),
                 "--out", str(summary)]) == 0
    assert "A→B pruned to real target images (lower better): FID" in capsys.readouterr().out
    quality = json.loads(summary.read_text())["quality"]
    assert quality["pruned"]["fid_a2b"]["fid"] == pytest.approx(
        quality["original"]["fid_a2b"]["fid"], abs=1e-6)
    assert quality["directions"]["fid_a2b.kid_mean"] == "lower is better"
    assert len(stand_in_fidelity.calls) == 2

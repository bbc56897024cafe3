import sys
import types

import pytest
import torch

from deap_gan_prune.metrics.fid import (FID_HIGHER_IS_BETTER, INCEPTION_WEIGHTS_NAME,
                                        FIDUnavailable, Uint8Images, check_inception_weights,
                                        fid_kid)


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
    assert "--inception-weights" in message and INCEPTION_WEIGHTS_NAME in message
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
    scores = fid_kid(images, images[:4], weights, batch_size=3)
    assert scores["fid"] == 12.5 and scores["kid_mean"] == 0.01 and scores["kid_std"] == 0.002
    assert scores["higher_is_better"] == FID_HIGHER_IS_BETTER
    (call,) = fake_fidelity.calls
    assert call["feature_extractor_weights_path"] == str(weights)
    assert call["cache"] is False and call["datasets_download"] is False
    assert call["fid"] and call["kid"] and call["kid_subset_size"] == 4
    assert call["cuda"] is False
    first = call["input1"]
    assert len(first) == 6 and first[0].dtype == torch.uint8 and first[0].shape == (3, 16, 16)


def test_fid_only_and_newer_device_option(images, weights, fake_fidelity):
    fake_fidelity.defaults = types.SimpleNamespace(DEFAULTS={"device": "cuda"})
    scores = fid_kid(images, images, weights, kid=False)
    assert set(scores) == {"fid", "higher_is_better"}
    (call,) = fake_fidelity.calls
    assert call["device"] == "cpu" and "cuda" not in call and not call["kid"]


def test_a_failure_inside_torch_fidelity_becomes_one_line(images, weights, fake_fidelity):
    def broken(**kwargs):
        raise RuntimeError("Invalid magic number; corrupt file?\nmore detail")

    fake_fidelity.calculate_metrics = broken
    with pytest.raises(FIDUnavailable, match="corrupt file") as info:
        fid_kid(images, images, weights)
    assert "\n" not in str(info.value) and str(weights) in str(info.value)


def test_uint8_conversion_and_bad_inputs(images, weights, tmp_path, fake_fidelity):
    data = Uint8Images(torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1))
    assert data[0].flatten().tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        fid_kid(images[:, :1], images, weights)
    with pytest.raises(ValueError, match="no such image folder"):
        fid_kid(str(tmp_path / "absent"), images, weights)
    with pytest.raises(ValueError, match="at least 2 images"):
        fid_kid(images[:1], images, weights)

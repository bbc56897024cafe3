"""A zoo of generator architectures through every command of the CLI at toy size: inspect,
search, slim, finetune, evaluate, export (float and int8), translate (.onnx and .pth) and
compress. The image's channels and size come from the data and a forward pass, never from a
layer: the denoiser pixel-unshuffles its input and concatenates a constant map, the
super-resolution network writes images twice as large as it reads."""
from __future__ import annotations

import json
import random
from pathlib import Path

import generic_nets
import numpy as np
import pytest
import torch
from PIL import Image

from deap_gan_prune.cli import main
from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.nets.checkpoints import load_generator
from deap_gan_prune.nets.counting import count_module_parameters
from deap_gan_prune.nets.groups import TracingError, space_of
from deap_gan_prune.nets.slimming import masked, slim

#: name -> (class in generic_nets, constructor arguments, output side / input side,
#: traced channel groups)
ZOO = {
    # pixel-unshuffle in, a constant noise map concatenated, pixel-shuffle out
    "denoiser": ("UnshuffleDenoiser", {"ngf": 8}, 1, 2),
    # conv -> pixel-shuffle(2): 2H x 2W out
    "super_resolution": ("ShuffleUpscaler", {"ngf": 8}, 2, 2),
    # up-sampling convs (nearest, then conv), reflect padding
    "style": ("StyleNet", {"ngf": 8}, 1, 4),
    # concatenated skips
    "unet": ("UnetGenerator", {"ngf": 4, "num_downs": 5}, 1, 9),
    # squeeze-and-excitation: a channel-wise multiply on the residual stream
    "attention": ("AttentionNet", {"ngf": 8}, 1, 5),
    # RRDB-like: every conv reads the concatenation of all earlier features
    "dense": ("DenseNet", {"ngf": 8, "growth": 4}, 1, 5),
}
SIZE = 32
DATA = ["--image-size", str(SIZE), "--n-train", "16", "--n-test", "4"]
SEARCH = ["--population", "3", "--generations", "1", "--adapt-steps", "2", "--n-images", "4",
          "--adapt-images", "4", "--budget", "0.6", "--finalists", "1", "--finalist-steps",
          "2", "--quiet"]


def _network(name: str, kwargs: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    return getattr(generic_nets, name)(**kwargs).eval()


def _own(key: str) -> list[str]:
    name, kwargs, _, _ = ZOO[key]
    return ["--generator", f"generic_nets:{name}", "--generator-kwargs", json.dumps(kwargs)]


def _load(key: str, path: Path) -> torch.nn.Module:
    name, kwargs, _, _ = ZOO[key]
    return load_generator(path, architecture={"class": f"generic_nets:{name}",
                                              "kwargs": kwargs})


def _random_bits(space: MaskSpace, seed: int) -> list[int]:
    rng = random.Random(seed)
    bits = [int(rng.random() < 0.5) for _ in range(space.n_bits)]
    for g in space.groups:
        bits[g.offset + rng.randrange(g.size)] = 1
    return bits


@pytest.fixture(scope="module", params=sorted(ZOO))
def searched(request, tmp_path_factory):
    """The network's weights file, searched, slimmed and fine-tuned through the CLI once."""
    key = request.param
    folder = tmp_path_factory.mktemp(key)
    net, own = _network(*ZOO[key][:2]), _own(key)
    weights = folder / "net.pth"
    torch.save(net.state_dict(), weights)
    assert main(["search", *own, "--weights", str(weights), *DATA, *SEARCH,
                 "--out", str(folder / "masks.json")]) == 0
    assert main(["slim", str(folder / "masks.json"), *own, "--weights", str(weights),
                 "--out", str(folder / "slim")]) == 0
    assert main(["finetune", str(folder / "slim"), *own, "--weights", str(weights), *DATA,
                 "--steps", "2", "--batch-size", "2", "--val-images", "2", "--quiet",
                 "--out", str(folder / "tuned")]) == 0
    return key, net, weights, folder


def test_inspect_shows_the_traced_groups(searched, capsys):
    key, net, weights, _ = searched
    capsys.readouterr()
    assert main(["inspect", str(weights), "--size", str(SIZE), *_own(key), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["kind"] == ZOO[key][0]
    assert shown["parameters"] == count_module_parameters(net)
    assert len(shown["groups"]) == ZOO[key][3]
    assert not shown["fixed_groups"]


def test_slim_is_smaller_and_computes_the_masked_network(searched):
    key, net, _, folder = searched
    scale = ZOO[key][2]
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    found = json.loads((folder / "masks.json").read_text())
    space = space_of(net, x[:1])
    assert found["architecture"]["class"] == f"generic_nets:{ZOO[key][0]}"
    assert len(found["masks"]["A"]) == space.n_bits
    slimmed = _load(key, folder / "slim" / "slim_G_A.pth")
    assert count_module_parameters(slimmed) < count_module_parameters(net)
    with torch.no_grad(), masked(net, found["masks"]["A"], space) as zeroed:
        reference = zeroed(x)
        assert reference.shape == (2, 3, scale * SIZE, scale * SIZE)
        torch.testing.assert_close(slimmed(x), reference, atol=1e-5, rtol=1e-4)
    # any other mask too: the couplings (multiply, concatenations, shuffles) are right
    bits = _random_bits(space, 1)
    _slims_as_masked(net, bits, space, x)
    tuned = _load(key, folder / "tuned" / "slim_G_A.pth")
    assert count_module_parameters(tuned) == count_module_parameters(slimmed)


def test_evaluate(searched, capsys):
    key, _, weights, folder = searched
    out = folder / "evaluation.json"
    assert main(["evaluate", str(folder / "tuned"), *_own(key), "--weights", str(weights),
                 *DATA, "--repeats", "1", "--quiet", "--json", "--out", str(out)]) == 0
    capsys.readouterr()
    found = json.loads(out.read_text())
    sizes = found["generator"]["sizes"]
    assert sizes["pruned"]["parameters"] < sizes["original"]["parameters"]
    assert 0 < sizes["pruned"]["macs_output_32"] < sizes["original"]["macs_output_32"]
    assert np.isfinite(found["quality"]["pruned"]["fidelity_a2b"]["psnr_db"])


def test_export_float_and_int8_then_translate(searched):
    import onnxruntime as ort
    key, _, _, folder = searched
    own, scale = _own(key), ZOO[key][2]
    tuned = folder / "tuned" / "slim_G_A.pth"
    onnx, int8 = folder / "g.onnx", folder / "g_int8.onnx"
    assert main(["export", str(tuned), *own, "--size", str(SIZE), "--out", str(onnx)]) == 0
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        expected = _load(key, tuned)(x).numpy()
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == (2, 3, scale * SIZE, scale * SIZE)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert main(["export", str(tuned), *own, "--int8", "--size", str(SIZE), *DATA,
                 "--calibration", "4", "--check-images", "2", "--min-psnr-db", "0",
                 "--quiet", "--out", str(int8)]) == 0
    assert json.loads((folder / "g_int8.onnx.json").read_text())["kernels"]["integer"]
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == (2, 3, scale * SIZE, scale * SIZE)
    assert np.isfinite(got).all()
    source = folder / "photos"
    source.mkdir()
    Image.new("RGB", (SIZE, SIZE), (120, 60, 30)).save(source / "a.png")
    Image.new("RGB", (2 * SIZE, SIZE), (20, 160, 90)).save(source / "wide.png")
    for model, extra in [(onnx, []), (int8, []), (tuned, own)]:
        out = folder / f"translated_{model.name}"
        assert main(["translate", str(model), str(source), *extra, "--out", str(out),
                     "--quiet"]) == 0
        assert Image.open(out / "a.png").size == (scale * SIZE, scale * SIZE), model.name
        assert Image.open(out / "wide.png").size == (scale * 2 * SIZE, scale * SIZE)


@pytest.mark.parametrize("key", [pytest.param(k, marks=() if k == "denoiser" else
                                                pytest.mark.slow) for k in sorted(ZOO)])
def test_compress(key, tmp_path):
    """The one command, int8 included (the fastest network in the fast lane)."""
    weights = tmp_path / "net.pth"
    torch.save(_network(*ZOO[key][:2]).state_dict(), weights)
    run = tmp_path / "run"
    assert main(["compress", *_own(key), "--weights", str(weights), "--image-size", str(SIZE),
                 "--n-train", "8", "--n-test", "4", "--population", "3", "--generations", "1",
                 "--adapt-steps", "2", "--n-images", "4", "--adapt-images", "4", "--budget",
                 "0.6", "--finetune-steps", "2", "--batch-size", "2", "--val-every", "2",
                 "--checkpoint-every", "2", "--repeats", "1", "--judge-steps", "2", "--int8",
                 "--quiet", "--out", str(run)]) == 0
    for name in ("report.md", "masks.json", "slim/slim_G_A.pth", "finetuned/slim_G_A.pth",
                 "export/G_A.onnx", "export/G_A.int8.onnx"):
        assert (run / name).is_file(), name


# A pixel-shuffle of features moves r*r channels into one at r times the size (or back): the
# group written before it is kept whole (its channels are fixed), the others are searched.
@pytest.mark.parametrize(("name", "kwargs", "whole"), [
    ("ShuffleUpscaler", {"ngf": 8, "hidden_shuffle": True}, "up.0"),
    ("FeatureUnshuffleNet", {"ngf": 4}, "head"),
])
def test_a_group_read_through_a_pixel_shuffle_of_features_is_kept_whole(name, kwargs, whole):
    net = _network(name, kwargs)
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    space = space_of(net, x)
    assert whole in space.fixed
    assert whole not in [g.name for g in space.groups]
    assert space.groups, "the other groups are still searched"
    _traced_and_slimmed(net)


def test_slim_inside_masked_gives_a_network_without_its_hooks():
    net = _network("AttentionNet", {"ngf": 8})
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    space = space_of(net, x)
    bits = _random_bits(space, 3)
    with torch.no_grad(), masked(net, bits, space) as zeroed:
        small = slim(zeroed, bits, space)
        assert torch.allclose(small(x), zeroed(x), atol=1e-5)


def test_a_network_too_deep_for_the_example_is_refused_in_one_line():
    net = _network("UnetGenerator", {"num_downs": 5, "ngf": 4})
    with pytest.raises(TracingError, match=r"UnetGenerator does not run on a \(1, 3, 16, 16\) "
                       "example .*a larger image size may be needed") as info:
        space_of(net, torch.zeros(1, 3, 16, 16))
    assert "\n" not in str(info.value)


def _slims_as_masked(net: torch.nn.Module, bits: list[int], space: MaskSpace,
                     x: torch.Tensor) -> None:
    slimmed = slim(net, bits, space)  # outside ``masked``: a copy would take its hooks
    assert count_module_parameters(slimmed) < count_module_parameters(net)
    with torch.no_grad(), masked(net, bits, space) as zeroed:
        torch.testing.assert_close(slimmed(x), zeroed(x), atol=1e-5, rtol=1e-4)


def _traced_and_slimmed(net: torch.nn.Module) -> None:
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    space = space_of(net, x)
    _slims_as_masked(net, _random_bits(space, 2), space, x)


def test_a_frozen_network_is_traced_like_a_trainable_one():
    net = _network("AttentionNet", {"ngf": 8})
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    expected = space_of(net, x)
    net.requires_grad_(False)
    assert space_of(net, x) == expected
    assert not any(p.requires_grad for p in net.parameters())  # the caller's is untouched

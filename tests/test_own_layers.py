"""The extension point for a user's own layers: a conditional instance norm declaring
``channel_dims`` is traced into its conv's channel group, sliced by ``slim`` (parameters and
buffers, its channel count set), counted, masked and exported; undeclared or channel-changing
layers are refused in one line."""
import json
import random

import numpy as np
import onnxruntime as ort
import pytest
import torch
from own_layers import CondStyleNet, UndeclaredStyleNet, WideningNet
from PIL import Image

from deap_gan_prune.cli import main
from deap_gan_prune.core import MaskSpace
from deap_gan_prune.nets import TracingError, masked, slim, trace_space
from deap_gan_prune.nets.layers import channel_dims

OWN = ["--generator", "own_layers:CondStyleNet", "--generator-kwargs", '{"ngf": 8}']
DATA = ["--image-size", "32", "--n-train", "16", "--n-test", "4"]


def _space_and_mask(seed: int = 1):
    torch.manual_seed(0)
    net = CondStyleNet().eval()
    space = trace_space(net, torch.zeros(1, 3, 32, 32))
    rng = random.Random(seed)
    bits = [int(rng.random() < 0.6) for _ in range(space.n_bits)]
    for g in space.groups:
        bits[g.offset] = 1
    return net, space, bits


def test_declared_layers_join_their_conv_groups_and_are_counted():
    net, space, bits = _space_and_mask()
    layers = {t.name: t for t in space.terms.layers}
    assert set(layers) == {n for n, m in net.named_modules() if channel_dims(m)}
    # the norm after a conv is in that conv's group; the ones on the residual stream share one
    assert space.groups[layers["contract.2"].group].name == "contract.1"
    assert layers["blocks.0.6"].group == layers["blocks.1.6"].group == layers["contract.5"].group
    assert all(t.per_channel == 2 * 3 for t in layers.values())  # scale + shift, 3 styles
    assert space.size(space.full()) == sum(p.numel() for p in net.parameters())
    small = slim(net, bits, space)
    assert sum(p.numel() for p in small.parameters()) == space.size(bits) < space.size(
        space.full())
    assert MaskSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space


def test_slim_slices_declared_tensors_and_matches_masked():
    net, space, bits = _space_and_mask()
    small = slim(net, bits, space)
    g = space.groups[0]
    kept = [j for j in range(g.channels) if bits[g.offset + j]]
    norm, full = small.contract[2], net.contract[2]
    assert norm.num_features == len(kept)
    assert isinstance(norm.scale, torch.nn.Parameter)
    assert norm.scale.requires_grad
    assert "offset" in dict(norm.named_buffers())
    assert norm.offset.shape == (3, len(kept))
    assert torch.equal(norm.scale, full.scale[:, kept])
    assert torch.equal(norm.offset, full.offset[:, kept])
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad(), masked(net, bits, space) as m:
        assert torch.allclose(small(x), m(x), atol=1e-5)


@pytest.mark.parametrize(("net", "message"), [
    (UndeclaredStyleNet(), "declare which tensors follow its channels (channel_dims)"),
    (WideningNet(), "does not keep its channel count"),
])
def test_undeclared_and_channel_changing_layers_are_refused_in_one_line(net, message):
    with pytest.raises(TracingError, match=r"channel_dims|channel count") as info:
        trace_space(net, torch.zeros(1, 3, 16, 16))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_wrong_declaration_is_named():
    class Bad(CondStyleNet):
        pass
    net = Bad()
    type(net.contract[2]).channel_dims = {"scale": 1, "missing": 0}  # type: ignore[misc]
    try:
        with pytest.raises(TracingError, match=r"'missing'.*no such parameter or buffer"):
            trace_space(net, torch.zeros(1, 3, 16, 16))
    finally:
        type(net.contract[2]).channel_dims = {"scale": 1, "shift": 1, "offset": 1}


def _run_onnx(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_own_layer_network_through_the_cli(tmp_path, capsys):
    torch.manual_seed(0)
    weights = tmp_path / "style.pth"
    torch.save(CondStyleNet(ngf=8).state_dict(), weights)
    assert main(["inspect", str(weights), "--size", "32", *OWN]) == 0
    assert "CondStyleNet" in capsys.readouterr().out
    masks, slimmed = tmp_path / "masks.json", tmp_path / "slim"
    assert main(["search", *OWN, "--weights", str(weights), *DATA, "--population", "3",
                 "--generations", "1", "--adapt-steps", "2", "--n-images", "4",
                 "--adapt-images", "4", "--budget", "0.5", "--finalists", "1",
                 "--finalist-steps", "2", "--quiet", "--out", str(masks)]) == 0
    assert main(["slim", str(masks), *OWN, "--weights", str(weights), "--out",
                 str(slimmed)]) == 0
    slim_file, tuned = slimmed / "slim_G_A.pth", tmp_path / "tuned"
    assert main(["finetune", str(slimmed), *OWN, "--weights", str(weights), *DATA,
                 "--steps", "2", "--batch-size", "2", "--val-images", "4", "--val-every", "2",
                 "--quiet", "--out", str(tuned)]) == 0
    assert (tuned / "slim_G_A.pth").is_file()
    assert main(["evaluate", str(slimmed), *OWN, "--weights", str(weights), *DATA,
                 "--repeats", "1", "--quiet"]) == 0
    capsys.readouterr()
    onnx, int8 = tmp_path / "g.onnx", tmp_path / "g8.onnx"
    assert main(["export", str(slim_file), *OWN, "--size", "32", "--out", str(onnx)]) == 0
    assert main(["export", str(slim_file), *OWN, "--size", "32", "--int8", "--out",
                 str(int8)]) == 0
    found = json.loads(masks.read_text())
    torch.manual_seed(0)
    small = slim(CondStyleNet(ngf=8), found["masks"]["A"], MaskSpace.from_dict(
        found["spaces"]["A"])).eval()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = small(torch.from_numpy(x)).numpy()
    assert np.abs(_run_onnx(onnx, x) - expected).max() < 1e-4
    assert np.abs(_run_onnx(int8, x) - expected).mean() < 0.1
    source = tmp_path / "photos"
    source.mkdir()
    Image.new("RGB", (32, 32), (120, 60, 30)).save(source / "a.png")
    for model, extra in ((onnx, []), (slim_file, OWN)):
        out = tmp_path / f"translated_{model.suffix[1:]}"
        assert main(["translate", str(model), str(source), *extra, "--out", str(out),
                     "--quiet"]) == 0
        assert Image.open(out / "a.png").size == (32, 32)


@pytest.mark.slow
def test_own_layer_network_through_compress(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "style.pth"
    torch.save(CondStyleNet(ngf=8).state_dict(), weights)
    assert main(["compress", *OWN, "--weights", str(weights), *DATA, "--population", "4",
                 "--generations", "1", "--adapt-steps", "2", "--n-images", "4",
                 "--adapt-images", "4", "--finetune-steps", "2", "--batch-size", "2",
                 "--val-every", "2", "--checkpoint-every", "2", "--repeats", "1",
                 "--judge-steps", "0", "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "report.md").is_file()
    assert list((tmp_path / "run" / "export").glob("*.onnx"))

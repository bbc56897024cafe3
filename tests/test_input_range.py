"""--input-range: the range a generator takes its images in. Parsing and its errors, the
mappings to and from pixels, the measures that follow it, and a network trained on [0, 1]
run through search, slim, evaluate, export and translate."""
import json
import shutil

import numpy as np
import pytest
import torch
from generic_nets import UnitRangeNet
from PIL import Image

from deap_gan_prune.cli import main
from deap_gan_prune.data import to_tensor
from deap_gan_prune.imagerange import (
    DEFAULT_RANGE,
    UNIT_RANGE,
    InputRange,
    resolve,
)
from deap_gan_prune.metrics.fidelity import fidelity_scores


@pytest.mark.parametrize(("text", "shown", "mean", "std"), [
    ("-1,1", "-1,1", (0.5,), (0.5,)),
    ("0,1", "0,1", (0.0,), (1.0,)),
    (" 0 , 255 ", "0,255", (0.0,), (1 / 255,)),
    ("mean=0.5;std=0.25", "-2,2", (0.5,), (0.25,)),
    ("mean=0.485,0.456,0.406;std=0.229,0.224,0.225",
     "mean=0.485,0.456,0.406;std=0.229,0.224,0.225", (0.485, 0.456, 0.406),
     (0.229, 0.224, 0.225)),
])
def test_parse(text, shown, mean, std):
    value = InputRange.parse(text)
    assert value.text == shown
    assert InputRange.parse(value.text) == value
    assert value.mean == pytest.approx(mean)
    assert value.std == pytest.approx(std)
    assert InputRange.from_dict(value.to_dict()) == value
    assert InputRange.parse(None) is DEFAULT_RANGE
    assert InputRange.parse("-1,1").is_default
    assert InputRange.from_dict({}) == DEFAULT_RANGE  # files without the key: -1,1


@pytest.mark.parametrize("text", ["", "1,0", "0", "0,1,2", "a,1", "nan,1", "mean=0.5",
                                  "mean=0.5;std=0", "mean=0,0;std=1,1,1", "std=1;mean=x"])
def test_bad_text_is_one_line_naming_the_option(text):
    with pytest.raises(ValueError, match=r"^--input-range") as error:
        InputRange.parse(text)
    message = str(error.value)
    assert message.startswith("--input-range")
    assert "\n" not in message


def test_round_trips_and_the_default_arithmetic():
    pixels = torch.rand(2, 3, 8, 8)
    for value in (DEFAULT_RANGE, UNIT_RANGE, InputRange.parse("0,255"),
                  InputRange.parse("mean=0.485,0.456,0.406;std=0.229,0.224,0.225")):
        assert torch.allclose(value.decode(value.encode(pixels)), pixels, atol=1e-6)
        signed = pixels * 2 - 1
        assert torch.allclose(value.to_signed(value.from_signed(signed)), signed, atol=1e-6)
    assert DEFAULT_RANGE.to_signed(pixels) is pixels  # the default changes nothing
    assert torch.equal(UNIT_RANGE.encode(pixels), pixels)
    array = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    expected = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(127.5).sub(1.0)
    assert torch.equal(to_tensor(image), expected)  # bit for bit as before
    assert torch.equal(to_tensor(image, UNIT_RANGE) * 255, torch.from_numpy(array.copy())
                       .permute(2, 0, 1).float())
    with pytest.raises(ValueError, match="3 channel values for images of 1 channels"):
        InputRange.parse("mean=0.5,0.5,0.5;std=0.5,0.5,0.5").encode(torch.rand(1, 1, 4, 4))


def test_an_explicit_range_must_agree_with_the_files():
    assert resolve(None, []) is DEFAULT_RANGE
    assert resolve(None, [("m.json", UNIT_RANGE)]) == UNIT_RANGE
    assert resolve(UNIT_RANGE, [("m.json", UNIT_RANGE)]) == UNIT_RANGE
    with pytest.raises(ValueError, match=r"--input-range -1,1 conflicts with input_range 0,1 "
                                         r"recorded in m\.json"):
        resolve(DEFAULT_RANGE, [("m.json", UNIT_RANGE)])
    with pytest.raises(ValueError, match=r"a\.json records input_range 0,1 but b\.json"):
        resolve(None, [("a.json", UNIT_RANGE), ("b.json", DEFAULT_RANGE)])


def test_measures_follow_the_range():
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    signed = fidelity_scores(a * 2 - 1, b * 2 - 1)
    unit = fidelity_scores(a, b, UNIT_RANGE)
    assert unit["psnr_db"] == pytest.approx(signed["psnr_db"], abs=1e-9)
    assert unit["ssim"] == pytest.approx(signed["ssim"], abs=1e-9)
    wide = InputRange.parse("0,255")
    assert fidelity_scores(a * 255, b * 255, wide)["psnr_db"] == pytest.approx(
        signed["psnr_db"], abs=1e-6)


OWN = ["--generator", "generic_nets:UnitRangeNet"]
DATA = ["--image-size", "16", "--n-train", "8", "--n-test", "4"]


def _one_line_error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_network_of_unit_range_through_the_commands(tmp_path, capsys):
    torch.manual_seed(0)
    weights = tmp_path / "net.pth"
    torch.save(UnitRangeNet().state_dict(), weights)
    masks, slim_dir = tmp_path / "masks.json", tmp_path / "slim"

    UnitRangeNet.lowest = float("inf")
    assert main(["search", *OWN, "--weights", str(weights), *DATA, "--input-range", "0,1",
                 "--population", "2", "--generations", "1", "--adapt-steps", "1",
                 "--n-images", "2", "--adapt-images", "2", "--budget", "0.7",
                 "--finalists", "0", "--adapt-score", "ssim", "--quiet",
                 "--out", str(masks)]) == 0
    assert json.loads(masks.read_text())["input_range"] == "0,1"
    assert 0.0 <= UnitRangeNet.lowest < 0.2  # it saw the data in [0, 1]

    assert main(["slim", str(masks), *OWN, "--weights", str(weights), "--input-range=-1,1",
                 "--out", str(slim_dir)]) == 1  # not the searched range
    assert _one_line_error(capsys).endswith(
        f"--input-range -1,1 conflicts with input_range 0,1 recorded in {masks}")
    assert main(["slim", str(masks), *OWN, "--weights", str(weights),
                 "--out", str(slim_dir)]) == 0  # the recorded range
    sidecar = slim_dir / "slim_G_A.json"
    assert json.loads(sidecar.read_text())["input_range"] == "0,1"

    UnitRangeNet.lowest = float("inf")
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(slim_dir), *OWN, "--weights", str(weights), *DATA,
                 "--repeats", "1", "--quiet", "--json", "--out", str(report)]) == 0
    assert UnitRangeNet.lowest >= 0.0
    unit = json.loads(report.read_text())
    assert unit["input_range"] == "0,1"
    # the same generators evaluated as a -1,1 network: the measures follow the range
    other = tmp_path / "slim_signed"
    shutil.copytree(slim_dir, other)
    record = json.loads((other / "slim_G_A.json").read_text())
    (other / "slim_G_A.json").write_text(json.dumps({**record, "input_range": "-1,1"}))
    assert main(["evaluate", str(other), *OWN, "--weights", str(weights), *DATA,
                 "--repeats", "1", "--quiet", "--json", "--out", str(report)]) == 0
    signed = json.loads(report.read_text())
    assert signed["input_range"] == "-1,1"
    assert UnitRangeNet.lowest < 0.0
    for key in ("psnr_db", "ssim"):
        assert signed["quality"]["pruned"]["fidelity_a2b"][key] == pytest.approx(
            unit["quality"]["pruned"]["fidelity_a2b"][key], abs=1e-3)

    UnitRangeNet.lowest = float("inf")
    onnx_file = tmp_path / "g.onnx"
    assert main(["export", str(slim_dir / "slim_G_A.pth"), *OWN, "--size", "16",
                 "--out", str(onnx_file)]) == 0
    assert UnitRangeNet.lowest >= 0.0
    import onnx
    props = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    assert props["input_range"] == "0,1"

    images = tmp_path / "images"
    images.mkdir()
    array = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(array).save(images / "one.png")
    out = tmp_path / "translated"
    assert main(["translate", str(onnx_file), str(images), "--input-range=-1,1", "--out",
                 str(out), "--quiet"]) == 1
    assert "conflicts with input_range 0,1 recorded in" in _one_line_error(capsys)
    assert main(["translate", str(onnx_file), str(images), "--out", str(out),
                 "--quiet"]) == 0  # the range of the file's metadata
    from deap_gan_prune.translate import load_translator
    assert load_translator(onnx_file).input_range == UNIT_RANGE
    UnitRangeNet.lowest = float("inf")
    assert main(["translate", str(slim_dir / "slim_G_A.pth"), str(images), *OWN,
                 "--out", str(tmp_path / "translated_pth"), "--quiet"]) == 0
    assert UnitRangeNet.lowest >= 0.0  # the slim file's JSON says 0,1
    from_onnx = np.asarray(Image.open(out / "one.png"), dtype=np.int16)
    from_pth = np.asarray(Image.open(tmp_path / "translated_pth" / "one.png"), dtype=np.int16)
    assert np.abs(from_onnx - from_pth).max() <= 1
    assert np.abs(from_onnx - array).mean() < 40  # an identity-like network


def test_int8_export_and_compress_record_the_range(tmp_path):
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    weights = tmp_path / "net.pth"
    torch.save(UnitRangeNet().state_dict(), weights)
    out = tmp_path / "g.int8.onnx"
    UnitRangeNet.lowest = float("inf")
    assert main(["export", str(weights), *OWN, "--int8", "--input-range", "0,1", "--size",
                 "16", "--calibration", "4", "--check-images", "2", "--n-train", "8",
                 "--n-test", "4", "--keep-float", "none", "--quiet", "--out", str(out)]) == 0
    assert UnitRangeNet.lowest >= 0.0
    import onnx
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props}["input_range"] == "0,1"
    assert json.loads((tmp_path / "g.int8.onnx.json").read_text())["input_range"] == "0,1"

    from deap_gan_prune.compression.config import CompressConfig, CompressError
    assert CompressConfig(input_range="0,1").stage_settings("search")["input_range"] == "0,1"
    with pytest.raises(CompressError, match="input_range = \"1,0\""):
        CompressConfig(input_range="1,0")

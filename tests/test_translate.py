"""translate: a generator (.pth or exported .onnx) applied to a folder of images."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from deap_gan_prune.cli import main
from deap_gan_prune.translate import (
    OnnxGenerator,
    TranslateConfig,
    load_input,
    load_translator,
    rounded_size,
    to_pixels,
    translate_folder,
)

#: five small images of three sizes (width, height), two formats
SIZES = {"a.png": (16, 16), "b.jpg": (18, 13), "c.png": (16, 16), "d.bmp": (20, 24),
         "e.png": (16, 16)}


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for name, (w, h) in SIZES.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / name)
    return folder


@pytest.fixture
def weights(tmp_path, tiny_generator):
    path = tmp_path / "G.pth"
    torch.save(tiny_generator.state_dict(), path)
    return path


def expected(generator, path, size):
    """What translate must write for ``path`` processed at ``size`` = (width, height)."""
    with torch.no_grad():
        return to_pixels(generator(load_input(path, size, 3)[None])[0])


def test_rounded_sizes():
    assert rounded_size(18, 13) == (20, 12)
    assert rounded_size(16, 1) == (16, 4)
    assert rounded_size(17, 19, 8) == (16, 16)
    assert rounded_size(256, 255) == (256, 256)


def test_folder_keeps_names_and_sizes_and_equals_the_generator(folder, weights, tmp_path,
                                                               tiny_generator, capsys):
    out = tmp_path / "out"
    assert main(["translate", str(weights), str(folder), "--out", str(out), "--batch-size",
                 "2", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{n[0]}.png" for n in sorted(SIZES)]
    for name, size in SIZES.items():
        rounded = rounded_size(*size)
        with Image.open(out / f"{name[0]}.png") as image:
            assert image.size == rounded
            assert image.mode == "RGB"
            written = np.asarray(image)
        assert np.array_equal(written, expected(tiny_generator, folder / name, rounded)), name
    assert "translated 5 images" in capsys.readouterr().out


def test_batching_does_not_change_the_output(folder, weights, tmp_path):
    generator = load_translator(weights)
    one = translate_folder(generator, folder, tmp_path / "one", TranslateConfig(batch_size=1),
                           progress=False)
    many = translate_folder(generator, folder, tmp_path / "many", TranslateConfig(batch_size=8),
                            progress=False)
    assert [p.name for p in one.written] != []
    assert len(one.written) == len(many.written) == 5
    for path in one.written:
        a, b = (np.asarray(Image.open(d / path.name)) for d in (tmp_path / "one",
                                                                tmp_path / "many"))
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # batched float sums


def test_size_resizes_every_image(folder, weights, tmp_path):
    result = translate_folder(load_translator(weights), folder, tmp_path / "out",
                              TranslateConfig(size=8), progress=False)
    assert set(result.sizes.values()) == {(8, 8)}
    assert all(Image.open(p).size == (8, 8) for p in result.written)


def test_onnx_file_gives_the_generator_output(folder, tiny_generator, tmp_path):
    pytest.importorskip("onnxruntime")
    from deap_gan_prune.export import export_generator
    onnx = tmp_path / "G.onnx"
    export_generator(tiny_generator, onnx, "onnx", image_size=16, dynamic_size=False)
    generator = load_translator(onnx)
    assert isinstance(generator, OnnxGenerator)
    assert generator.image_size == 16
    out = tmp_path / "out"
    assert main(["translate", str(onnx), str(folder), "--out", str(out), "--quiet"]) == 0
    for name in SIZES:
        written = np.asarray(Image.open(out / f"{name[0]}.png"))
        assert written.shape == (16, 16, 3)
        want = expected(tiny_generator, folder / name, (16, 16))
        assert np.abs(written.astype(int) - want.astype(int)).max() <= 1  # ORT vs torch
    assert main(["translate", str(onnx), str(folder), "--out", str(out), "--size", "32"]) == 1
    assert main(["translate", str(onnx), str(folder), "--device", "cuda:0"]) == 1


def test_onnx_file_with_dynamic_size_keeps_each_image_size(folder, tiny_generator, tmp_path):
    pytest.importorskip("onnxruntime")
    from deap_gan_prune.export import export_generator
    onnx = tmp_path / "G.onnx"
    export_generator(tiny_generator, onnx, "onnx", image_size=16)
    assert load_translator(onnx).image_size is None
    out, eager = tmp_path / "out", tmp_path / "eager"
    assert main(["translate", str(onnx), str(folder), "--out", str(out), "--quiet"]) == 0
    translate_folder(tiny_generator, folder, eager, progress=False)  # each image's own size
    assert len({Image.open(eager / f"{name[0]}.png").size for name in SIZES}) > 2
    for name in SIZES:
        written = np.asarray(Image.open(out / f"{name[0]}.png")).astype(int)
        want = np.asarray(Image.open(eager / f"{name[0]}.png")).astype(int)
        assert written.shape == want.shape
        assert np.abs(written - want).max() <= 1


def test_bad_settings_are_refused_in_one_line():
    for changes, problem in (({"batch_size": 0}, "batch_size must be >= 1, got 0"),
                             ({"multiple": 0}, "multiple must be >= 1, got 0"),
                             ({"size": 10}, r"size must be a positive multiple of multiple \(4\)")):
        with pytest.raises(ValueError, match=problem):
            TranslateConfig(**changes)


def test_unreadable_images_are_skipped_with_a_warning(folder, weights, tmp_path):
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="broken.png"):
        result = translate_folder(load_translator(weights), folder, tmp_path / "out",
                                  progress=False)
    assert len(result.written) == 5
    assert [p.name for p in result.skipped] == ["broken.png"]
    assert not (tmp_path / "out" / "broken.png").exists()


def test_default_out_is_beside_the_input(folder, weights):
    assert main(["translate", str(weights), str(folder), "--quiet"]) == 0
    assert len(list((folder.parent / "images_translated").glob("*.png"))) == 5


@pytest.mark.parametrize(("case", "problem"), [
    ("no folder", "image folder not found"), ("no model", "no such generator file"),
    ("bad model", "not a readable PyTorch file"), ("out is input", "is the input SOURCE"),
    ("clash", "would both be written as a.png"), ("size", "--size must be a positive "
                                                          "multiple"),
    ("batch", "--batch-size must be >= 1, got 0"), ("empty", "no images")])
def test_bad_input_is_one_line(case, problem, folder, weights, tmp_path, capsys):
    args = [str(weights), str(folder), "--out", str(tmp_path / "out")]
    if case == "no folder":
        args[1] = str(tmp_path / "nowhere")
    elif case == "no model":
        args[0] = str(tmp_path / "missing.pth")
    elif case == "bad model":
        (tmp_path / "bad.pth").write_bytes(b"junk")
        args[0] = str(tmp_path / "bad.pth")
    elif case == "out is input":
        args[3] = str(folder)
    elif case == "clash":
        Image.new("RGB", (8, 8)).save(folder / "a.jpg")
    elif case == "size":
        args += ["--size", "10"]
    elif case == "batch":
        args += ["--batch-size", "0"]
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        args[1] = str(tmp_path / "empty")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["translate", *args, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert problem in err, err
    assert not (tmp_path / "out").exists()

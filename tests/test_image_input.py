"""The image a network takes comes from running it, not from its first layer: a denoiser that
pixel-unshuffles its input and concatenates a noise map (first conv: 13 channels) goes
through inspect, search, slim, evaluate, export and translate on 3-channel images."""
import torch
from generic_nets import UnetGenerator, UnshuffleDenoiser
from PIL import Image

from deap_gan_prune.cli import main
from deap_gan_prune.nets.counting import count_module_macs, image_channels
from deap_gan_prune.nets.models import ResnetGenerator

OWN = ["--generator", "generic_nets:UnshuffleDenoiser", "--generator-kwargs", '{"ngf": 8}']
DATA = ["--image-size", "32", "--n-train", "16", "--n-test", "4"]


def test_image_channels_are_found_by_running_the_network():
    assert image_channels(UnshuffleDenoiser(ngf=8)) == 3
    assert image_channels(ResnetGenerator(ngf=4, n_blocks=1)) == 3
    assert image_channels(ResnetGenerator(1, 1, ngf=4, n_blocks=1)) == 1   # grey in
    assert image_channels(UnetGenerator(4, 3, num_downs=5, ngf=4)) == 4    # RGBA in, 32 px+
    assert count_module_macs(UnshuffleDenoiser(ngf=8), 32) > 0


def test_every_command_takes_a_network_whose_first_layer_does_not_read_the_image(tmp_path,
                                                                                capsys):
    torch.manual_seed(0)
    weights = tmp_path / "denoiser.pth"
    torch.save(UnshuffleDenoiser(ngf=8).state_dict(), weights)
    assert main(["inspect", str(weights), "--size", "32", *OWN]) == 0
    assert "UnshuffleDenoiser" in capsys.readouterr().out
    masks, slim = tmp_path / "masks.json", tmp_path / "slim"
    assert main(["search", *OWN, "--weights", str(weights), *DATA, "--population", "3",
                 "--generations", "1", "--adapt-steps", "2", "--n-images", "4",
                 "--adapt-images", "4", "--budget", "0.6", "--finalists", "1",
                 "--finalist-steps", "2", "--quiet", "--out", str(masks)]) == 0
    assert main(["slim", str(masks), *OWN, "--weights", str(weights), "--out", str(slim)]) == 0
    assert main(["evaluate", str(slim), *OWN, "--weights", str(weights), *DATA, "--repeats",
                 "1", "--quiet"]) == 0
    capsys.readouterr()
    onnx = tmp_path / "g.onnx"
    assert main(["export", str(slim / "slim_G_A.pth"), *OWN, "--size", "32", "--out",
                 str(onnx)]) == 0
    source = tmp_path / "photos"
    source.mkdir()
    Image.new("RGB", (32, 32), (120, 60, 30)).save(source / "a.png")
    for model in (str(onnx), str(slim / "slim_G_A.pth")):
        out = tmp_path / f"out_{len(model)}"
        extra = OWN if model.endswith(".pth") else []
        assert main(["translate", model, str(source), *extra, "--out", str(out),
                     "--quiet"]) == 0
        assert Image.open(out / "a.png").size == (32, 32)

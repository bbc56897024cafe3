"""Key-for-key compatibility with the upstream CycleGAN layout (METHOD.md §3)."""
import pytest
import torch

from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.counting import count_module_parameters
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator


def upstream_generator_shapes(ngf=64, n_blocks=9, input_nc=3, output_nc=3, dropout=False):
    """The state dict of junyanz's ResnetGenerator, written out from its layer table."""
    shapes = {
        "model.1": ((ngf, input_nc, 7, 7), ngf),
        "model.4": ((2 * ngf, ngf, 3, 3), 2 * ngf),
        "model.7": ((4 * ngf, 2 * ngf, 3, 3), 4 * ngf),
    }
    second = 6 if dropout else 5
    for b in range(10, 10 + n_blocks):
        shapes[f"model.{b}.conv_block.1"] = ((4 * ngf, 4 * ngf, 3, 3), 4 * ngf)
        shapes[f"model.{b}.conv_block.{second}"] = ((4 * ngf, 4 * ngf, 3, 3), 4 * ngf)
    up = 10 + n_blocks
    shapes[f"model.{up}"] = ((4 * ngf, 2 * ngf, 3, 3), 2 * ngf)  # ConvTranspose: [in, out]
    shapes[f"model.{up + 3}"] = ((2 * ngf, ngf, 3, 3), ngf)
    shapes[f"model.{up + 7}"] = ((output_nc, ngf, 7, 7), output_nc)
    out = {}
    for name, (w, b) in shapes.items():
        out[f"{name}.weight"] = w
        out[f"{name}.bias"] = (b,)
    return out


@pytest.mark.parametrize(("ngf", "n_blocks", "dropout"), [(64, 9, False), (64, 6, False),
                                                          (8, 3, True), (16, 1, False)])
def test_generator_keys_and_shapes_match_upstream(ngf, n_blocks, dropout):
    with torch.device("meta"):
        g = ResnetGenerator(ngf=ngf, n_blocks=n_blocks, use_dropout=dropout)
    got = {k: tuple(v.shape) for k, v in g.state_dict().items()}
    assert got == upstream_generator_shapes(ngf, n_blocks, dropout=dropout)


def test_default_generator_has_48_keys_and_upstream_parameter_count():
    with torch.device("meta"):
        g = ResnetGenerator()
    assert len(g.state_dict()) == 48
    assert count_module_parameters(g) == 11_378_179


def test_generator_module_types_follow_upstream_table():
    with torch.device("meta"):
        g = ResnetGenerator()
    kinds = [type(m).__name__ for m in g.model]
    assert kinds[:10] == ["ReflectionPad2d", "Conv2d", "InstanceNorm2d", "ReLU", "Conv2d",
                          "InstanceNorm2d", "ReLU", "Conv2d", "InstanceNorm2d", "ReLU"]
    assert kinds[10:19] == ["ResnetBlock"] * 9
    assert kinds[19:] == ["ConvTranspose2d", "InstanceNorm2d", "ReLU", "ConvTranspose2d",
                          "InstanceNorm2d", "ReLU", "ReflectionPad2d", "Conv2d", "Tanh"]
    norm = g.model[2]
    assert not norm.affine
    assert not norm.track_running_stats
    block = [type(m).__name__ for m in g.model[10].conv_block]
    assert block == ["ReflectionPad2d", "Conv2d", "InstanceNorm2d", "ReLU", "ReflectionPad2d",
                     "Conv2d", "InstanceNorm2d"]


def test_discriminator_keys_shapes_and_patch_map():
    with torch.device("meta"):
        d = NLayerDiscriminator()
    got = {k: tuple(v.shape) for k, v in d.state_dict().items()}
    assert got == {
        "model.0.weight": (64, 3, 4, 4), "model.0.bias": (64,),
        "model.2.weight": (128, 64, 4, 4), "model.2.bias": (128,),
        "model.5.weight": (256, 128, 4, 4), "model.5.bias": (256,),
        "model.8.weight": (512, 256, 4, 4), "model.8.bias": (512,),
        "model.11.weight": (1, 512, 4, 4), "model.11.bias": (1,),
    }
    assert count_module_parameters(d) == 2_764_737
    assert d(torch.zeros(1, 3, 256, 256, device="meta")).shape == (1, 1, 30, 30)


def test_discriminator_features_end_with_score_map(tiny_discriminator):
    x = torch.randn(2, 3, 32, 32)
    feats = tiny_discriminator.features(x)
    assert len(feats) == 5
    assert torch.equal(feats[-1], tiny_discriminator(x))


def test_per_layer_widths_keep_key_names_and_run():
    w = GeneratorWidths(5, 7, 6, (3, 9), 4, 2, input_nc=1, output_nc=2)
    g = ResnetGenerator(widths=w)
    assert set(g.state_dict()) == set(ResnetGenerator(ngf=4, n_blocks=2).state_dict())
    assert g.model[10].conv_block[1].weight.shape == (3, 6, 3, 3)
    assert g.model[11].conv_block[5].weight.shape == (6, 9, 3, 3)
    y = g(torch.randn(2, 1, 16, 20))
    assert y.shape == (2, 2, 16, 20)
    assert y.abs().max() <= 1


def test_widths_validation_and_round_trip():
    with pytest.raises(ValueError, match="inner0"):
        GeneratorWidths(4, 8, 16, (0,), 8, 4)
    w = GeneratorWidths(4, 8, 16, (3, 5), 8, 4)
    assert GeneratorWidths.from_dict(w.to_dict()) == w
    assert w.with_slots({"inner1": 2, "up2": 1}).slot("inner1") == 2
    assert w.slot_names() == ["first", "down1", "stream", "inner0", "inner1", "up1", "up2"]

"""Loading upstream, legacy, seed-code and our own files; every bad file gives a one-line error."""
import json
import os
import pickle
from collections import OrderedDict

import pytest
import torch

from deap_gan_prune.checkpoints import (CheckpointError, load_discriminator, load_generator,
                                        save_discriminator, save_generator)
from deap_gan_prune.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.widths import GeneratorWidths


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _legacy(state, generator):
    """Add InstanceNorm running stats at every norm position, as pre-0.4 files have."""
    out = OrderedDict(state)
    for name, module in generator.named_modules():
        if isinstance(module, torch.nn.InstanceNorm2d):
            c = module.num_features
            out[f"{name}.running_mean"] = torch.zeros(c)
            out[f"{name}.running_var"] = torch.ones(c)
            out[f"{name}.num_batches_tracked"] = torch.tensor(0)
    return out


def test_upstream_file_names_round_trip(tmp_path, tiny_generator):
    for name in ("latest_net_G_A.pth", "latest_net_G.pth", "netG_A2B.pth", "5_net_G_B.pth"):
        path = tmp_path / name
        torch.save(tiny_generator.state_dict(), path)
        loaded = load_generator(path)
        assert _same(loaded, tiny_generator)
        assert loaded.widths == tiny_generator.widths and not loaded.training


def test_legacy_running_stats_are_dropped(tmp_path):
    with torch.device("meta"):
        full = ResnetGenerator()
    legacy = _legacy(full.state_dict(), full)
    assert len(legacy) - 48 == 69  # the count METHOD.md gives for the default generator
    g = ResnetGenerator(ngf=4, n_blocks=2)
    path = tmp_path / "legacy.pth"
    torch.save(_legacy(g.state_dict(), g), path)
    assert _same(load_generator(path), g)


def test_dropout_layout_and_module_prefix(tmp_path):
    g = ResnetGenerator(ngf=4, n_blocks=3, use_dropout=True)
    assert "model.10.conv_block.6.weight" in g.state_dict()
    path = tmp_path / "dp.pth"
    torch.save(OrderedDict(("module." + k, v) for k, v in g.state_dict().items()), path)
    loaded = load_generator(path)
    assert loaded.use_dropout and _same(loaded, g)


def test_widths_inferred_for_slim_generators_and_json_written(tmp_path):
    w = GeneratorWidths(3, 5, 7, (2, 6, 1), 4, 3)
    g = ResnetGenerator(widths=w)
    json_path = save_generator(g, tmp_path / "slim_G_A.pth", extra={"source": "test"})
    info = json.loads(json_path.read_text())
    assert info["widths"]["inner"] == [2, 6, 1] and info["source"] == "test"
    assert info["parameters"] == sum(p.numel() for p in g.parameters())
    loaded = load_generator(tmp_path / "slim_G_A.pth")
    assert loaded.widths == w and _same(loaded, g)
    assert set(torch.load(tmp_path / "slim_G_A.pth", weights_only=True)) == set(
        ResnetGenerator(ngf=4, n_blocks=3).state_dict())


def test_nested_state_dict_is_accepted(tmp_path, tiny_generator):
    path = tmp_path / "nested.pth"
    torch.save({"state_dict": tiny_generator.state_dict()}, path)
    assert _same(load_generator(path), tiny_generator)


def test_discriminator_round_trip(tmp_path, tiny_discriminator):
    path = tmp_path / "latest_net_D_A.pth"
    save_discriminator(tiny_discriminator, path)
    d = load_discriminator(path)
    assert _same(d, tiny_discriminator) and d.ndf == 4 and d.n_layers == 3
    d5 = NLayerDiscriminator(input_nc=1, ndf=2, n_layers=5)
    torch.save(d5.state_dict(), path)
    loaded = load_discriminator(path)
    assert (loaded.input_nc, loaded.n_layers) == (1, 5) and _same(loaded, d5)


def _error(loader, path):
    with pytest.raises(CheckpointError) as info:
        loader(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_bad_files_give_one_line_errors(tmp_path, tiny_generator, tiny_discriminator):
    assert "no such file" in _error(load_generator, tmp_path / "missing.pth")

    truncated = tmp_path / "truncated.pth"
    torch.save(tiny_generator.state_dict(), truncated)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _error(load_generator, truncated)

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(os.urandom(1000))
    assert "truncated or corrupt" in _error(load_generator, garbage)

    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    _error(load_generator, empty)

    tensor = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor)
    assert "does not hold a state dict" in _error(load_generator, tensor)

    disc = tmp_path / "latest_net_D_A.pth"
    torch.save(tiny_discriminator.state_dict(), disc)
    assert "discriminator" in _error(load_generator, disc)
    gen = tmp_path / "latest_net_G_A.pth"
    torch.save(tiny_generator.state_dict(), gen)
    assert "generator" in _error(load_discriminator, gen)

    unknown = tmp_path / "unknown.pth"
    torch.save({**tiny_generator.state_dict(), "model.99.weight": torch.zeros(1)}, unknown)
    assert "unknown keys" in _error(load_generator, unknown)

    missing = tmp_path / "missing_key.pth"
    state = tiny_generator.state_dict()
    del state["model.4.bias"]
    torch.save(state, missing)
    assert "missing keys" in _error(load_generator, missing)

    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    assert "not a CycleGAN" in _error(load_generator, other)
    assert "not a CycleGAN" in _error(load_discriminator, other)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_arbitrary_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"model.1.weight": Evil()}, f, protocol=2)
    message = _error(load_generator, path)
    assert "refusing" in message and "system" in message


def test_load_cyclegan_folder_layouts(tmp_path, tiny_generator, tiny_discriminator):
    from deap_gan_prune.checkpoints import load_cyclegan
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth"):
        torch.save(tiny_generator.state_dict(), tmp_path / name)
    gan = load_cyclegan(tmp_path)
    assert not gan.has_discriminators and _same(gan.g_b, tiny_generator)
    for name in ("latest_net_D_A.pth", "latest_net_D_B.pth"):
        torch.save(tiny_discriminator.state_dict(), tmp_path / name)
    assert load_cyclegan(tmp_path).has_discriminators
    seed = tmp_path / "seed"
    seed.mkdir()
    torch.save(tiny_generator.state_dict(), seed / "netG_A2B.pth")
    torch.save(tiny_generator.state_dict(), seed / "netG_B2A.pth")
    assert _same(load_cyclegan(seed).g_a, tiny_generator)
    only_one = tmp_path / "pretrained"
    only_one.mkdir()
    torch.save(tiny_generator.state_dict(), only_one / "latest_net_G.pth")
    with pytest.raises(CheckpointError, match="latest_net_G_A.pth"):
        load_cyclegan(only_one)
    with pytest.raises(CheckpointError, match="no such folder"):
        load_cyclegan(tmp_path / "nope")

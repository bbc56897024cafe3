"""Loading upstream, legacy, seed-code and our own files; every bad file gives a one-line error."""
import json
import os
import pickle
from collections import OrderedDict

import pytest
import torch

from deap_gan_prune.core.widths import GeneratorWidths
from deap_gan_prune.nets.checkpoints import (
    CheckpointError,
    load_discriminator,
    load_generator,
    save_discriminator,
    save_generator,
)
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator


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
        assert loaded.widths == tiny_generator.widths
        assert not loaded.training


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
    assert loaded.use_dropout
    assert _same(loaded, g)


def test_widths_inferred_for_slim_generators_and_json_written(tmp_path):
    """A ResNet file is described as every generator file is: its architecture (the
    library's ResnetGenerator with these widths), its mask space and the kept channels."""
    w = GeneratorWidths(3, 5, 7, (2, 6, 1), 4, 3)
    g = ResnetGenerator(widths=w)
    json_path = save_generator(g, tmp_path / "slim_G_A.pth", extra={"source": "test"})
    info = json.loads(json_path.read_text())
    assert info["kind"] == "traced"
    assert info["architecture"]["class"] == "deap_gan_prune.nets.models:ResnetGenerator"
    assert info["architecture"]["kwargs"]["widths"]["inner"] == [2, 6, 1]
    assert all(len(kept) > 0 for kept in info["kept"].values())
    assert info["source"] == "test"
    assert info["parameters"] == sum(p.numel() for p in g.parameters())
    loaded = load_generator(tmp_path / "slim_G_A.pth")
    assert loaded.widths == w
    assert _same(loaded, g)
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
    assert _same(d, tiny_discriminator)
    assert d.ndf == 4
    assert d.n_layers == 3
    d5 = NLayerDiscriminator(input_nc=1, ndf=2, n_layers=5)
    torch.save(d5.state_dict(), path)
    loaded = load_discriminator(path)
    assert (loaded.input_nc, loaded.n_layers) == (1, 5)
    assert _same(loaded, d5)


def _error(loader, path):
    with pytest.raises(CheckpointError) as info:
        loader(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
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
    assert "refusing" in message
    assert "system" in message


def test_load_cyclegan_folder_layouts(tmp_path, tiny_generator, tiny_discriminator):
    from deap_gan_prune.nets.checkpoints import load_cyclegan
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth"):
        torch.save(tiny_generator.state_dict(), tmp_path / name)
    gan = load_cyclegan(tmp_path)
    assert not gan.has_discriminators
    assert _same(gan.g_b, tiny_generator)
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
    with pytest.raises(CheckpointError, match=r"latest_net_G_A\.pth"):
        load_cyclegan(only_one)
    with pytest.raises(CheckpointError, match="no such folder"):
        load_cyclegan(tmp_path / "nope")


@pytest.mark.parametrize(("value", "counts"), [(float("nan"), "1 NaN, 0 infinite"),
                                               (float("-inf"), "0 NaN, 1 infinite")])
def test_non_finite_weights_are_named_at_load(tmp_path, tiny_generator, tiny_discriminator,
                                              value, counts):
    for module, loader, key in ((tiny_generator, load_generator, "model.10.conv_block.1.bias"),
                                (tiny_discriminator, load_discriminator, "model.0.weight")):
        state = module.state_dict()
        state[key].view(-1)[0] = value
        path = tmp_path / "bad.pth"
        torch.save(state, path)
        with pytest.raises(CheckpointError) as info:
            loader(path)
        assert str(info.value) == (f"{path}: tensor {key} holds non-finite values ({counts} "
                                   f"of {state[key].numel()})")


def test_a_failed_write_names_the_file_and_keeps_the_old_one(tmp_path):
    from deap_gan_prune.files import atomic_write, atomic_write_json
    path = tmp_path / "state.json"
    atomic_write_json(path, {"generation": 1})

    def disk_full(tmp):
        with open(tmp, "w") as f:
            f.write("{partial")
        raise OSError(27, "File too large")
    with pytest.raises(OSError, match="could not write") as info:
        atomic_write(path, disk_full)
    assert str(info.value) == (f"{path}: could not write (File too large); the previous file "
                               "is kept")
    assert info.value.errno == 27
    assert info.value.path == str(path)
    assert json.loads(path.read_text()) == {"generation": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    with pytest.raises(OSError, match=f"^{tmp_path / 'new.json'}: could not write \\(File too"):
        atomic_write(tmp_path / "new.json", disk_full)
    assert not (tmp_path / "new.json").exists()


def test_a_write_past_the_file_size_limit_names_the_file(tmp_path):
    """A real EFBIG from the kernel (RLIMIT_FSIZE), as a full disk gives ENOSPC."""
    import subprocess
    import sys
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "from deap_gan_prune.files import atomic_write_json\n"
            "atomic_write_json(sys.argv[1], {'small': 1})\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
            "try:\n"
            "    atomic_write_json(sys.argv[1], {'big': list(range(10000))})\n"
            "except OSError as exc:\n"
            "    print(exc)\n")
    path = tmp_path / "ck.json"
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == f"{path}: could not write (File too large); the previous file is kept\n"
    assert json.loads(path.read_text()) == {"small": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ck.json"]




def test_a_slim_resnet_is_described_by_its_original_and_mask(tmp_path):
    """Saved with the original's mask space and the mask, a slim ResNet's JSON names the
    full-size architecture and the kept channels; it loads back as that very network."""
    from deap_gan_prune.nets.groups import space_of
    from deap_gan_prune.nets.slimming import slim
    torch.manual_seed(0)
    original = ResnetGenerator(ngf=4, n_blocks=2)
    space = space_of(original)
    bits = [int(bool(torch.rand(()) < 0.6) or i == g.offset)
            for g in space.groups for i in range(g.offset, g.stop)]
    small = slim(original, bits, space)
    info = json.loads(save_generator(small, tmp_path / "slim.pth", space=space,
                                     bits=bits).read_text())
    assert info["architecture"]["kwargs"]["widths"] == original.widths.to_dict()
    assert sum(len(k) for k in info["kept"].values()) == sum(bits)
    loaded = load_generator(tmp_path / "slim.pth")
    assert _same(loaded, small)

"""Generator files saved from a CUDA device (storages tagged ``cuda:0``) and by DataParallel
(``module.`` keys) load on the CPU. No GPU is needed: a CPU file's storage locations are
rewritten in its pickle."""
import io
import pickle
import pickletools
import struct
import zipfile

import pytest
import torch
from generic_nets import SeparableNet

from deap_gan_prune import ResnetGenerator, load_cyclegan, load_generator
from deap_gan_prune.nets.checkpoints import architecture_of, read_state_dict


def _string_op(text: str) -> bytes:
    """A protocol-2 BINUNICODE opcode pushing ``text``."""
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def storage_locations(path) -> list[str]:
    """The location tag of every storage of a ``torch.save`` archive (read from its pickle's
    persistent ids, without building any tensor)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        data = archive.read(name)
    found = []

    class Reader(pickle.Unpickler):
        def find_class(self, _module, _name):
            return lambda *_args, **_kwargs: None  # builds nothing

        def persistent_load(self, pid):
            found.append(pid[3])  # ('storage', type, key, location, numel)
            return

    Reader(io.BytesIO(data)).load()
    return found


def save_as_if_on_cuda(state: dict, path, location: str = "cuda:0") -> list[str]:
    """``torch.save(state, path)``, then every storage's location tag ('cpu') in the archive's
    ``data.pkl`` rewritten to ``location``, as a file saved from that device. Returns the
    storages' locations read back."""
    buffer = io.BytesIO()
    torch.save(state, buffer)  # pickle protocol 2: no frames, so strings can change length
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    name = next(n for n in source.namelist() if n.endswith("/data.pkl"))
    pickle_bytes = source.read(name)
    # The location is the 4th field of each storage's persistent id; find the 'cpu' strings
    # the pickle really pushes (not bytes that happen to match inside tensor keys).
    starts = [pos for op, arg, pos in pickletools.genops(pickle_bytes)
              if op.name == "BINUNICODE" and arg == "cpu"]
    out, last = bytearray(), 0
    for pos in starts:
        out += pickle_bytes[last:pos] + _string_op(location)
        last = pos + len(_string_op("cpu"))
    out += pickle_bytes[last:]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            target.writestr(info.filename, bytes(out) if info.filename == name
                            else source.read(info.filename))
    return storage_locations(path)


def _state_on_gpu_file(net, path, prefix="module."):
    state = {f"{prefix}{k}": v for k, v in net.state_dict().items()}
    locations = save_as_if_on_cuda(state, path)
    assert locations == ["cuda:0"] * len(state)  # one storage per tensor, all retagged
    if not torch.cuda.is_available():  # the file really asks for a CUDA device
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)


def test_cuda_saved_dataparallel_resnet_loads_on_the_cpu(tmp_path):
    torch.manual_seed(0)
    net = ResnetGenerator(ngf=4, n_blocks=2).eval()
    path = tmp_path / "latest_net_G_A.pth"
    _state_on_gpu_file(net, path)
    loaded = load_generator(path, "cpu")
    assert next(loaded.parameters()).device.type == "cpu"
    assert set(read_state_dict(path)) == set(net.state_dict())  # 'module.' stripped
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    _state_on_gpu_file(net, tmp_path / "latest_net_G_B.pth", prefix="")
    gan = load_cyclegan(tmp_path, device="cpu")
    with torch.no_grad():
        assert torch.equal(gan.g_b(x), net(x))


def test_cuda_saved_generator_of_another_class_loads_on_the_cpu(tmp_path):
    torch.manual_seed(0)
    net = SeparableNet(4, 2).eval()
    path = tmp_path / "g.pth"
    _state_on_gpu_file(net, path)  # BatchNorm running statistics included
    loaded = load_generator(path, "cpu", architecture_of(SeparableNet, {"ngf": 4,
                                                                       "n_blocks": 2}))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    assert all(p.device.type == "cpu" for p in loaded.state_dict().values())

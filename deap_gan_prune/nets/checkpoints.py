"""Read and write generator and discriminator files in the upstream CycleGAN formats.

Checkpoints are untrusted input: they are read with ``torch.load(..., weights_only=True)`` and
every problem (including NaN or infinite weights) becomes a one-line :class:`CheckpointError`
naming the file. A failed write names the file and keeps the previous one.

The generic file helpers used here (atomic writes, hashes, class import) live in
:mod:`deap_gan_prune.files`; they are importable from this module too.
"""
from __future__ import annotations

import io
import json
import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from ..core.widths import GeneratorWidths
from ..files import atomic_write, atomic_write_json, import_class
from .models import NLayerDiscriminator, ResnetGenerator

if TYPE_CHECKING:
    from ..core.maskspace import MaskSpace

_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")


class CheckpointError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem


def read_state_dict(path: str | os.PathLike, keep_norm_stats: bool = False
                    ) -> OrderedDict[str, torch.Tensor]:
    """Tensors of a ``.pth`` file (read on the CPU, whatever device saved it), with a
    ``module.`` prefix (DataParallel) and, unless ``keep_norm_stats``, norm running statistics
    (legacy InstanceNorm files) removed. Accepts a bare state dict or one nested under
    ``"state_dict"``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pickle-protocol notes from the safe unpickler
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        message = str(exc)
        found = re.search(r"(?:Unsupported global:|unsupported GLOBAL) (\S+)", message)
        if found:
            raise CheckpointError(path, f"holds a Python object ({found.group(1)}), not only "
                                        "tensors; refusing to unpickle it") from None
        detail = re.search(r"WeightsUnpickler error: \s*(.+)", message)
        text = (detail.group(1) if detail else message.strip().splitlines()[0] if message.strip()
                else type(exc).__name__).strip()
        raise CheckpointError(path, f"not a readable PyTorch file (truncated or corrupt?): "
                                    f"{text[:120]}") from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"],
                                                                        Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(path, f"does not hold a state dict (found {type(obj).__name__})")
    state = OrderedDict()
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(path, f"entry {key!r} is not a named tensor")
        key = key[len("module."):] if key.startswith("module.") else key
        if not keep_norm_stats and key.rsplit(".", 1)[-1] in _NORM_STATS:
            continue
        state[key] = value
    _check_finite(path, state)
    return state


def _check_finite(path: str | os.PathLike, state: Mapping[str, torch.Tensor]) -> None:
    """Refuse NaN or infinite weights: nothing computed from them would mean anything."""
    for key, tensor in state.items():
        if not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()):
            continue
        nan = int(torch.isnan(tensor).sum())
        inf = int(torch.isinf(tensor).sum())
        raise CheckpointError(path, f"tensor {key} holds non-finite values ({nan} NaN, {inf} "
                                    f"infinite of {tensor.numel()})")


def _shape(path: str | os.PathLike, state: Mapping[str, torch.Tensor], key: str) -> torch.Size:
    if key not in state:
        raise CheckpointError(path, f"missing key {key!r}; {_layout_difference(state)}")
    return state[key].shape


def upstream_keys(n_blocks: int = 9, dropout: bool = False) -> list[str]:
    """The state-dict keys of the upstream ResnetGenerator (METHOD §3)."""
    second = 6 if dropout else 5
    convs = ["model.1", "model.4", "model.7"]
    convs += [f"model.{10 + b}.conv_block.{i}" for b in range(n_blocks) for i in (1, second)]
    convs += [f"model.{10 + n_blocks + i}" for i in (0, 3, 7)]
    return [f"{c}.{p}" for c in convs for p in ("weight", "bias")]


def _layout_difference(state: Mapping[str, torch.Tensor]) -> str:
    """One line: which keys of ``state`` differ from the upstream ResNet layout's."""
    keys = upstream_keys()
    expected = set(keys)
    missing = [k for k in keys if k not in state]
    unexpected = [k for k in state if k not in expected]
    return (f"its keys differ from the upstream ResnetGenerator layout's (missing "
            f"{', '.join(missing[:3]) or 'none'}{' ...' if len(missing) > 3 else ''} "
            f"[{len(missing)} of {len(expected)}]; unexpected "
            f"{', '.join(unexpected[:3]) or 'none'}{' ...' if len(unexpected) > 3 else ''} "
            f"[{len(unexpected)}]); for another architecture give its class "
            "(--generator pkg.module:Class)")


def infer_generator_config(state: Mapping[str, torch.Tensor],
                           path: str | os.PathLike = "<state dict>") -> tuple[GeneratorWidths,
                                                                              bool]:
    """(widths, use_dropout) of a ResnetGenerator state dict, from its tensor shapes."""
    if "model.1.weight" not in state:
        if "model.0.weight" in state and state["model.0.weight"].dim() == 4 \
                and state["model.0.weight"].shape[-1] == 4:
            raise CheckpointError(path, "this is a discriminator (4x4 convs at model.0), "
                                        "not a generator")
        raise CheckpointError(path, f"not a CycleGAN ResNet generator: {_layout_difference(state)}")
    blocks = sorted({int(m.group(1)) for k in state
                     if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    n_blocks = len(blocks)
    if blocks != list(range(10, 10 + n_blocks)):
        raise CheckpointError(path, f"residual blocks at unexpected positions {blocks}")
    use_dropout = any(".conv_block.6.weight" in k for k in state)
    second = 6 if use_dropout else 5
    first = _shape(path, state, "model.1.weight")
    if len(first) != 4 or first[-1] != 7:
        raise CheckpointError(path, "model.1 is not a 7x7 conv: not a ResNet generator")
    c1, input_nc = first[0], first[1]
    c2 = _shape(path, state, "model.4.weight")[0]
    c3 = _shape(path, state, "model.7.weight")[0]
    inner = tuple(_shape(path, state, f"model.{b}.conv_block.1.weight")[0] for b in blocks)
    for b in blocks:
        _shape(path, state, f"model.{b}.conv_block.{second}.weight")
    up = 10 + n_blocks
    c4 = _shape(path, state, f"model.{up}.weight")[1]
    c5 = _shape(path, state, f"model.{up + 3}.weight")[1]
    output_nc = _shape(path, state, f"model.{up + 7}.weight")[0]
    return GeneratorWidths(c1, c2, c3, inner, c4, c5, input_nc, output_nc), use_dropout


def _load_strict(path: str | os.PathLike, module: torch.nn.Module,
                 state: Mapping[str, torch.Tensor]) -> None:
    expected, given = set(module.state_dict()), set(state)
    if given - expected:
        raise CheckpointError(path, f"unknown keys {sorted(given - expected)[:4]} for "
                                    f"{type(module).__name__}'s layout")
    if expected - given:
        raise CheckpointError(path, f"missing keys {sorted(expected - given)[:4]} of "
                                    f"{type(module).__name__}'s layout")
    for key, tensor in module.state_dict().items():
        if tensor.shape != state[key].shape:
            raise CheckpointError(path, f"{key} has shape {tuple(state[key].shape)}, expected "
                                        f"{tuple(tensor.shape)} for the inferred architecture")
    module.load_state_dict(state)


def generator_from_state_dict(state: Mapping[str, torch.Tensor],
                              path: str | os.PathLike = "<state dict>") -> ResnetGenerator:
    """A ResnetGenerator with widths inferred from ``state`` and its weights loaded."""
    widths, use_dropout = infer_generator_config(state, path)
    generator = ResnetGenerator(widths=widths, use_dropout=use_dropout)
    _load_strict(path, generator, state)
    return generator


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu",
                   architecture: Mapping | None = None) -> torch.nn.Module:
    """Load an upstream (``latest_net_G_A.pth``, pretrained ``latest_net_G.pth``), seed-code
    (``netG_A2B.pth``), legacy or our own slim generator file; widths come from the shapes.
    A file with a JSON beside it naming another architecture (written by
    :func:`save_generator`) is rebuilt from that JSON; the class it names is imported only
    when it is the library's own or the class of ``architecture``. ``architecture``
    (``{"class": "pkg.module:Class", "kwargs": {...}}``, see :func:`architecture_of`) loads a
    full-size file of that class otherwise. Returned in eval mode on ``device``."""
    info = _traced_info(path)
    if info is not None:
        generator = _rebuild(info, path, architecture)
    elif architecture is not None:
        generator = build_architecture(architecture, path)
    else:
        return generator_from_state_dict(read_state_dict(path), path).to(device).eval()
    expected = generator.state_dict()
    state = OrderedDict((k, v) for k, v in read_state_dict(path, keep_norm_stats=True).items()
                        if k in expected or k.rsplit(".", 1)[-1] not in _NORM_STATS)
    _load_strict(path, generator, state)
    return generator.to(device).eval()


def architecture_of(cls_or_path: type | str, kwargs: Mapping | None = None) -> dict:
    """``{"class": "pkg.module:Class", "kwargs": {...}}``: how to build a generator."""
    path = cls_or_path if isinstance(cls_or_path, str) else \
        f"{cls_or_path.__module__}:{cls_or_path.__qualname__}"
    return {"class": path, "kwargs": dict(kwargs or {})}


def build_architecture(architecture: Mapping, path: str | os.PathLike = "<architecture>"
                       ) -> torch.nn.Module:
    """A new (randomly initialised) network of ``architecture`` (:func:`architecture_of`)."""
    cls = import_class(architecture["class"])
    try:
        return cls(**dict(architecture.get("kwargs") or {}))
    except TypeError as exc:
        raise CheckpointError(path, f"cannot build {architecture['class']} with "
                                    f"{architecture.get('kwargs')}: {exc}") from None


def _traced_info(path: str | os.PathLike) -> dict | None:
    """The JSON beside ``path`` when it describes a generator of another architecture."""
    json_path = Path(path).with_suffix(".json")
    if not json_path.is_file():
        return None
    try:
        info = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(json_path, "not a valid JSON file") from None
    return info if isinstance(info, dict) and info.get("kind") == "traced" else None


def traced_description(path: str | os.PathLike) -> tuple[dict, MaskSpace, list[int]] | None:
    """``(architecture, space, bits)`` of a generator file of another architecture (from the
    JSON beside it), or None for an upstream ResNet file."""
    info = _traced_info(path)
    if info is None:
        return None
    from ..core.maskspace import MaskSpace
    space = MaskSpace.from_dict(info["space"])
    bits = space.join({g.name: [int(j in set(info["kept"][g.name])) for j in range(g.size)]
                       for g in space.groups})
    return dict(info["architecture"]), space, bits


def _trusted(architecture: Mapping, named: Mapping | None, json_path: Path) -> None:
    """A class read from a file is data: it may be imported only when it is the library's
    own or the one the caller names (``named``, the user's ``--generator``); anything else
    is refused before any import."""
    cls = str(architecture.get("class", ""))
    module = cls.partition(":")[0]
    if module == "deap_gan_prune" or module.startswith("deap_gan_prune.") or \
            (named is not None and cls == named.get("class")):
        return
    raise CheckpointError(json_path, f"names the class {cls!r}, which is imported only when "
                                     f"given as the generator (--generator {cls}; in Python "
                                     "architecture=architecture_of(...))")


def _rebuild(info: Mapping, path: str | os.PathLike, named: Mapping | None = None
             ) -> torch.nn.Module:
    """The (slim) network a traced JSON describes: its class built full size, then slimmed
    to the kept channels of every group (no weights needed: they are loaded after). Its
    class must be the library's or ``named`` (:func:`_trusted`)."""
    from ..core.maskspace import MaskSpace
    from .slimming import slim
    try:
        space = MaskSpace.from_dict(info["space"])
        kept = info["kept"]
        bits = space.join({g.name: [int(j in set(kept[g.name])) for j in range(g.size)]
                           for g in space.groups})
        architecture = dict(info["architecture"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(Path(path).with_suffix(".json"),
                              f"not a generator description (missing or bad {exc})") from None
    _trusted(architecture, named, Path(path).with_suffix(".json"))
    full = build_architecture(architecture, path)
    return slim(full, bits, space)


def load_discriminator(path: str | os.PathLike, device: str | torch.device = "cpu"
                       ) -> NLayerDiscriminator:
    """Load an upstream PatchGAN discriminator (``latest_net_D_A.pth``); ndf, n_layers and
    input channels come from the shapes. Returned in eval mode on ``device``."""
    state = read_state_dict(path)
    convs = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight",
                                                                          k)))
    if any(".conv_block." in k for k in state) or "model.1.weight" in state:
        raise CheckpointError(path, "this is a generator, not a discriminator")
    if not convs or convs[0] != 0 or state["model.0.weight"].dim() != 4 \
            or state["model.0.weight"].shape[-1] != 4:
        raise CheckpointError(path, "not a CycleGAN PatchGAN discriminator (no 4x4 conv at "
                                    "'model.0')")
    first = state["model.0.weight"].shape
    discriminator = NLayerDiscriminator(first[1], first[0], n_layers=len(convs) - 2)
    _load_strict(path, discriminator, state)
    return discriminator.to(device).eval()


def save_state_dict(state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> Path:
    """``torch.save`` of the tensors of ``state`` (moved to the CPU), written atomically; the
    same tensors give the same bytes (the archive is built in memory, so its inner name is
    not the temporary file's)."""
    path = Path(path)
    state = OrderedDict((k, v.detach().cpu().clone()) for k, v in state.items())
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))
    return path


def save_generator(generator: torch.nn.Module, path: str | os.PathLike,
                   extra: Mapping | None = None, *, architecture: Mapping | None = None,
                   space: MaskSpace | None = None, bits: Sequence[int] | None = None) -> Path:
    """Write the generator's state dict to ``path`` (``.pth``) and how to rebuild it to
    ``path`` with suffix ``.json`` beside it (plus ``extra`` entries). Returns the JSON path.

    One format for every network: the JSON holds the ``architecture`` of the full-size network
    (:func:`architecture_of`: the class's import path and constructor arguments), its mask
    ``space`` and the kept channels of every group under ``bits`` (default: nothing pruned),
    so :func:`load_generator` rebuilds it with ``weights_only`` loading and no pickled module.
    Without ``architecture`` the network must have the upstream ResNet layout (upstream key
    names, so the ``.pth`` also reads as an upstream checkpoint): its architecture is the
    library's :class:`ResnetGenerator` with the widths of ``space`` (the full-size network's)
    or, without a space, its own widths, nothing pruned."""
    state = generator.state_dict()
    if architecture is None:
        try:  # what load_generator will do with the file
            widths, use_dropout = infer_generator_config(state, path)
            generator_from_state_dict(state, path)
        except CheckpointError:
            raise ValueError(f"saving a {type(generator).__name__} needs its architecture "
                             "(class path and arguments) and its traced mask space") from None
        if space is None or space.widths is None:
            from .groups import space_of  # tracing needs torch and the network
            space, bits = space_of(ResnetGenerator(widths=widths,
                                                   use_dropout=use_dropout)), None
        full = cast(GeneratorWidths, space.widths)
        architecture = architecture_of(ResnetGenerator, {"widths": full.to_dict(),
                                                         "use_dropout": use_dropout})
    elif space is None:
        raise ValueError(f"saving a {type(generator).__name__} with its architecture "
                         "needs its traced mask space")
    bits = space.full() if bits is None else list(bits)
    info: dict[str, Any] = {"kind": "traced", "architecture": dict(architecture),
            "kept": {name: [j for j, b in enumerate(part) if b]
                     for name, part in space.split(bits).items()}}
    path = save_state_dict(state, path)
    info["parameters"] = sum(p.numel() for p in generator.parameters())
    info["space"] = space.to_dict()
    json_path = path.with_suffix(".json")
    atomic_write_json(json_path, {**info, **(extra or {})})
    return json_path


def save_discriminator(discriminator: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write a discriminator's state dict (upstream key names) atomically."""
    save_state_dict(discriminator.state_dict(), path)


@dataclass
class CycleGAN:
    """The four networks of a CycleGAN. G_A maps A→B and is judged by D_A (which judges
    domain-B images); G_B maps B→A, judged by D_B. Discriminators may be ``None`` (official
    pretrained downloads hold generators only)."""

    g_a: torch.nn.Module
    g_b: torch.nn.Module
    d_a: torch.nn.Module | None = None
    d_b: torch.nn.Module | None = None

    @property
    def has_discriminators(self) -> bool:
        return self.d_a is not None and self.d_b is not None


def load_cyclegan(folder: str | os.PathLike, epoch: str = "latest",
                  device: str | torch.device = "cpu",
                  architecture: Mapping | None = None) -> CycleGAN:
    """Load ``<folder>/<epoch>_net_{G_A,G_B,D_A,D_B}.pth`` (upstream ``checkpoints/<name>``);
    the discriminator files are optional. The seed code's ``netG_A2B.pth``/``netG_B2A.pth``/
    ``netD_A.pth``/``netD_B.pth`` names are accepted too. ``architecture``
    (:func:`architecture_of`): both generators are state dicts of that class instead of the
    upstream ResNet (the discriminators stay PatchGANs)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(folder, "no such folder")

    def find(*names: str) -> Path | None:
        return next((folder / n for n in names if (folder / n).is_file()), None)

    paths = {"g_a": find(f"{epoch}_net_G_A.pth", "netG_A2B.pth"),
             "g_b": find(f"{epoch}_net_G_B.pth", "netG_B2A.pth"),
             "d_a": find(f"{epoch}_net_D_A.pth", "netD_B.pth"),
             "d_b": find(f"{epoch}_net_D_B.pth", "netD_A.pth")}
    missing = [f"{epoch}_net_{k[0].upper()}_{k[2].upper()}.pth" for k in ("g_a", "g_b")
               if paths[k] is None]
    if missing:
        raise CheckpointError(folder, f"missing generator file(s) {', '.join(missing)} "
                                      "(a CycleGAN needs both generators)")
    g_a, g_b = paths["g_a"], paths["g_b"]
    assert g_a is not None
    assert g_b is not None  # checked above
    return CycleGAN(load_generator(g_a, device, architecture),
                    load_generator(g_b, device, architecture),
                    load_discriminator(paths["d_a"], device) if paths["d_a"] else None,
                    load_discriminator(paths["d_b"], device) if paths["d_b"] else None)

"""The steps of the main job around the search: data, discriminators, fine-tuning, measuring.

Used by ``examples/horse2zebra.py`` and the ``deap-gan-prune`` subcommands; each step is a
plain function on networks and tensors.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import Dataset

from .data import DataError, UnpairedImageFolder, UnpairedTensorBatches, make_loader
from .devices import check_memory
from .imagerange import DEFAULT_RANGE, InputRange
from .metrics.evaluation import generator_latency, translate
from .nets.checkpoints import CycleGAN
from .nets.counting import image_channels
from .nets.maskspace import MaskSpace, space_of
from .seeding import seeded
from .synthetic import SyntheticHorseZebra
from .training import CycleGANConfig, finetune, fit_discriminator

if TYPE_CHECKING:
    from .training.distill_config import DistillLoss
    from .training.loop import Callback


@dataclass
class DomainData:
    """Images of two unpaired domains: a training source, validation images for the fitness
    (taken from the training split), test images, and horse outlines where known
    (synthetic data). Every image is in ``input_range``, the range the generators take
    (default [-1, 1])."""

    train: tuple[torch.Tensor, torch.Tensor] | Dataset
    val_a: torch.Tensor
    val_b: torch.Tensor
    test_a: torch.Tensor
    test_b: torch.Tensor
    outlines_a: torch.Tensor | None = None
    outlines_b: torch.Tensor | None = None
    name: str = ""
    input_range: InputRange = DEFAULT_RANGE

    @property
    def image_size(self) -> int:
        return int(self.test_a.shape[-1])

    def loader(self, batch_size: int, seed: int) -> Iterable[dict]:
        """Training batches ``{"A", "B"}`` (cycled by the training loop)."""
        if isinstance(self.train, tuple):
            return UnpairedTensorBatches(*self.train, batch_size=batch_size, seed=seed)
        return make_loader(self.train, batch_size, shuffle=True, seed=seed, drop_last=True)


def check_images_memory(n_images: int, size: int, what: str) -> None:
    """Refuse, before any is made, ``n_images`` RGB images of ``size`` x ``size`` pixels per
    domain (two domains in float32, with working copies) that would not fit in memory."""
    check_memory(2 * n_images * 3 * size * size * 4 * 2.0, what)


def synthetic_data(n_train: int = 512, n_test: int = 64, size: int = 64, seed: int = 0,
                   n_val: int = 16, input_range: InputRange = DEFAULT_RANGE) -> DomainData:
    """The embedded synthetic horse (A) ↔ zebra (B) data, with outlines for the test split,
    images in ``input_range`` (default [-1, 1]). A request whose images would not fit in
    memory is refused before any is drawn."""
    check_images_memory(n_train + n_test, size,
                        f"image_size {size} with n_train {n_train} and n_test {n_test}")
    train = SyntheticHorseZebra(n=n_train, size=size, seed=seed, split="train")
    test = SyntheticHorseZebra(n=n_test, size=size, seed=seed, split="test")
    a, b = train.images("A", input_range), train.images("B", input_range)
    return DomainData((a, b), a[:n_val], b[:n_val], test.images("A", input_range),
                      test.images("B", input_range), test.outlines("A"), test.outlines("B"),
                      name=f"synthetic {size}x{size}", input_range=input_range)


def _stack(dataset: UnpairedImageFolder, domain: str, n: int | None) -> torch.Tensor:
    count = len(dataset) if n is None else min(n, len(dataset))
    return torch.stack([dataset[i][domain] for i in range(count)])


def folder_data(root: str | os.PathLike, image_size: int = 256, n_val: int = 16,
                n_test: int | None = None, seed: int = 0,
                input_range: InputRange = DEFAULT_RANGE) -> DomainData:
    """An upstream image folder (``trainA``, ``trainB``, ``testA``, ``testB``): training
    batches streamed with upstream augmentation, validation and test images in memory (a
    request that would not fit is refused before any is read), all in ``input_range``
    (default [-1, 1])."""
    check_images_memory(n_val + (n_test or 0), image_size,
                        f"image_size {image_size} with {n_val} validation and "
                        f"{n_test or 'all'} test images")
    train = UnpairedImageFolder(root, "train", image_size=image_size, seed=seed,
                                input_range=input_range)
    val = UnpairedImageFolder(root, "train", image_size=image_size, augment=False, seed=seed,
                              input_range=input_range)
    test = UnpairedImageFolder(root, "test", image_size=image_size, seed=seed,
                               input_range=input_range)
    if len(test) == 0:
        raise DataError(f"{root}: the test split holds no images")
    return DomainData(train, _stack(val, "A", n_val), _stack(val, "B", n_val),
                      _stack(test, "A", n_test), _stack(test, "B", n_test),
                      name=os.fspath(root), input_range=input_range)


def ensure_discriminators(gan: CycleGAN, data: DomainData, steps: int = 500, seed: int = 0,
                          device: str | torch.device = "cpu", progress: bool = True,
                          ndf: int = 64) -> CycleGAN:
    """Fit missing discriminators against the frozen generators (official pretrained files
    hold generators only): D_A learns real B vs G_A(A), D_B real A vs G_B(B). The new ones
    are on ``device`` in eval mode; the generators and the caller's global random states are
    left as they were."""
    from .nets.models import NLayerDiscriminator
    d_a, d_b = gan.d_a, gan.d_b
    config = CycleGANConfig(steps=steps, seed=seed, device=str(device))
    for name, direction in (("d_a", "A"), ("d_b", "B")):
        if getattr(gan, name) is None:
            with seeded(seed, [device]):
                d = NLayerDiscriminator(ndf=ndf).to(device)
                g = gan.g_a if direction == "A" else gan.g_b
                fit_discriminator(g, d, data.loader(4, seed), config, direction=direction,
                                  progress=progress)
            d_a, d_b = (d, d_b) if name == "d_a" else (d_a, d)
    assert d_a is not None
    assert d_b is not None  # both fitted above when missing
    return CycleGAN(gan.g_a, gan.g_b, d_a.eval(), d_b.eval())


def finetune_pair(gan: CycleGAN, slim_a: nn.Module, slim_b: nn.Module, data: DomainData,
                  steps: int, distill_weight: float = 10.0, batch_size: int = 4,
                  seed: int = 0, device: str | torch.device = "cpu",
                  progress: bool = True, callback: Callback | None = None,
                  log_every: int = 10, *,
                  lr: float = 2e-4, val_every: int = 0, keep_best: bool = True,
                  checkpoint: str | os.PathLike | None = None, resume: bool = False,
                  checkpoint_every: int = 100, stop: Callable[[], bool] | None = None,
                  distill: DistillLoss | None = None,
                  masks: Sequence[Any] | None = None) -> dict:
    """Fine-tune the slim generators in place with the CycleGAN losses against copies of the
    original discriminators, distilling from the original generators when
    ``distill_weight`` > 0. ``callback(step, losses)`` runs every ``log_every`` steps.

    ``val_every`` > 0: every that many steps (and at step 0 and the end) the L1 and PSNR of
    both generators to the originals' outputs on ``data.val_a``/``data.val_b`` are measured
    (history ``val_*``), and with ``keep_best`` the pair ends with the weights of the lowest
    mean L1. ``checkpoint``: the training state, rewritten every ``checkpoint_every`` steps and
    at the end; with ``resume`` an existing one is continued to the same weights as a run
    never interrupted (see :func:`deap_gan_prune.training.finetune`); ``stop()``, asked
    after every step, True writes the checkpoint and raises KeyboardInterrupt. The slim
    generators end in eval mode; ``gan``'s networks and the caller's global random states are
    left as they were. ``distill``: the distillation terms
    (:class:`~deap_gan_prune.training.DistillLoss`; None: L1), ``masks``: ``((space, bits),
    (space, bits))`` the slim generators were slimmed with (feature distillation on the kept
    channels). Returns the history."""
    from .files import images_hash
    from .training.validation import PairValidation
    if steps <= 0:
        return {}
    config = CycleGANConfig(steps=steps, lr=lr, seed=seed, device=str(device),
                            batch_size=batch_size, distill_weight=distill_weight,
                            log_every=log_every)
    assert gan.d_a is not None, "fine-tuning needs discriminators"
    assert gan.d_b is not None, "fine-tuning needs discriminators"
    d_a, d_b = copy.deepcopy(gan.d_a).train(), copy.deepcopy(gan.d_b).train()
    validation = (PairValidation(gan.g_a, gan.g_b, data.val_a.to(device), data.val_b.to(device),
                                 batch_size, input_range=data.input_range)
                  if val_every > 0 else None)
    identity = {"data": data.name, "data_images": images_hash(data.val_a, data.val_b)}
    history = finetune(slim_a.train(), slim_b.train(), d_a, d_b,
                       data.loader(batch_size, seed), config,
                       teacher=(gan.g_a, gan.g_b) if distill_weight > 0 else None,
                       progress=progress, callback=callback, state_file=checkpoint,
                       resume=resume, checkpoint_every=checkpoint_every if checkpoint else 0,
                       validation=validation, val_every=val_every, keep_best=keep_best,
                       identity=identity, stop=stop, input_range=data.input_range,
                       distill=(distill if distill is not None and distill_weight > 0
                                and distill != type(distill)() else None),
                       masks=masks, example=data.val_a[:1])
    slim_a.eval()
    slim_b.eval()
    return history


def full_space(generator: nn.Module, image_size: int) -> MaskSpace:
    """``generator``'s mask space (:func:`space_of`, traced at ``image_size`` when it must
    be)."""
    return space_of(generator, torch.zeros(1, image_channels(generator), image_size,
                                           image_size))


def size_report(generator: nn.Module, image_size: int, space: MaskSpace | None = None
                ) -> dict:
    """Parameters and MACs (both conventions) at ``image_size`` and at 256×256 of
    ``generator``, from its mask space (``space``, default :func:`full_space`)."""
    space = space or full_space(generator, image_size)
    full = space.full()
    return {**space_size_report(space, full, image_size),
            "macs_output_256": space.size(full, "macs", 256, "output"),
            "macs_real_256": space.size(full, "macs", 256, "real")}


def space_size_report(space: MaskSpace, bits: Sequence[int], image_size: int) -> dict:
    """Parameters and MACs (both conventions, at ``image_size``) of the network that ``bits``
    keeps in ``space`` (any architecture, from the space's closed forms)."""
    return {"parameters": space.size(bits),
            f"macs_output_{image_size}": space.size(bits, "macs", image_size, "output"),
            f"macs_real_{image_size}": space.size(bits, "macs", image_size, "real")}


def single_generator_report(original: nn.Module, pruned: nn.Module, space: MaskSpace,
                            bits: Sequence[int],
                            image_size: int, repeats: int = 20,
                            device: str | torch.device = "cpu",
                            input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Sizes of a generator of any architecture and of its pruned version (from ``space``:
    the original is ``space.full()``, the pruned one ``bits``), their latency side by side
    at ``image_size`` (on images in ``input_range``) and the channels kept per group."""
    return {"sizes": {"original": space_size_report(space, space.full(), image_size),
                      "pruned": space_size_report(space, bits, image_size)},
            "latency": {f"{image_size}px": latency_report(original, pruned, image_size,
                                                          repeats=repeats, device=device,
                                                          input_range=input_range)},
            "kept": space.kept(bits)}


def latency_report(original: nn.Module, pruned: nn.Module, image_size: int,
                   batch_size: int = 1, repeats: int = 20,
                   device: str | torch.device = "cpu",
                   input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Median forward time of both generators, measured interleaved, and their ratio, on
    random images in ``input_range``."""
    x = input_range.from_signed(torch.rand(batch_size, image_channels(original), image_size,
                                           image_size, device=device) * 2 - 1)
    times = generator_latency({"original": original, "pruned": pruned}, x, repeats=repeats)
    original_s, pruned_s = times["original"]["median_s"], times["pruned"]["median_s"]
    return {"image_size": image_size, "batch_size": batch_size, "repeats": repeats,
            "original_ms": 1e3 * original_s, "pruned_ms": 1e3 * pruned_s,
            "speedup": original_s / pruned_s}


def generator_report(original: nn.Module, pruned: nn.Module, image_size: int,
                     latency_sizes: Iterable[int] | None = None, repeats: int = 20,
                     device: str | torch.device = "cpu",
                     input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Sizes of both generators, their latency side by side at each of ``latency_sizes``
    pixels (default: ``image_size`` and 256) and the pruned network's widths (the upstream
    ResNet's view of its mask space; None for other generators)."""
    sizes_px = sorted(set(latency_sizes or (image_size, 256)))
    space = full_space(pruned, image_size)
    widths = space.widths
    return {"sizes": {"original": size_report(original, image_size),
                      "pruned": size_report(pruned, image_size, space)},
            "latency": {f"{s}px": latency_report(original, pruned, s, repeats=repeats,
                                                 device=device, input_range=input_range)
                        for s in sizes_px},
            "widths": None if widths is None else widths.to_dict()}


def translations(gan_or_pair: CycleGAN | tuple[nn.Module, nn.Module],
                 data: DomainData) -> dict[str, torch.Tensor]:
    """``{"a2b": G_A(test A), "b2a": G_B(test B)}``."""
    g_a, g_b = (gan_or_pair.g_a, gan_or_pair.g_b) if isinstance(gan_or_pair, CycleGAN) \
        else gan_or_pair
    return {"a2b": translate(g_a, data.test_a), "b2a": translate(g_b, data.test_b)}


def training_images(data: DomainData, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``n`` training images of each domain ``([n, 3, H, W], [n, 3, H, W])``, drawn by
    one seeded pass of the training loader (never the validation images the search scores
    on)."""
    got_a, got_b, count = [], [], 0
    for batch in data.loader(batch_size=min(n, 4), seed=seed):
        got_a.append(batch["A"])
        got_b.append(batch["B"])
        count += batch["A"].shape[0]
        if count >= n:
            break
    if not got_a:
        raise DataError("no training images to train a supernet on")
    return torch.cat(got_a)[:n], torch.cat(got_b)[:n]


def supernet_generator(gan: CycleGAN, name: str, images: torch.Tensor,
                       out: str | os.PathLike, **options: Any) -> torch.nn.Module:
    """The once-for-all version of generator ``name`` ("G_A" or "G_B") of ``gan``
    (:func:`train_supernet` on ``images`` of its source domain, ``[N, 3, H, W]``), its
    training state in ``out/train_state_<name>.pt``; its judging discriminator and its partner
    are passed for the GAN and cycle terms. ``options``: :func:`train_supernet`'s settings."""
    from pathlib import Path

    from .training.supernet import train_supernet
    if name not in ("G_A", "G_B"):
        raise ValueError(f"supernet_generator: name must be 'G_A' or 'G_B', got {name!r}")
    g, d, partner = ((gan.g_a, gan.d_a, gan.g_b) if name == "G_A"
                     else (gan.g_b, gan.d_b, gan.g_a))
    return train_supernet(g, images, space_of(g, images), discriminator=d, partner=partner,
                          checkpoint=Path(out) / f"train_state_{name}.pt", **options)


def supernet_pair(gan: CycleGAN, data: DomainData, out: str | os.PathLike, *,
                  steps: int = 200, n_images: int = 64, seed: int = 0,
                  device: str | torch.device = "cpu", progress: bool = True,
                  resume: bool = False, gan_weight: float = 0.0, cycle_weight: float = 0.0,
                  **options: Any) -> CycleGAN:
    """Once-for-all versions of both generators (:func:`train_supernet` on ``n_images``
    training images per domain; ``options``: budgets, n_random, lr, batch_size), written to
    ``out`` as ``latest_net_{G_A,G_B}.pth`` (upstream keys, with their JSON) beside copies of
    the discriminators and ``supernet.json`` (the settings). The training states
    ``train_state_G_{A,B}.pt`` in ``out`` are rewritten as it goes; with ``resume`` they are
    continued. With ``gan_weight > 0`` each generator also trains against the original
    discriminator that judges it (G_A: D_A, G_B: D_B; both needed), with ``cycle_weight > 0``
    through the original partner generator. Returns the supernets with the original
    discriminators."""
    from pathlib import Path

    from .files import atomic_write_json
    from .nets.checkpoints import save_discriminator, save_generator
    if gan_weight > 0 and not gan.has_discriminators:
        raise ValueError(f"supernet_pair: gan_weight {gan_weight} needs both original "
                         "discriminators (D_A, D_B), and this CycleGAN lacks them")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = training_images(data, n_images, seed)
    nets = [supernet_generator(gan, name, x, out, steps=steps, seed=seed, device=device,
                               progress=progress, resume=resume, gan_weight=gan_weight,
                               cycle_weight=cycle_weight, **options)
            for name, x in zip(("G_A", "G_B"), images)]
    settings = {"steps": steps, "n_images": int(images[0].shape[0]), "seed": seed,
                "gan_weight": float(gan_weight), "cycle_weight": float(cycle_weight),
                **{k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}}
    for name, net in zip(("G_A", "G_B"), nets):
        save_generator(net, out / f"latest_net_{name}.pth", extra={"supernet": settings})
    for name, d in (("D_A", gan.d_a), ("D_B", gan.d_b)):
        if d is not None:
            save_discriminator(d, out / f"latest_net_{name}.pth")
    atomic_write_json(out / "supernet.json", {"kind": "supernet", **settings})
    return CycleGAN(nets[0], nets[1], gan.d_a, gan.d_b)

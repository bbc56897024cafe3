"""The CycleGAN training loop: teacher training and fine-tuning of pruned generators."""
from __future__ import annotations

import contextlib
import itertools
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
from torch import nn
from tqdm.auto import tqdm

from ..files import models_hash
from ..nets.checkpoints import CycleGAN
from ..nets.frozen import borrowed
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from .checkpoint import save_networks
from .config import CycleGANConfig
from .losses import PairTeacher, discriminator_loss, generator_losses
from .pool import ImagePool

if TYPE_CHECKING:
    from .distill_config import DistillLoss
    from .distill_terms import FeatureDistillation
from .resumable import (
    module_state,
    read_training_state,
    set_torch_rng_state,
    torch_rng_state,
    write_training_state,
)

History = dict[str, list[float]]
Callback = Callable[[int, dict[str, float]], bool | None]
Validation = Callable[[nn.Module, nn.Module], dict[str, float]]
PAIR_KIND = "deap_gan_prune/cyclegan-finetune-checkpoint"


def cycle_batches(loader: Iterable, device: torch.device | str,
                  keys: Sequence[str] = ("A", "B")) -> Iterator[dict[str, torch.Tensor]]:
    """Yield the loader's batches forever (restarting it when exhausted), checked and moved to
    ``device``. A batch is a dict with ``keys`` mapping to float tensors ``[N, 3, H, W]``."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            if not isinstance(batch, dict) or any(k not in batch for k in keys):
                got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
                raise ValueError(f"training loader: each batch must be a dict with keys "
                                 f"{list(keys)} (tensors [N,3,H,W]); got {got}")
            out = {}
            for k in keys:
                x = batch[k]
                if not torch.is_tensor(x) or x.dim() != 4 or not x.is_floating_point():
                    shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
                    raise ValueError(f"training loader: batch[{k!r}] must be a float tensor "
                                     f"[N,C,H,W], got {shape}")
                out[k] = x.to(device)
            yield out
        if empty:
            raise ValueError("training loader: yields no batches")


def rng_scope(seed: int, device: torch.device) -> contextlib.AbstractContextManager:
    """Run a block with the torch RNG seeded by ``seed`` and restore the caller's RNG after
    (dropout draws from it); the caller's global random state is left as it was."""
    devices = [device] if device.type == "cuda" else []

    @contextlib.contextmanager
    def scope():
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    return scope()


def set_requires_grad(modules: Iterable[nn.Module], flag: bool) -> None:
    """Switch gradients of every parameter of ``modules`` on or off."""
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


def _set_lr(optimizers: Iterable[torch.optim.Optimizer], lr: float) -> None:
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = lr


@dataclass
class _Run:
    """What a run of :func:`_train` does besides its config: the teacher, the weight and
    terms of its distillation, whether the discriminators train, validation, the data's
    identity for the state file, the stop request, the network files' folder and the
    progress bar's label."""

    desc: str
    distill_weight: float = 0.0
    distill: DistillLoss | None = None
    train_discriminators: bool = True
    teacher: PairTeacher | None = None
    validation: Validation | None = None
    identity: dict | None = None
    stop: Callable[[], bool] | None = None
    checkpoint_dir: str | Path | None = None


class _Resumable:
    """Checkpoint, validation and best weights of a run of :func:`_train` (all optional)."""

    def __init__(self, networks: dict[str, nn.Module], config: CycleGANConfig,
                 settings: dict, state_file: str | os.PathLike | None,
                 validation: Validation | None, device: torch.device) -> None:
        self.networks, self.config, self.settings = networks, config, settings
        self.state_file, self.validation, self.device = state_file, validation, device
        self.best: dict | None = None
        self.best_state: dict | None = None
        self.log: list[dict] = []

    def validate(self, done: int) -> None:
        if self.validation is None:
            return
        entry = {"step": done, **self.validation(self.networks["G_A"], self.networks["G_B"])}
        self.log.append(entry)
        if self.best is None or entry["l1"] < self.best["l1"]:
            self.best = dict(entry)
            self.best_state = {n: module_state(self.networks[n]) for n in ("G_A", "G_B")}

    def due(self, done: int, every: int) -> bool:
        return done == self.config.steps or bool(every and done % every == 0)

    def save(self, done: int, extra: dict) -> None:
        state = {"step": done, "networks": {n: module_state(m) for n, m in
                                            self.networks.items()},
                 "rng": torch_rng_state(self.device),
                 "validation": self.log, "best": self.best, "best_state": self.best_state,
                 **extra}
        assert self.state_file is not None  # saved only with a state file
        write_training_state(self.state_file, PAIR_KIND, self.settings, state)

    def load(self) -> dict:
        assert self.state_file is not None  # loaded only with a state file
        state = read_training_state(self.state_file, PAIR_KIND, self.settings)
        for name, module in self.networks.items():
            module.load_state_dict(state["networks"][name])
        set_torch_rng_state(state["rng"], self.device)
        self.log, self.best, self.best_state = (list(state["validation"]), state["best"],
                                                state["best_state"])
        return state

    def finish(self, history: History) -> None:
        if self.validation is None:
            return
        for key in ("step", "l1", "psnr_db"):
            history[f"val_{key}"] = [float(e[key]) for e in self.log]
        if self.best is not None:
            history["best_step"] = [float(self.best["step"])]
            if self.config.keep_best and self.best_state is not None:
                for name, state in self.best_state.items():
                    self.networks[name].load_state_dict(state)


def _networks(networks: CycleGAN, who: str
              ) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """The four networks of ``networks``; ValueError when a discriminator is missing."""
    if networks.d_a is None or networks.d_b is None:
        raise ValueError(f"{who}: needs both discriminators (networks.d_a, networks.d_b)")
    return networks.g_a, networks.g_b, networks.d_a, networks.d_b


def _run(networks: CycleGAN, loader: Iterable, config: CycleGANConfig, options: RunOptions,
         run: _Run) -> History:
    """:func:`_train` with the caller's teacher borrowed: on the device, in eval mode, without
    gradients for the run, and given back as it was afterwards."""
    teacher = run.teacher
    with borrowed(*((teacher.g_a, teacher.g_b) if teacher is not None else ()),
                  device=options.device, training=False, requires_grad=False):
        return _train(networks, loader, config, options, run)


def _settings(networks: CycleGAN, config: CycleGANConfig, run: _Run, state_file: bool
              ) -> dict:
    """What a state file is written with and must match to be resumed (keys in the order
    the checkpoints have always had)."""
    teacher = run.teacher
    settings = {**config.settings(),
                "distill_weight": run.distill_weight,
                "train_discriminators": run.train_discriminators,
                "val_every": config.val_every, "keep_best": config.keep_best,
                "networks": models_hash(*_networks(networks, run.desc)) if state_file else None,
                "teacher": (models_hash(teacher.g_a, teacher.g_b)
                            if state_file and teacher else None),
                **(run.identity or {})}
    if run.distill is not None:
        settings["distill_loss"] = run.distill.to_dict()
    return settings


def _train(networks: CycleGAN, loader: Iterable, config: CycleGANConfig, options: RunOptions,
           run: _Run) -> History:
    device = torch.device(options.device)
    state_file, resume, callback = options.checkpoint, options.resume, options.callback
    g_a, g_b, d_a, d_b = _networks(networks, run.desc)
    teacher = run.teacher
    settings = _settings(networks, config, run, state_file is not None)
    gens, discs = [g_a, g_b], [d_a, d_b]
    for m in gens + discs:
        m.to(device).train()
    features = _features(g_a, g_b, teacher, run.distill, config.seed, device)
    opt_g = torch.optim.Adam(itertools.chain(g_a.parameters(), g_b.parameters(),
                                             *(f.parameters() for f in features
                                               if f is not None)),
                             lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(itertools.chain(d_a.parameters(), d_b.parameters()),
                             lr=config.lr, betas=config.betas)
    pool_a = ImagePool(config.pool_size, seed=2 * config.seed)      # fakes of B, for D_A
    pool_b = ImagePool(config.pool_size, seed=2 * config.seed + 1)  # fakes of A, for D_B
    named = {"G_A": g_a, "G_B": g_b, "D_A": d_a, "D_B": d_b}
    history: History = defaultdict(list)
    window: dict[str, list[float]] = defaultdict(list)
    batches = cycle_batches(loader, device)
    state = _Resumable(named, config, settings, state_file, run.validation, device)
    hooked = [(f, g, t) for f, g, t in zip(features, gens, (teacher.g_a, teacher.g_b)
                                           if teacher is not None else (None, None))
              if f is not None and t is not None]
    for f, g, t in hooked:
        f.attach(g, t)
    every = config.checkpoint_every

    def save(done: int) -> None:
        extra: dict = {}
        if any(features):
            extra["features"] = [module_state(f) if f is not None else None
                                 for f in features]
        state.save(done, {**extra, "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                          "pools": [pool_a.state_dict(), pool_b.state_dict()],
                          "history": dict(history), "window": dict(window)})

    with contextlib.ExitStack() as cleanup:
        for f, _, _ in hooked:
            cleanup.callback(f.detach)
        bar = cleanup.enter_context(tqdm(total=config.steps, desc=run.desc,
                                         disable=not options.progress, leave=False))
        cleanup.enter_context(rng_scope(config.seed, device))
        start = 0
        if resume and state_file is not None and Path(state_file).exists():
            saved = state.load()
            start = int(saved["step"])
            for feature, kept in zip(features, saved.get("features") or (None, None)):
                if feature is not None:
                    feature.load_state_dict(kept)
            opt_g.load_state_dict(saved["opt_g"])
            opt_d.load_state_dict(saved["opt_d"])
            pool_a.load_state_dict(saved["pools"][0], device)
            pool_b.load_state_dict(saved["pools"][1], device)
            history = defaultdict(list, {k: list(v) for k, v in saved["history"].items()})
            window = defaultdict(list, {k: list(v) for k, v in saved["window"].items()})
            for _ in range(start):  # the loader is replayed to where the run stopped
                next(batches)
            bar.update(start)
        else:
            state.validate(0)
        for step in range(start, config.steps):
            lr, logged = config.lr_at(step), None
            _set_lr([opt_g, opt_d], lr)
            batch = next(batches)
            real_a, real_b = batch["A"], batch["B"]
            # Generators, with the discriminators fixed.
            set_requires_grad(discs, False)
            opt_g.zero_grad(set_to_none=True)
            losses, fake_a, fake_b = generator_losses(networks, real_a, real_b, config,
                                                      teacher, features)
            cast(torch.Tensor, sum(losses.values())).backward()
            opt_g.step()
            # Discriminators, on real images and pooled fakes.
            if run.train_discriminators:
                set_requires_grad(discs, True)
                opt_d.zero_grad(set_to_none=True)
                losses["D_A"] = discriminator_loss(d_a, real_b, pool_a.query(fake_b))
                losses["D_B"] = discriminator_loss(d_b, real_a, pool_b.query(fake_a))
                (losses["D_A"] + losses["D_B"]).backward()
                opt_d.step()
            for k, v in losses.items():
                window[k].append(float(v.detach()))
            done = step + 1
            if done % config.log_every == 0 or done == config.steps:
                logs = {k: sum(v) / len(v) for k, v in window.items()}
                window.clear()
                history["step"].append(float(done))
                history["lr"].append(lr)
                for k, mean in logs.items():
                    history[k].append(mean)
                bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
                logged = logs
            if state.due(done, config.val_every):
                state.validate(done)
            stopping = run.stop is not None and done < config.steps and bool(run.stop())
            saved_now = state_file is not None and (state.due(done, every) or stopping)
            if run.checkpoint_dir is not None and state.due(done, every):
                save_networks(named, run.checkpoint_dir, done)
                save_networks(named, run.checkpoint_dir, "latest")
            if saved_now:
                save(done)
            bar.update(1)
            if logged is not None and callback is not None and callback(done, logged) \
                    and done < config.steps:
                stopping = True
                if state_file is not None and not saved_now:
                    save(done)
            if stopping:
                raise KeyboardInterrupt(f"training stopped after step {done}")
        _set_lr([opt_g, opt_d], config.lr_at(config.steps))
    set_requires_grad(discs, True)
    state.finish(history)
    return dict(history)


def _features(g_a: nn.Module, g_b: nn.Module, teacher: PairTeacher | None,
              distill: DistillLoss | None, seed: int, device: torch.device
              ) -> tuple[FeatureDistillation | None, FeatureDistillation | None]:
    """Each direction's feature distillation when ``distill`` has a feature term."""
    if distill is None or distill.feature <= 0:
        return None, None
    from .distill_terms import FeatureDistillation, feature_layers
    if teacher is None or teacher.example is None:
        raise ValueError("finetune: a feature term needs the teacher and an example image "
                         "(PairTeacher example=[1, C, H, W])")
    masks = list(teacher.masks) if teacher.masks is not None else [None, None]
    out = []
    for g, t, mask in zip((g_a, g_b), (teacher.g_a, teacher.g_b), masks):
        layers = feature_layers(g, t, distill, teacher.example[:1].to(device), mask)
        out.append(FeatureDistillation(layers, distill.feature_map, seed).to(device))
    return out[0], out[1]


def train_cyclegan(networks: CycleGAN, loader: Iterable, config: CycleGANConfig | None = None,
                   options: RunOptions | None = None, *,
                   checkpoint_dir: str | Path | None = None) -> History:
    """Train a CycleGAN in place for ``config.steps`` updates (upstream objective).

    ``networks.g_a``: A→B, judged by ``networks.d_a`` (which sees domain-B images);
    ``networks.g_b``: B→A, judged by ``networks.d_b``. ``loader`` yields
    ``{"A": [N,3,H,W], "B": [N,3,H,W]}`` in [-1, 1] and is cycled.
    Every ``config.log_every`` steps the averaged losses are appended to the returned history
    (keys ``step``, ``lr``, ``G_A``, ``G_B``, ``cycle_A``, ``cycle_B``, ``idt_A``, ``idt_B``,
    ``D_A``, ``D_B``; lists of floats) and passed to ``options.callback(step, losses)``
    (True stops the run: KeyboardInterrupt, after the state file is written).
    With ``checkpoint_dir``, writes ``<step>_net_{G_A,G_B,D_A,D_B}.pth`` and
    ``latest_net_*.pth`` every ``config.checkpoint_every`` steps (0: only at the end) and at
    the end. ``options``: the device, the progress bar, the callback, and the state file
    (``checkpoint``, with ``resume``; as :func:`finetune`). Same models, data and seed → same
    weights (CPU). The four networks are trained in place: they end on the device, in train
    mode. The caller's global random states are left as they were. The fine-tuning settings
    of ``config`` (distillation, frozen discriminators, validation) are not used.
    """
    config = CycleGANConfig() if config is None else config
    _networks(networks, "train_cyclegan")
    return _run(networks, loader, config, options or DEFAULT_OPTIONS,
                _Run("cyclegan", checkpoint_dir=checkpoint_dir))


def finetune(networks: CycleGAN, loader: Iterable, config: CycleGANConfig | None = None,
             options: RunOptions | None = None, *, teacher: PairTeacher | None = None,
             validation: Validation | None = None, identity: dict | None = None,
             stop: Callable[[], bool] | None = None) -> History:
    """Fine-tune (pruned) generators ``networks.g_a``, ``networks.g_b`` with the CycleGAN
    losses against the original discriminators ``networks.d_a``, ``networks.d_b``, which keep
    training unless ``config.freeze_discriminators``.

    With ``teacher`` (a :class:`PairTeacher`: the frozen original generators) and
    ``config.distill_weight`` w > 0, adds ``w·|g_a(a) − t_a(a)|₁ + w·|g_b(b) − t_b(b)|₁``
    (history keys ``distill_A``/``distill_B``). ``config.distill`` (a
    :class:`~.distill_config.DistillLoss`): that term is ``w`` times its weighted terms
    instead (L1, SSIM, image gradients in ``teacher.input_range``, features); a feature term
    needs ``teacher.example`` (``[1, C, H, W]``, to find the layers' channels) and, for
    ``feature_map`` "kept" where the channels differ, ``teacher.masks``. The 1x1 maps train
    with the generators and are checkpointed.

    ``validation(g_a, g_b) -> {"l1": ..., "psnr_db": ..., ...}`` (e.g. a
    :class:`~deap_gan_prune.training.validation.PairValidation`) runs at step 0, every
    ``config.val_every`` steps and at the end (history keys ``val_step``, ``val_l1``,
    ``val_psnr_db``, ``best_step``); with ``config.keep_best`` both generators end with the
    weights of the lowest ``l1``. ``options.checkpoint``: the whole training state (all four
    networks, both optimisers, the image pools, the step, history, validation, best weights
    and the torch random state) rewritten atomically every ``config.checkpoint_every`` steps
    and at the end; with ``options.resume`` an existing one is continued, refused (naming the
    setting) when written with other settings, networks or ``identity`` (a dict naming the
    data), and the run ends with the very weights of one never interrupted. The loader is
    replayed from its start to the step resumed at, so it must yield the same batches when
    built again with the same seed. ``stop()`` is asked after every step (and
    ``options.callback`` after every logged one): True writes the state file (when given) and
    raises KeyboardInterrupt, so a run stopped on request resumes from that very step.
    Otherwise as :func:`train_cyclegan`; the teacher is given back on its device, in its mode
    and with its gradient flags.
    """
    config = CycleGANConfig() if config is None else config
    _networks(networks, "finetune")
    if config.distill_weight > 0 and teacher is None:
        raise ValueError("finetune: distill_weight > 0 needs teacher=PairTeacher(t_a, t_b)")
    return _run(networks, loader, config, options or DEFAULT_OPTIONS,
                _Run("finetune", distill_weight=config.distill_weight, distill=config.distill,
                     train_discriminators=not config.freeze_discriminators, teacher=teacher,
                     validation=validation, identity=identity, stop=stop))

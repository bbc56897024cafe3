"""Fine-tuning of a slim generator toward its original on a whole training folder.

:func:`distill_generator` streams augmented crops of every training image (bar a seeded
held-out set), distils the student toward the frozen original (L1 to its output on the same
crop), optionally against a discriminator too, validates on the held-out images, keeps the
best weights, follows a learning-rate schedule and writes a checkpoint from which a run
killed at any step resumes to exactly the weights of an uninterrupted one. Settings:
:class:`DistillConfig`.
"""
from __future__ import annotations

import copy
import hashlib
import math
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import readable_images
from ..files import models_hash
from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.checkpoints import save_state_dict
from ..nets.frozen import frozen_copy
from ..nets.models import NLayerDiscriminator
from ..runoptions import DEFAULT_OPTIONS, RunOptions
from ..streams import ImageStream, KeyedStreams, holdout_split, load_images, stream_batches
from .config import CycleGANConfig
from .discriminator import fit_discriminator
from .distill_config import DistillConfig, DistillResult
from .distill_terms import (
    FeatureDistillation,
    WeightAverage,
    check_ssim_size,
    feature_layers,
    recording,
    weighted_terms,
)
from .losses import discriminator_loss, lsgan_loss
from .pool import ImagePool
from .resumable import (
    module_state,
    read_training_state,
    set_torch_rng_state,
    torch_rng_state,
    write_training_state,
)
from .validation import ValidationSet
from .weights import init_weights

KIND = "deap_gan_prune/distill-checkpoint"
_KEYS = {"train": 0, "target": 1, "fit_source": 2, "fit_target": 3, "pool": 4}


def _file_list(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        return readable_images(source)[0]
    return [Path(f) for f in source]


def _names_hash(files: Sequence[Path]) -> str:
    return hashlib.sha256("\n".join(f.name for f in files).encode()).hexdigest()


@dataclass(frozen=True)
class Teacher:
    """The frozen original a slim generator is distilled toward.

    ``generator``: the original (never changed). ``mask``: ``(space, bits)`` the student was
    slimmed with from it (:func:`~deap_gan_prune.nets.slimming.slim`); feature distillation
    on the kept channels needs it where the channels differ. ``input_range``: the range both
    generators take their images in (default [-1, 1])."""

    generator: nn.Module
    mask: tuple[Any, Sequence[int]] | None = None
    input_range: InputRange = DEFAULT_RANGE


class _Distillation:
    """The state of one run: networks, optimisers, data, validation, best so far."""

    def __init__(self, student: nn.Module, teacher: Teacher, files: list[Path],
                 config: DistillConfig, target_files: list[Path] | None,
                 discriminator: nn.Module | None, progress: bool) -> None:
        c = self.config = config
        check_ssim_size(c.loss, c.image_size)
        input_range, mask = teacher.input_range, teacher.mask
        self.input_range = input_range
        self.student, self.progress = student, progress
        self.device = next(student.parameters()).device
        self.teacher = frozen_copy(teacher.generator, self.device)
        self.train_files, self.val_files = holdout_split(files, c.val_images, c.seed)
        if c.adversarial > 0 and not target_files:
            raise ValueError("distill_generator: an adversarial weight > 0 needs "
                             "target-domain images (target_files) for the discriminator")
        self.target_files = list(target_files or []) if c.adversarial > 0 else []
        self.given_discriminator = discriminator
        self.stream = ImageStream(self.train_files, c.image_size, c.load_size, c.seed,
                                  _KEYS["train"], input_range, c.augment)
        # The average is copied before the feature hooks are attached to the student.
        self.ema = WeightAverage(student, c.ema, self.device) if c.ema > 0 else None
        self.features: FeatureDistillation | None = None
        if c.loss.feature > 0:
            layers = feature_layers(student, self.teacher, c.loss,
                                    self.stream[0].unsqueeze(0).to(self.device), mask)
            self.features = FeatureDistillation(layers, c.loss.feature_map,
                                                c.seed).to(self.device)
        self.settings = {**c.settings(), "student": models_hash(student),
                         "teacher": models_hash(self.teacher),
                         "discriminator": (models_hash(discriminator) if discriminator
                                           is not None and c.adversarial > 0 else None),
                         "train_files": _names_hash(self.train_files),
                         "val_files": _names_hash(self.val_files),
                         "target_files": _names_hash(self.target_files),
                         **({} if input_range.is_default else input_range.to_dict())}
        params = list(student.parameters())
        if self.features is not None:
            self.settings["feature_layers"] = [[f.name, f.student_channels,
                                                f.original_channels, list(f.kept or [])]
                                               for f in self.features.layers]
            params += list(self.features.parameters())
        self.optimizer = torch.optim.Adam(params, lr=c.lr, betas=c.betas)
        self.disc: nn.Module | None = None
        self.disc_optimizer: torch.optim.Optimizer | None = None
        self.image_pool: ImagePool | None = None
        self.validation: ValidationSet | None = None
        if self.val_files:
            images = load_images(self.val_files, c.image_size, input_range).to(self.device)
            self.validation = ValidationSet.from_original(self.teacher, images, c.batch_size,
                                                          input_range)
        self.done = 0
        self.best: dict | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: dict[str, list[float]] = defaultdict(list)
        self.window: dict[str, list[float]] = defaultdict(list)
        self.val_log: list[dict] = []
        self.pool_x: torch.Tensor | None = None
        self.pool_t: torch.Tensor | None = None
        self.pool_f: list[torch.Tensor] = []
        self._pool_order: tuple[int, np.ndarray] = (-1, np.empty(0, dtype=np.int64))

    # -- setup ----------------------------------------------------------------------------
    def _new_discriminator(self) -> nn.Module:
        c = self.config
        torch.manual_seed(c.seed)  # inside the caller's fork_rng: its own state is kept
        d = NLayerDiscriminator(ndf=c.disc_ndf, n_layers=c.disc_layers)
        return init_weights(d, seed=c.seed).to(self.device)

    def setup_discriminator(self, fit: bool) -> None:
        """The discriminator (a copy of the given one, or a new one fitted against the frozen
        original when ``fit``), its optimiser and image pool."""
        c = self.config
        if c.adversarial <= 0:
            return
        if self.given_discriminator is not None:
            disc = copy.deepcopy(self.given_discriminator).to(self.device)
        else:
            disc = self._new_discriminator()
            if fit and c.disc_fit_steps > 0:
                streams = KeyedStreams({
                    "A": ImageStream(self.train_files, c.image_size, c.load_size, c.seed,
                                     _KEYS["fit_source"], self.input_range),
                    "B": ImageStream(self.target_files, c.image_size, c.load_size, c.seed,
                                     _KEYS["fit_target"], self.input_range)})
                fit_config = CycleGANConfig(steps=c.disc_fit_steps, lr=c.lr, betas=c.betas,
                                            pool_size=c.pool_size, seed=c.seed)
                fit_discriminator(self.teacher, disc,
                                  stream_batches(streams, c.batch_size, workers=c.workers),
                                  fit_config,
                                  RunOptions(device=self.device, progress=self.progress),
                                  direction="A")
        self.disc = disc
        disc.train()
        for p in disc.parameters():
            p.requires_grad_(c.train_discriminator)
        self.disc_optimizer = torch.optim.Adam(disc.parameters(), lr=c.lr, betas=c.betas)
        self.image_pool = ImagePool(c.pool_size, seed=c.seed)

    def setup_teacher_pool(self) -> None:
        """The first ``teacher_pool`` crops of the stream and the original's outputs."""
        c = self.config
        if c.teacher_pool <= 0:
            return
        n, n_batches = c.teacher_pool, math.ceil(c.teacher_pool / c.batch_size)
        pools: list[torch.Tensor] = []   # inputs, outputs, then each feature layer's targets
        for i, batch in enumerate(stream_batches(KeyedStreams({"A": self.stream}),
                                                 c.batch_size, 0, n_batches, c.workers)):
            x = batch["A"].to(self.device)
            with torch.no_grad():
                rows = [x, self._label(x)]
            if self.features is not None:
                rows += self.features.targets()
            if not pools:   # filled in place: no second copy of a pool that can be large
                pools = [r.new_empty((n, *r.shape[1:])) for r in rows]
            start = i * c.batch_size
            for pool, r in zip(pools, rows):
                pool[start:start + len(r)] = r[:n - start]
        self.pool_x, self.pool_t, *self.pool_f = pools

    def _label(self, x: torch.Tensor) -> torch.Tensor:
        """The original's output on ``x`` (its features recorded when distilled on)."""
        with recording(self.features):
            return self.teacher(x)

    # -- one step -------------------------------------------------------------------------
    def batches(self) -> Iterator[dict]:
        """Training batches from step ``done`` on (the stream position is the step)."""
        c = self.config
        streams = {}
        if c.teacher_pool <= 0:
            streams["A"] = self.stream
        if self.disc is not None:
            streams["B"] = ImageStream(self.target_files, c.image_size, c.load_size, c.seed,
                                       _KEYS["target"], self.input_range)
        if not streams:
            while True:
                yield {}
        yield from stream_batches(KeyedStreams(streams), c.batch_size, self.done, c.steps,
                                  c.workers)

    def _pool_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Batch ``step`` of the teacher pool: pool sample ``c`` is place ``c % n`` of a
        seeded permutation of the ``n`` pairs drawn for pool epoch ``c // n``."""
        assert self.pool_x is not None, "setup_teacher_pool first"
        assert self.pool_t is not None, "setup_teacher_pool first"
        n, b = self.pool_x.shape[0], self.config.batch_size
        index = []
        for sample in range(step * b, step * b + b):
            epoch, place = divmod(sample, n)
            if self._pool_order[0] != epoch:
                rng = np.random.default_rng(np.random.SeedSequence(
                    self.config.seed, spawn_key=(_KEYS["pool"], epoch)))
                self._pool_order = (epoch, rng.permutation(n))
            index.append(int(self._pool_order[1][place]))
        rows = torch.tensor(index, device=self.device)
        return self.pool_x[rows], self.pool_t[rows], rows

    def step(self, step: int, batch: dict) -> dict[str, float]:
        c = self.config
        lr = c.lr_at(step)
        for opt in (self.optimizer, self.disc_optimizer):
            for group in (opt.param_groups if opt is not None else []):
                group["lr"] = lr
        feature_targets: list[torch.Tensor] = []
        if c.teacher_pool > 0:
            x, target, rows = self._pool_batch(step)
            feature_targets = [f[rows] for f in self.pool_f]
        else:
            x = batch["A"].to(self.device)
            with torch.no_grad():
                target = self._label(x)
            if self.features is not None:
                feature_targets = self.features.targets()
        with recording(self.features):
            out = self.student(x)
        total, losses = weighted_terms(out, target, c.loss, self.input_range, self.features,
                                       feature_targets)
        if self.disc is not None:
            for p in self.disc.parameters():
                p.requires_grad_(False)
            losses["adversarial"] = lsgan_loss(self.disc(out), True)
            total = total + c.adversarial * losses["adversarial"]
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.student)
        if self.disc is not None and c.train_discriminator:
            assert self.disc_optimizer is not None
            assert self.image_pool is not None
            for p in self.disc.parameters():
                p.requires_grad_(True)
            self.disc_optimizer.zero_grad(set_to_none=True)
            losses["D"] = discriminator_loss(self.disc, batch["B"].to(self.device),
                                             self.image_pool.query(out))
            losses["D"].backward()
            self.disc_optimizer.step()
        logs = {k: float(v.detach()) for k, v in losses.items()}
        return {**logs, "lr": lr}

    @property
    def model(self) -> nn.Module:
        """The weights validated and kept: the moving average when on, else the student."""
        return self.ema.module if self.ema is not None else self.student

    def log(self, done: int, logs: dict[str, float]) -> None:
        for k, v in logs.items():
            if k != "lr":
                self.window[k].append(v)
        if done % self.config.log_every == 0 or done == self.config.steps:
            self.history["step"].append(float(done))
            self.history["lr"].append(logs["lr"])
            for k, values in self.window.items():
                self.history[k].append(sum(values) / len(values))
            self.window.clear()

    def validate(self, done: int, best_path: str | os.PathLike | None) -> None:
        """Score the student on the held-out images; keep (and write) it when best."""
        if self.validation is None:
            return
        entry = {"step": done, **self.validation(self.model)}
        self.val_log.append(entry)
        if self.best is None or entry["l1"] < self.best["l1"]:
            self.best, self.best_state = dict(entry), module_state(self.model)
            if best_path is not None:
                save_state_dict(self.best_state, best_path)

    # -- checkpoints ----------------------------------------------------------------------
    def state(self) -> dict:
        pool = self.image_pool.state_dict() if self.image_pool is not None else None
        extra: dict = {}
        if self.ema is not None:
            extra["ema"] = self.ema.state_dict()
        if self.features is not None:
            extra["features"] = module_state(self.features)
        return {**extra, "step": self.done, "student": module_state(self.student),
                "optimizer": self.optimizer.state_dict(),
                "discriminator": module_state(self.disc) if self.disc is not None else None,
                "disc_optimizer": (self.disc_optimizer.state_dict()
                                   if self.disc_optimizer is not None else None),
                "image_pool": pool, "rng": torch_rng_state(self.device),
                "schedule": {"kind": "constant, then linear to 0",
                             "lr": self.config.lr_at(self.done)},
                "stream": {"sample": self.done * self.config.batch_size},
                "best": self.best, "best_state": self.best_state, "validation": self.val_log,
                "history": dict(self.history), "window": dict(self.window)}

    def load(self, state: dict) -> None:
        self.done = int(state["step"])
        self.student.load_state_dict(state["student"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if self.features is not None:
            self.features.load_state_dict(state["features"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.disc is not None:
            assert self.disc_optimizer is not None
            assert self.image_pool is not None
            self.disc.load_state_dict(state["discriminator"])
            self.disc_optimizer.load_state_dict(state["disc_optimizer"])
            self.image_pool.load_state_dict(state["image_pool"], self.device)
        set_torch_rng_state(state["rng"], self.device)
        self.best, self.best_state = state["best"], state["best_state"]
        self.val_log = list(state["validation"])
        self.history = defaultdict(list, {k: list(v) for k, v in state["history"].items()})
        self.window = defaultdict(list, {k: list(v) for k, v in state["window"].items()})



def _train(run: _Distillation, state: dict | None, options: RunOptions,
           best: str | os.PathLike | None) -> int:
    """The steps of ``run`` from the start or from ``state``; returns the step resumed
    from."""
    config, student, checkpoint = run.config, run.student, options.checkpoint
    run.setup_discriminator(fit=state is None)
    run.setup_teacher_pool()
    torch.manual_seed(config.seed)
    student.train()
    if state is not None:
        run.load(state)
    else:
        run.validate(0, best)
    resumed_from = run.done
    bar = tqdm(total=config.steps, initial=run.done, desc="distill", unit="step",
               disable=not options.progress)
    try:
        batches = run.batches()
        for step in range(run.done, config.steps):
            logs = run.step(step, next(batches))
            run.done = done = step + 1
            run.log(done, logs)
            if done == config.steps or (config.val_every and done % config.val_every == 0):
                run.validate(done, best)
            written = checkpoint is not None and (done % config.checkpoint_every == 0
                                                  or done == config.steps)
            if checkpoint is not None and written:
                write_training_state(checkpoint, KIND, run.settings, run.state())
            post = {"l1": f"{logs['l1']:.4f}"}
            if run.best is not None:
                post["best"] = f"{run.best['psnr_db']:.2f}dB@{run.best['step']}"
            bar.set_postfix(post, refresh=False)
            bar.update()
            if options.callback is not None and options.callback(done, logs) \
                    and done < config.steps:
                if checkpoint is not None and not written:
                    write_training_state(checkpoint, KIND, run.settings, run.state())
                raise KeyboardInterrupt(f"distillation stopped after step {done}")
    finally:
        bar.close()
    return resumed_from


def distill_generator(student: nn.Module, teacher: Teacher,
                      source: str | os.PathLike | Sequence[str | os.PathLike],
                      config: DistillConfig | None = None, options: RunOptions | None = None,
                      *, target: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                      discriminator: nn.Module | None = None,
                      best: str | os.PathLike | None = None) -> DistillResult:
    """Fine-tune ``student`` in place, on ``options.device`` (it is moved there), toward
    ``teacher`` (a :class:`Teacher`: the original generator, never changed, the mask the
    student was slimmed with and the images' range) on the images of ``source`` (a folder, or
    a list of image files), as :class:`DistillConfig` ``config`` says.

    ``target``: target-domain images (folder or files), needed when ``config.adversarial``
    > 0 (the discriminator's real images). ``discriminator``: a PatchGAN judging the target
    domain (copied, the caller's is untouched); None: one is fitted first.
    ``options.checkpoint``: rewritten atomically every ``config.checkpoint_every`` steps and at
    the end; with ``options.resume`` an existing one is continued (refused, naming the
    setting, when written with other settings, networks or files), and the run ends with the
    very weights of one never interrupted. ``best``: a file the best weights (a state dict)
    are written to whenever validation improves. ``options.callback(step, logs)`` runs after
    every step (``logs``: that step's losses and ``lr``); True writes the checkpoint (when
    given) and raises KeyboardInterrupt, so a run stopped on request resumes from that very
    step. The caller's global random states are left as they were. Feature distillation on
    the kept channels needs ``teacher.mask`` where the channels differ. With ``config.ema``
    the student ends with the average's weights (the best of them with ``keep_best``).
    """
    config = DistillConfig() if config is None else config
    options = options or DEFAULT_OPTIONS
    student.to(options.device)
    run = _Distillation(student, teacher, _file_list(source), config,
                        _file_list(target) if target is not None else None, discriminator,
                        options.progress)
    state = None
    if options.resume and options.checkpoint is not None and Path(options.checkpoint).exists():
        state = read_training_state(options.checkpoint, KIND, run.settings)
    cuda = [run.device] if run.device.type == "cuda" else []
    was_training = student.training
    if run.features is not None:
        run.features.attach(student, run.teacher)
    try:
        with torch.random.fork_rng(devices=cuda):
            resumed_from = _train(run, state, options, best)
    finally:
        if run.features is not None:
            run.features.detach()
    if config.keep_best and run.best_state is not None:
        student.load_state_dict(run.best_state)
    elif run.ema is not None:
        student.load_state_dict(module_state(run.ema.module))
    student.train(was_training)
    return DistillResult(steps=run.done, history=dict(run.history), validation=run.val_log,
                         best=run.best, train_files=[str(f) for f in run.train_files],
                         val_files=[str(f) for f in run.val_files], resumed_from=resumed_from)

"""The distillation terms beside L1 (:class:`~.distill_config.DistillLoss`): SSIM or
multi-scale SSIM (pytorch-msssim), image gradients, and feature distillation at chosen
layers, on the channels the mask kept or through learned 1x1 maps; and an exponential moving
average of a student's weights.

A slim network keeps a known subset of its original's channels under the same module names:
the student's activation at module ``name`` has the channels the mask kept of the original's
activation at ``name``. :func:`feature_layers` finds, for each chosen layer, which of the
original's channels those are (from the mask space: the channel group the layer's output
belongs to), checked on one forward pass of both networks.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..imagerange import DEFAULT_RANGE, InputRange
from ..nets.frozen import frozen_copy
from .distill_config import DistillLoss
from .resumable import module_state

#: the channel indices of the original's activation a student's channels match (None: all)
Kept = torch.Tensor | None


def ssim_loss(out: torch.Tensor, target: torch.Tensor, input_range: InputRange = DEFAULT_RANGE,
              window: int = 11, multi_scale: bool = False) -> torch.Tensor:
    """``1 − SSIM`` (or MS-SSIM) of images ``[N, C, H, W]`` in ``input_range``, both mapped
    to [0, 1] (``data_range`` 1, Gaussian window of ``window`` pixels, σ 1.5); a scalar."""
    from pytorch_msssim import ms_ssim, ssim
    a, b = input_range.decode(out), input_range.decode(target)
    if multi_scale:
        return 1.0 - ms_ssim(a, b, data_range=1.0, win_size=window)
    return 1.0 - ssim(a, b, data_range=1.0, win_size=window)


def check_ssim_size(loss: DistillLoss, image_size: int) -> None:
    """ValueError (one line, naming the option) when ``image_size`` is too small for the
    SSIM term of ``loss``."""
    if loss.ssim <= 0:
        return
    need = 16 * (loss.ssim_window - 1) + 1 if loss.ms_ssim else loss.ssim_window
    if image_size < need:
        what = "ms_ssim" if loss.ms_ssim else "ssim"
        raise ValueError(f"DistillLoss: {what} with a window of {loss.ssim_window} px needs "
                         f"images of at least {need} px, got {image_size} (use a smaller "
                         "ssim_window)")


def gradient_loss(out: torch.Tensor, target: torch.Tensor,
                  input_range: InputRange = DEFAULT_RANGE) -> torch.Tensor:
    """Mean L1 distance of the horizontal and vertical finite differences of images
    ``[N, C, H, W]`` (in [-1, 1] units; their sum); a scalar."""
    a, b = input_range.to_signed(out), input_range.to_signed(target)
    dx = F.l1_loss(a[..., :, 1:] - a[..., :, :-1], b[..., :, 1:] - b[..., :, :-1])
    dy = F.l1_loss(a[..., 1:, :] - a[..., :-1, :], b[..., 1:, :] - b[..., :-1, :])
    return dx + dy


def weighted_terms(out: torch.Tensor, target: torch.Tensor, loss: DistillLoss,
                   input_range: InputRange = DEFAULT_RANGE,
                   features: FeatureDistillation | None = None,
                   feature_targets: Sequence[torch.Tensor] | None = None
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The weighted sum of the terms of ``loss`` between a student's output and the
    original's (``[N, C, H, W]``), and each term (``l1`` always, added only with a weight);
    the feature term from ``features``' recorded student activations against
    ``feature_targets`` (default: the original's recorded ones, :meth:`~FeatureDistillation.
    targets`)."""
    terms = {"l1": F.l1_loss(out, target)}
    total = terms["l1"] if loss.l1 == 1 else loss.l1 * terms["l1"]
    if loss.ssim > 0:
        terms["ssim"] = ssim_loss(out, target, input_range, loss.ssim_window, loss.ms_ssim)
        total = total + loss.ssim * terms["ssim"]
    if loss.gradient > 0:
        terms["gradient"] = gradient_loss(out, target, input_range)
        total = total + loss.gradient * terms["gradient"]
    if features is not None and loss.feature > 0:
        terms["feature"] = features.loss(features.targets() if feature_targets is None
                                         else feature_targets)
        total = total + loss.feature * terms["feature"]
    return total, terms


@contextlib.contextmanager
def recording(features: FeatureDistillation | None) -> Iterator[None]:
    """Within the block, ``features`` (if any) records the hooked layers' outputs."""
    if features is None:
        yield
        return
    features.recording = True
    try:
        yield
    finally:
        features.recording = False


# -- feature layers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureLayer:
    """A layer whose output the student is distilled on: its module ``name`` (the same in
    both networks), the student's and the original's channels, and ``kept``: the original's
    channel indices the student's channels match (None: unknown, or all when equal)."""

    name: str
    student_channels: int
    original_channels: int
    kept: tuple[int, ...] | None


def _term_groups(space: Any) -> tuple[dict[str, int], dict[str, int]]:
    """``(written, normalised)``: module name → channel group of its output, for the convs
    and for the norms and declared layers of ``space`` (-1: never pruned)."""
    convs = {c.name: c.out_group for c in space.convs}
    norms = {n.name: n.group for n in space.norms}
    norms.update({t.name: t.group for t in space.terms.layers})
    return convs, norms


def _preset(space: Any, network: nn.Module, which: str) -> list[str]:
    order = [n for n, _ in network.named_modules()]
    index = {n: i for i, n in enumerate(order)}
    convs, norms = _term_groups(space)
    if which == "groups":
        chosen = []
        for g in range(len(space.groups)):
            names = [n for n, k in norms.items() if k == g and n in index] or \
                [n for n, k in convs.items() if k == g and n in index]
            if names:
                chosen.append(max(names, key=index.__getitem__))
        return sorted(chosen, key=index.__getitem__)
    terms = (set(convs) | set(norms)) & set(index)
    blocks: list[str] = []
    for name, module in network.named_modules():
        if not name or type(module).__module__.startswith("torch.") or any(
                name.startswith(b + ".") for b in blocks):
            continue
        inside = {t for t in terms if t.startswith(name + ".")}
        if inside and inside != terms:  # a block wrapping the whole network is left out
            blocks.append(name)
    return blocks


def _group_of(name: str, space: Any, order: list[str]) -> int:
    """The channel group of module ``name``'s output: its own when it is a conv or a norm of
    ``space``, else that of the last such module at or before the end of its subtree."""
    convs, norms = _term_groups(space)
    groups = {**convs, **norms}
    if name in groups:
        return groups[name]
    end = max(i for i, n in enumerate(order) if n == name or n.startswith(name + "."))
    for n in reversed(order[:end + 1]):
        if n in groups:
            return groups[n]
    return -1


@torch.no_grad()
def _probe(student: nn.Module, teacher: nn.Module, names: Sequence[str],
           example: torch.Tensor) -> dict[str, tuple[Any, Any]]:
    """The outputs of modules ``names`` of both networks on ``example`` (eval mode; the
    networks' modes are given back)."""
    outputs: dict[str, list[Any]] = {n: [None, None] for n in names}
    handles = []
    for side, network in enumerate((student, teacher)):
        modules = dict(network.named_modules())
        for name in names:
            def hook(_m, _i, out, name=name, side=side):
                outputs[name][side] = out
            handles.append(modules[name].register_forward_hook(hook))
    modes = [student.training, teacher.training]
    try:
        for network in (student, teacher):
            network.eval()
            network(example)
    finally:
        for h in handles:
            h.remove()
        student.train(modes[0])
        teacher.train(modes[1])
    return {n: (s, t) for n, (s, t) in outputs.items()}


def feature_layers(student: nn.Module, teacher: nn.Module, loss: DistillLoss,
                   example: torch.Tensor, mask: tuple[Any, Sequence[int]] | None = None
                   ) -> list[FeatureLayer]:
    """The layers of ``loss.feature_layers`` with the student's and the original's channels
    and the original's channels the student's match, found on one forward pass of both on
    ``example`` (``[1, C, H, W]``, eval mode, no gradients; the global random state is not
    drawn from). ``mask``: ``(space, bits)`` the student was slimmed with; needed for
    ``feature_map`` "kept" where the channels differ. ValueError, one line naming the option
    or the layer, when a named layer is missing, does not give ``[N, C, H, W]`` of the same
    size in both, or (with "kept") its channels cannot be matched; a preset's layers that
    cannot be matched are left out."""
    from ..nets.groups import space_of
    from ..nets.slimming import _group_keeps, check_mask
    space, bits = mask if mask is not None else (None, [])
    if space is not None:
        check_mask(teacher, space, bits)
    preset = isinstance(loss.feature_layers, str)
    if preset:
        names = _preset(space if space is not None else space_of(teacher, example), teacher,
                        str(loss.feature_layers))
    else:
        names = list(loss.feature_layers)
    for name in names:
        for who, network in (("student", student), ("original", teacher)):
            if name not in dict(network.named_modules()):
                raise ValueError(f"DistillLoss: feature layer {name!r} is not a module of the "
                                 f"{who} ({type(network).__name__})")
    outputs = _probe(student, teacher, names, example)
    order = [n for n, _ in teacher.named_modules()]
    keeps = _group_keeps(space, bits) if space is not None else None
    layers = []
    for name in names:
        s, t = outputs[name]
        if not (torch.is_tensor(s) and torch.is_tensor(t) and s.dim() == t.dim() == 4
                and s.shape[2:] == t.shape[2:]):
            if preset:
                continue
            raise ValueError(f"DistillLoss: feature layer {name!r} does not give [N, C, H, W] "
                             "tensors of the same size in the student and the original")
        cs, ct = int(s.shape[1]), int(t.shape[1])
        kept: tuple[int, ...] | None = None
        if cs != ct and keeps is not None:
            g = _group_of(name, space, order)
            if g >= 0 and len(keeps[g]) == ct and sum(keeps[g]) == cs:
                kept = tuple(j for j, k in enumerate(keeps[g]) if k)
        if cs != ct and kept is None and loss.feature_map == "kept":
            if preset and keeps is not None:
                continue
            why = ("give the mask the student was slimmed with: Teacher(mask=...), "
                   "finetune_pair(masks=...)" if keeps is None else
                   "they are not the kept channels of one channel group")
            raise ValueError(f"DistillLoss: feature layer {name!r} has {cs} channels in the "
                             f"student and {ct} in the original and feature_map 'kept' cannot "
                             f"match them ({why}); use feature_map '1x1'")
        layers.append(FeatureLayer(name, cs, ct, kept))
    if not layers:
        raise ValueError(f"DistillLoss: feature_layers {loss.feature_layers!r} gives no layer "
                         "whose channels can be matched; name the layers")
    return layers


class FeatureDistillation(nn.Module):
    """Feature distillation at ``layers`` (:func:`feature_layers`): forward hooks on both
    networks record the layers' outputs while :attr:`recording` is on, and :meth:`loss` is
    the mean over layers of the mean squared distance of the student's activation (through
    its learned 1x1 map with ``mode`` "1x1") to the original's (its kept channels with
    "kept"). The 1x1 maps are this module's parameters (train them with the student; save
    them with :meth:`state_dict`): initialised to pick the kept channels when known, else
    uniformly in ``±1/sqrt(C_student)`` from ``seed``."""

    def __init__(self, layers: Sequence[FeatureLayer], mode: str = "kept", seed: int = 0
                 ) -> None:
        super().__init__()
        self.layers, self.mode = list(layers), mode
        self.recording = False
        self.maps = nn.ModuleList()
        self._student: dict[str, torch.Tensor] = {}
        self._original: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []
        generator = torch.Generator().manual_seed(int(seed))
        for layer in self.layers if mode == "1x1" else []:
            cs, ct = layer.student_channels, layer.original_channels
            conv = nn.Conv2d(cs, ct, 1, bias=False)
            with torch.no_grad():
                if layer.kept is not None or cs == ct:
                    picks = layer.kept if layer.kept is not None else tuple(range(cs))
                    conv.weight.zero_()
                    for j, i in enumerate(picks):
                        conv.weight[i, j] = 1.0
                else:
                    bound = 1.0 / cs ** 0.5
                    conv.weight.copy_(torch.rand(tuple(conv.weight.shape),
                                                 generator=generator) * 2 * bound - bound)
            self.maps.append(conv)

    def attach(self, student: nn.Module, teacher: nn.Module) -> None:
        """Hook the layers of both networks (undone by :meth:`detach`)."""
        for store, network in ((self._student, student), (self._original, teacher)):
            modules = dict(network.named_modules())
            for layer in self.layers:
                def hook(_m, _i, out, store=store, name=layer.name):
                    if self.recording:
                        store[name] = out
                self._handles.append(modules[layer.name].register_forward_hook(hook))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._student.clear()
        self._original.clear()

    def targets(self) -> list[torch.Tensor]:
        """The original's recorded activations, detached: per layer the kept channels with
        "kept", all of them with "1x1"."""
        out = []
        for layer in self.layers:
            t = self._original.pop(layer.name).detach()
            if self.mode == "kept" and layer.kept is not None:
                t = t[:, list(layer.kept)]
            out.append(t)
        return out

    def loss(self, targets: Sequence[torch.Tensor]) -> torch.Tensor:
        """Mean over layers of the mean squared distance of the recorded student activations
        to ``targets`` (from :meth:`targets`); a scalar."""
        terms = []
        for i, (layer, target) in enumerate(zip(self.layers, targets)):
            s = self._student.pop(layer.name)
            if self.mode == "1x1":
                s = self.maps[i](s)
            terms.append(F.mse_loss(s, target))
        return torch.stack(terms).mean()


class WeightAverage:
    """An exponential moving average of ``module``'s weights: a frozen copy whose parameters
    follow ``p ← d·p + (1 − d)·p_student`` after every :meth:`update` (``d = min(decay,
    (1 + k) / (10 + k))`` at update ``k``) and whose buffers are copied."""

    def __init__(self, module: nn.Module, decay: float, device: torch.device) -> None:
        self.decay = float(decay)
        self.module = frozen_copy(module, device)
        self.updates = 0

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for mine, theirs in zip(self.module.parameters(), module.parameters()):
            mine.mul_(d).add_(theirs.detach(), alpha=1 - d)
        for buffer, given in zip(self.module.buffers(), module.buffers()):
            buffer.copy_(given)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"weights": module_state(self.module), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["weights"])
        self.updates = int(state["updates"])

"""Why L1-norm channel selection falls behind random channels on the real generator.

``benchmarks/real_generator.py`` found L1-norm filter pruning (Li et al. 2017) about 5 dB
below random channels in the same uniform counts after 5,500 distillation steps, at 8x and
16x. This benchmark asks whether that is a defect (the slicing, the scores, the stream
group) or a property of the network, by taking the choice of channels apart group by group:

- the slicing: the slim L1 network against the original run with the same mask applied on the
  fly (``masked``), on the held-out tiles;
- the scores: how L1 filter norms rank against the affine InstanceNorm scale that follows
  each conv (|gamma|), which decides a channel's output magnitude in this network;
- the choice, per group kind: every mask keeps the uniform counts of the budget; channels are
  chosen by L1 in some groups and at random (seeded) in the others — the residual stream
  alone, every group but the stream, the encoder and decoder groups alone, the blocks' inner
  groups alone — against all-L1, all-random (3 seeds), the first channels, and the smallest
  L1 norms.

Each mask is slimmed and fine-tuned by L1 distillation to the original's output (Adam 2e-4,
betas 0.5/0.999, batch 1, ``--steps`` steps on ``--size`` px crops of the training photos,
labelled once by the original), then PSNR to the original's output is read on the held-out
photos' tiles at 128 px (47 tiles of 3 photos never trained on), before and after.

    OMP_NUM_THREADS=1 python benchmarks/l1_channels.py --out benchmarks/results/l1_channels.json

Needs the real generator's weights (``pip install --no-deps vintagify==0.1.2``).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from photo_folder import TEST_PHOTOS, TRAIN_PHOTOS, photo, tiles_of
from vintage_generator import load_real_generator

from deap_gan_prune.core.baselines import uniform_counts
from deap_gan_prune.core.maskspace import MaskSpace
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.nets.groups import trace_space
from deap_gan_prune.nets.importance import filter_l1, l1_importance
from deap_gan_prune.nets.slimming import masked, slim

Ranking = Callable[[int], list[int]]


def tiles(names: Sequence[str], scale: int, px: int) -> torch.Tensor:
    """``[N, 3, px, px]`` in [-1, 1]: the tiles of ``names`` at ``scale``, resized."""
    out = [np.asarray(Image.fromarray(t).resize((px, px), Image.Resampling.LANCZOS))
           for name in names for t in tiles_of(photo(name), scale)]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 127.5 - 1


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean PSNR (dB) over images in [-1, 1] (peak 1 after mapping to [0, 1])."""
    mse = ((a - b) / 2).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return float((10 * torch.log10(1 / mse)).mean())


def mask_of(space: MaskSpace, counts: Sequence[int], rank: Callable[[int], list[int]]
            ) -> list[int]:
    bits = [0] * space.n_bits
    for gi, (group, count) in enumerate(zip(space.groups, counts)):
        for j in rank(gi)[:count]:
            bits[group.offset + j] = 1
    return bits


def kept_redundancy(g: torch.nn.Module, space: MaskSpace, images: torch.Tensor,
                    counts: Sequence[int], rankings: dict[str, Callable[[int], list[int]]],
                    groups: Sequence[int]) -> dict[str, dict[str, float]]:
    """Per group and ranking: the mean |correlation| between the kept channels' activations
    (the output of the group's norm, over the pixels of ``images``), and the share of the
    group's activation variance (after the norm's affine scale) that the kept channels
    hold. Higher correlation: the kept channels repeat each other."""
    modules = dict(g.named_modules())
    acts: dict[int, torch.Tensor] = {}
    handles = []
    for gi in groups:
        norm = next(n.name for n in space.norms if n.group == gi)
        handles.append(modules[norm].register_forward_hook(
            lambda _m, _i, out, gi=gi: acts.__setitem__(gi, out.detach())))
    with torch.no_grad():
        g(images)
    for h in handles:
        h.remove()
    found: dict[str, dict[str, float]] = {}
    for gi in groups:
        a = acts[gi].transpose(0, 1).flatten(1)  # [C, N*H*W]
        corr = torch.corrcoef(a).abs()
        var = a.var(1)
        for name, rank in rankings.items():
            kept = rank(gi)[:counts[gi]]
            c = corr[kept][:, kept]
            off = (c.sum() - c.diagonal().sum()) / (len(kept) * (len(kept) - 1))
            found.setdefault(space.groups[gi].name, {})[name] = round(float(off), 4)
            found[space.groups[gi].name][f"{name}_variance_share"] = round(
                float(var[kept].sum() / var.sum()), 4)
    return found


def finetune(student: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
             steps: int, seed: int) -> torch.nn.Module:
    """``steps`` Adam updates of L1 to the labels, one random training crop a step."""
    torch.manual_seed(seed)
    student.train()
    opt = torch.optim.Adam(student.parameters(), lr=2e-4, betas=(0.5, 0.999))
    order = torch.randint(len(inputs), (steps,), generator=torch.Generator().manual_seed(seed))
    for i in order.tolist():
        loss = (student(inputs[i:i + 1]) - labels[i:i + 1]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return student.eval()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budgets", default="8,16", help="compressions, e.g. 8,16")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--size", type=int, default=64, help="training crop side (px)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default="", help="comma-separated mask names (default: all)")
    p.add_argument("--out", default="benchmarks/results/l1_channels.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    g = load_real_generator().eval()
    space = trace_space(g, torch.zeros(1, 3, 64, 64))
    modules = dict(g.named_modules())
    test = tiles(TEST_PHOTOS, 2, 128)
    train = tiles(TRAIN_PHOTOS, 3, args.size)
    with torch.no_grad():
        reference = g(test)
        labels = torch.cat([g(train[i:i + 16]) for i in range(0, len(train), 16)])
    scores = l1_importance(g, space)

    # the scores: L1 of each writer conv against |gamma| of the affine norm right after it
    ranks = {}
    for conv in space.convs:
        parent, _, index = conv.name.rpartition(".")
        norm = modules.get(f"{parent}.{int(index) + 1}")
        if conv.out_group >= 0 and isinstance(norm, torch.nn.InstanceNorm2d) and norm.affine:
            ranks[conv.name] = float(spearmanr(filter_l1(modules[conv.name]).numpy(),
                                               norm.weight.detach().abs().numpy())[0])

    groups = range(len(space.groups))
    stream = max(groups, key=lambda gi: sum(c.out_group == gi for c in space.convs))
    inner = {gi for gi in groups if ".block." in space.groups[gi].name}
    outer = set(groups) - inner - {stream}

    def l1_rank(gi: int) -> list[int]:
        g_ = space.groups[gi]
        return sorted(range(g_.size), key=lambda j: (-scores[g_.offset + j], j))

    def random_rank(seed: int) -> Ranking:
        rng = random.Random(seed)
        perms = [rng.sample(range(g_.size), g_.size) for g_ in space.groups]
        return lambda gi: perms[gi]

    def l1_in(chosen: set[int], seed: int = 0) -> Ranking:
        other = random_rank(seed)
        return lambda gi: l1_rank(gi) if gi in chosen else other(gi)

    rankings: dict[str, Ranking] = {
        "l1": l1_rank,
        **{f"random_s{s}": random_rank(s) for s in range(3)},
        "first": lambda gi: list(range(space.groups[gi].size)),
        "smallest_l1": lambda gi: l1_rank(gi)[::-1],
        "l1_stream_only": l1_in({stream}),
        "l1_all_but_stream": l1_in(set(groups) - {stream}),
        "l1_encoder_decoder_only": l1_in(outer),
        "l1_inner_only": l1_in(inner),
        **{f"l1_only_{space.groups[gi].name}": l1_in({gi}) for gi in sorted(outer)},
    }
    if args.only:
        rankings = {k: v for k, v in rankings.items() if k in args.only.split(",")}
    redundancy = kept_redundancy(g, space, test[:8], uniform_counts(space, 1 / 8),
                                 {"l1": l1_rank, "random_s0": random_rank(0),
                                  "first": lambda gi: list(range(space.groups[gi].size))},
                                 sorted(outer))
    results: dict = {"redundancy_8x": redundancy,
                     "groups": {"stream": space.groups[stream].name,
                                "encoder_decoder": [space.groups[gi].name for gi in outer],
                                "inner": len(inner)},
                     "spearman_l1_vs_abs_gamma": ranks, "settings": vars(args),
                     "test_tiles": len(test), "train_crops": len(train), "cells": {}}
    for budget in (int(b) for b in args.budgets.split(",")):
        counts = uniform_counts(space, 1 / budget)
        for name, rank in rankings.items():
            bits = mask_of(space, counts, rank)
            student = slim(g, bits, space).eval()
            start = time.perf_counter()
            with torch.no_grad():
                before = psnr(student(test), reference)
                if name == "l1":
                    with masked(g, bits, space) as on_the_fly:
                        gap = float((on_the_fly(test[:4]) - student(test[:4])).abs().max())
                    results["l1_masked_vs_slim_max_abs"] = max(
                        gap, results.get("l1_masked_vs_slim_max_abs", 0.0))
            finetune(student, train, labels, args.steps, args.seed)
            with torch.no_grad():
                after = psnr(student(test), reference)
            cell = {"budget": budget, "psnr_before": round(before, 2),
                    "psnr_after": round(after, 2), "seconds": round(time.perf_counter() - start)}
            results["cells"][f"{name}_{budget}x"] = cell
            print(f"{budget:>3}x {name:<26} {before:6.2f} dB -> {after:6.2f} dB "
                  f"({cell['seconds']} s)", flush=True)
            atomic_write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

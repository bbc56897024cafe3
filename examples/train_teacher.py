"""Recipe of the small teacher CycleGAN shipped in ``deap_gan_prune/teacher/``.

Trains ResnetGenerator(ngf=16, n_blocks=6) ×2 and NLayerDiscriminator(ndf=32, n_layers=3) ×2 on
the synthetic horse (A) ↔ zebra (B) data at 64×64 with the upstream CycleGAN objective, scores
the generators every ``--eval-every`` steps by the outline measures on the synthetic test split
(stripe share inside the horse after horse→zebra, brown share after zebra→horse), keeps the best
evaluation's weights and writes them as ``latest_net_{G_A,G_B,D_A,D_B}.pth`` (upstream keys,
the discriminators in float16, which halves their size and moves the paper's fitness by less
than 1e-4 relative;
plain state dicts) plus ``teacher.json`` (architecture, recipe, measures, real-image baselines).

    python examples/train_teacher.py            # the defaults reproduce the shipped files

The defaults (1,500 steps of batch 4, seed 0, 2 CPU threads, evaluation every 100 steps) are
those of the shipped ``teacher.json``; about 0.3 s per step on an idle 2-core CPU.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import torch

import deap_gan_prune
from deap_gan_prune.data import UnpairedTensorBatches
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.metrics import outline_scores
from deap_gan_prune.nets.checkpoints import CycleGAN
from deap_gan_prune.nets.models import NLayerDiscriminator, ResnetGenerator
from deap_gan_prune.runoptions import RunOptions
from deap_gan_prune.synthetic import SyntheticHorseZebra
from deap_gan_prune.training import CycleGANConfig, init_weights, save_state_atomic, train_cyclegan

DEFAULT_OUT = Path(deap_gan_prune.__file__).resolve().parent / "teacher"
GEN = {"input_nc": 3, "output_nc": 3, "ngf": 16, "n_blocks": 6}
DISC = {"input_nc": 3, "ndf": 32, "n_layers": 3}


@torch.no_grad()
def translate(generator: torch.nn.Module, images: torch.Tensor, device: str,
              chunk: int = 16) -> torch.Tensor:
    """Generator outputs for ``images`` [n, 3, H, W], computed in chunks, on the CPU."""
    return torch.cat([generator(images[i:i + chunk].to(device)).cpu()
                      for i in range(0, len(images), chunk)])


def background_change(src: torch.Tensor, out: torch.Tensor, outlines: torch.Tensor) -> float:
    """Mean absolute change outside the outlines, in [0, 1] intensity units."""
    outside = (~outlines).unsqueeze(1).expand_as(src)
    return float((out - src).abs()[outside].mean() / 2)


def evaluate(g_a, g_b, test: dict[str, torch.Tensor], device: str) -> dict[str, float]:
    """Outline measures and background change of both directions on the test images."""
    fake_b = translate(g_a, test["A"], device)
    fake_a = translate(g_b, test["B"], device)
    scores = outline_scores(fake_b, test["A_outline"], fake_a, test["B_outline"])
    scores["a2b_background_change"] = background_change(test["A"], fake_b, test["A_outline"])
    scores["b2a_background_change"] = background_change(test["B"], fake_a, test["B_outline"])
    return scores


def quality(scores: dict[str, float], real: dict[str, float]) -> float:
    """Selection score: the target colour reached (relative to real images) minus the source
    colour left over, averaged over both directions."""
    gained = scores["a2b_stripe_share"] / real["zebra_stripe_share"] \
        + scores["b2a_brown_share"] / real["horse_brown_share"]
    left = scores["a2b_brown_share"] / real["horse_brown_share"] \
        + scores["b2a_stripe_share"] / real["zebra_stripe_share"]
    return (gained - left) / 2


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500, help="optimiser updates")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data order and pool")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the teacher files")
    p.add_argument("--quiet", action="store_true", help="no progress bar or evaluation lines")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--decay-start", type=float, default=0.5,
                   help="share of the steps at constant lr before the linear decay to 0")
    p.add_argument("--n-train", type=int, default=512, help="synthetic training items")
    p.add_argument("--n-test", type=int, default=64, help="synthetic test items for scoring")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic data")
    p.add_argument("--eval-every", type=int, default=100, help="steps between evaluations")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--checkpoint-dir", type=Path, default=None,
                   help="also write upstream checkpoints here every --eval-every steps")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    say = (lambda *_a: None) if args.quiet else (lambda *a: print(*a, flush=True))

    train = SyntheticHorseZebra(n=args.n_train, size=64, seed=args.data_seed, split="train")
    test_ds = SyntheticHorseZebra(n=args.n_test, size=64, seed=args.data_seed, split="test")
    test = {k: getattr(test_ds, f)(d) for k, f, d in
            [("A", "images", "A"), ("B", "images", "B"),
             ("A_outline", "outlines", "A"), ("B_outline", "outlines", "B")]}
    real_all = outline_scores(test["B"], test["B_outline"], test["A"], test["A_outline"])
    real = {"zebra_stripe_share": real_all["a2b_stripe_share"],
            "zebra_brown_share": real_all["a2b_brown_share"],
            "horse_brown_share": real_all["b2a_brown_share"],
            "horse_stripe_share": real_all["b2a_stripe_share"]}
    say("real test images:", {k: round(v, 4) for k, v in real.items()})
    loader = UnpairedTensorBatches(train.images("A"), train.images("B"), args.batch_size,
                                   args.seed)

    nets = {"G_A": ResnetGenerator(**GEN), "G_B": ResnetGenerator(**GEN),
            "D_A": NLayerDiscriminator(**DISC), "D_B": NLayerDiscriminator(**DISC)}
    for i, net in enumerate(nets.values()):
        init_weights(net, 0.02, seed=args.seed * 10 + i)
    log_every = min(args.eval_every, 10)
    if args.eval_every % log_every:
        raise SystemExit(f"train_teacher.py: --eval-every must be a multiple of {log_every}")
    config = CycleGANConfig(steps=args.steps, lr=args.lr, decay_start=args.decay_start,
                            batch_size=args.batch_size, seed=args.seed, log_every=log_every,
                            checkpoint_every=args.eval_every)
    evals: list[dict] = []
    best: dict = {"quality": float("-inf")}
    start = time.perf_counter()

    def on_log(step: int, logs: dict[str, float]) -> None:
        if step % args.eval_every and step != args.steps:
            return
        elapsed = time.perf_counter() - start
        scores = evaluate(nets["G_A"], nets["G_B"], test, args.device)
        q = quality(scores, real)
        evals.append({"step": step, "seconds": round(elapsed, 1), "quality": q, **scores,
                      **{f"loss_{k}": v for k, v in logs.items()}})
        if q > best["quality"]:
            best.update(quality=q, step=step, scores=scores,
                        states={n: copy.deepcopy(m.state_dict()) for n, m in nets.items()})
        say(f"step {step:5d} {elapsed:7.1f}s ({elapsed / step:.3f} s/step) q={q:.3f} "
            + " ".join(f"{k}={v:.3f}" for k, v in scores.items())
            + " | " + " ".join(f"{k}={v:.3f}" for k, v in logs.items()))

    train_cyclegan(CycleGAN(nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]), loader, config,
                   RunOptions(device=args.device, progress=not args.quiet and sys.stderr.isatty(),
                              callback=on_log),
                   checkpoint_dir=args.checkpoint_dir)
    seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    for name, state in best["states"].items():
        if name.startswith("D_"):  # float16 halves the package; the paper's F moves < 1e-4
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        save_state_atomic(state, args.out / f"latest_net_{name}.pth")
    summary = {
        "architecture": {
            "G_A": {"class": "ResnetGenerator", **GEN, "norm": "instance", "use_dropout": False,
                    "maps": "A (horse) -> B (zebra)"},
            "G_B": {"class": "ResnetGenerator", **GEN, "norm": "instance", "use_dropout": False,
                    "maps": "B (zebra) -> A (horse)"},
            "D_A": {"class": "NLayerDiscriminator", **DISC, "judges": "B (zebra)"},
            "D_B": {"class": "NLayerDiscriminator", **DISC, "judges": "A (horse)"},
            "generator_parameters": sum(p.numel() for p in nets["G_A"].parameters()),
            "discriminator_parameters": sum(p.numel() for p in nets["D_A"].parameters()),
        },
        "data": {"dataset": "deap_gan_prune.synthetic.SyntheticHorseZebra", "size": 64,
                 "n_train": args.n_train, "n_test": args.n_test, "seed": args.data_seed},
        "recipe": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                      if k not in ("out", "checkpoint_dir")},
                   "script": "examples/train_teacher.py"},
        "config": config.to_dict(),
        "seed": args.seed,
        "steps": args.steps,
        "best_step": best["step"],
        "measures": best["scores"],
        "real_baselines": real,
        "train_seconds": round(seconds, 1),
        "evaluations": evals,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {args.threads} threads, {args.device}",
    }
    atomic_write_json(args.out / "teacher.json", summary)
    say(f"best step {best['step']} of {args.steps} ({seconds:.0f} s): "
        + json.dumps({k: round(v, 4) for k, v in best["scores"].items()}))
    say(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    main()

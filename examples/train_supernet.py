"""Recipe of the once-for-all teacher shipped in ``deap_gan_prune/teacher/supernet/``.

Trains once-for-all versions of both shipped teacher generators (:func:`supernet_pair`, the
sandwich rule over 16x to 4x fewer parameters and MACs, L1 distillation toward the frozen
teacher) on the embedded synthetic training images, then records in ``supernet.json`` how well
sub-networks work straight from the shared weights, with NO fine-tuning: for uniform and
random masks at 4x, 8x and 16x, the L1 distance to the teacher's translations on the test
images and the outline measures, on the teacher's own weights and on the once-for-all ones.
The generators are stored in float16 (half the size; loading casts them back to float32), and
every recorded figure is measured on the stored weights.

    python examples/train_supernet.py            # the defaults reproduce the shipped files
    python examples/horse2zebra.py --supernet    # a search on the shipped supernet

The defaults (2,500 steps of batch 4 per generator, learning rate 2e-3, seed 0, both generators at
once on one thread each)
are those of the shipped ``supernet.json``, which also records the training time.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import platform
import random
import shutil
import sys
import time
from pathlib import Path

import torch

import deap_gan_prune
from deap_gan_prune import RunOptions, load_cyclegan, save_generator, slim, space_of
from deap_gan_prune.core.baselines import uniform_mask
from deap_gan_prune.domains import synthetic_data, training_images
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.metrics import outline_scores
from deap_gan_prune.training import supernet_generator, supernet_pair
from deap_gan_prune.training.supernet import SupernetConfig, mean_masked_loss, random_mask

TEACHER = Path(deap_gan_prune.__file__).resolve().parent / "teacher"
DEFAULT_OUT = TEACHER / "supernet"
BUDGETS = (0.25, 0.125, 0.0625)


@torch.no_grad()
def sub_network_quality(gan, reference, data, n_random: int = 4, seed: int = 0) -> dict:
    """Per budget: L1 (pixel mean, [-1, 1] images) of uniform and ``n_random`` random masks
    to ``reference``'s translations of the test images, and the outline measures of the
    uniform masks' slim networks (no fine-tuning)."""
    rng = random.Random(seed)
    out = {}
    for budget in BUDGETS:
        row = {}
        masks = {}
        for name, net, ref, x in (("A", gan.g_a, reference.g_a, data.test_a),
                                  ("B", gan.g_b, reference.g_b, data.test_b)):
            space = space_of(net, x[:1])
            masks[name] = uniform_mask(space, budget)
            randoms = [random_mask(space, budget, rng) for _ in range(n_random)]
            row[f"{name}_uniform_l1"] = mean_masked_loss(net.eval(), ref.eval(), x, space,
                                                         [masks[name]])
            row[f"{name}_random_l1"] = mean_masked_loss(net, ref, x, space, randoms)
            masks[name] = slim(net, masks[name], space).eval()
        scores = outline_scores(masks["A"](data.test_a), data.outlines_a,
                                masks["B"](data.test_b), data.outlines_b)
        row.update({f"uniform_{k}": v for k, v in scores.items()})
        out[str(budget)] = row
    full = outline_scores(gan.g_a.eval()(data.test_a), data.outlines_a,
                          gan.g_b.eval()(data.test_b), data.outlines_b)
    out["full"] = {f"full_{k}": v for k, v in full.items()}
    return out


def train_one(name: str, work: Path, config: SupernetConfig, n_images: int) -> None:
    """Train generator ``name`` ("G_A" or "G_B") to its state file in ``work`` on one thread,
    exactly as :func:`supernet_pair` would (which then finds it done)."""
    torch.set_num_threads(1)
    teacher = load_cyclegan(TEACHER)
    images = training_images(synthetic_data(), n_images, config.seed)[0 if name == "G_A" else 1]
    supernet_generator(teacher, name, images, work, config, RunOptions(progress=False),
                       resume=True)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2500, help="optimiser updates per generator")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (constant)")
    p.add_argument("--n-images", type=int, default=512, help="training images per domain")
    p.add_argument("--n-random", type=int, default=2,
                   help="random masks per step besides the full and the smallest")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--jobs", type=int, choices=[1, 2], default=2,
                   help="2: both generators train at once, one process and thread each")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the supernet files")
    p.add_argument("--work", type=Path, default=None,
                   help="folder of the training states, resumable (default "
                        "runs/supernet_work, removed when done)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    say = (lambda *_a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    work = args.work or Path("runs") / "supernet_work"

    teacher = load_cyclegan(TEACHER)
    data = synthetic_data()
    config = SupernetConfig(steps=args.steps, lr=args.lr, n_random=args.n_random,
                            budgets=BUDGETS, seed=args.seed)
    start = time.perf_counter()
    if args.jobs == 2 and args.device == "cpu":
        work.mkdir(parents=True, exist_ok=True)
        say(f"training both generators at once ({args.steps} steps each) ...")
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
            for done in [pool.submit(train_one, name, work, config, args.n_images)
                         for name in ("G_A", "G_B")]:
                done.result()
    nets = supernet_pair(teacher, data, work, config,
                         RunOptions(device=args.device, progress=not args.quiet),
                         n_images=args.n_images, resume=True)
    seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {"steps": args.steps, "lr": args.lr, "n_images": args.n_images,
                "n_random": args.n_random, "batch_size": 4, "budgets": list(BUDGETS),
                "seed": args.seed, "data": data.name, "teacher": "deap_gan_prune/teacher"}
    for name, net in (("G_A", nets.g_a), ("G_B", nets.g_b)):
        save_generator(net.cpu().half(), args.out / f"latest_net_{name}.pth",
                       extra={"supernet": settings, "dtype": "float16"})
    stored = load_cyclegan(args.out)
    say("measuring sub-networks of the teacher and of the once-for-all weights ...")
    record = {
        "kind": "supernet", **settings,
        "training": {"seconds": round(seconds, 1), "jobs": args.jobs, "threads": args.threads,
                     "device": args.device, "machine": platform.machine(),
                     "processor": platform.processor() or None, "torch": torch.__version__},
        "quality": {"teacher": sub_network_quality(teacher, teacher, data, seed=args.seed),
                    "supernet": sub_network_quality(stored, teacher, data, seed=args.seed)},
        "note": "sub-networks straight from the weights, no fine-tuning; L1 is the pixel mean "
                "distance to the teacher's translations of the test images ([-1, 1] images)",
    }
    atomic_write_json(args.out / "supernet.json", record)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    for budget, row in record["quality"]["supernet"].items():
        before = record["quality"]["teacher"][budget]
        say(budget, {k: f"{before[k]:.3f} -> {v:.3f}" for k, v in row.items()})
    say(f"trained in {seconds:.0f} s; wrote {args.out}")
    return record


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

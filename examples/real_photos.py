"""Prune a real pretrained CycleGAN generator 4x on real photos, end to end, in one call.

The generator: ``vintagify`` 0.1.2's modern → vintage photo filter (MIT; ResNet, ngf 64,
9 blocks, 11.4 M parameters), whose layout ``vintage_generator.py`` (beside this script)
writes as a class of its own; its weights come from the installed package (``pip install
--no-deps vintagify==0.1.2``) or ``--weights FILE``. The photos: scikit-image's bundled colour
photos (``photo_folder.py``, beside this script): tiles of six photos to search and fine-tune
on; chelsea, coffee and rocket held out, whole, for testing. Nothing is downloaded.

:func:`deap_gan_prune.compress` does the work, as for any generator of your own class
(``generator="pkg.module:Class"``, ``weights=FILE``): the width search at a 4x parameter
budget scored at 64 px, slimming, fine-tuning by distillation to the original on 128-px crops,
evaluation, ONNX and TorchScript export, ``report.md``. Then this script translates the
held-out photos at 256 px with the original and the slim generator, prints PSNR and SSIM to
the original's output and the latency of both (one thread, side by side), and writes
``before_after.png``. Like ``compress``, it continues where it stopped when run again.

    python examples/real_photos.py                 # about 10 minutes on 2 CPU cores
    python examples/real_photos.py --quick         # a random-weight toy, about a minute
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when run through runpy

from photo_folder import write_photo_folder  # the photos, beside this script
from vintage_generator import MissingWeights, VintageGenerator, weights_path

from deap_gan_prune import CompressConfig, compress
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.metrics.evaluation import generator_latency, translate
from deap_gan_prune.metrics.fidelity import fidelity_scores
from deap_gan_prune.nets.checkpoints import load_generator
from deap_gan_prune.streams import load_images


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="the generator's weights (default: the "
                   "installed vintagify package's)")
    p.add_argument("--budget", type=float, default=0.25, help="parameter ratio (default 0.25)")
    p.add_argument("--population", type=int, default=8, help="(default 8)")
    p.add_argument("--generations", type=int, default=4, help="(default 4)")
    p.add_argument("--finetune-steps", type=int, default=1000, help="(default 1000)")
    p.add_argument("--large-size", type=int, default=256,
                   help="pixels of the held-out photos for quality and latency (default 256)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    p.add_argument("--quick", action="store_true",
                   help="a small random-weight generator of the same class, tiny images")
    p.add_argument("--out", default="runs/real_photos", help="run folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def make_config(a: argparse.Namespace, data: Path, weights: Path) -> CompressConfig:
    """The compress settings: 128-px fine-tuning crops, the width search at 64 px."""
    settings = {"generator": "vintage_generator:VintageGenerator", "weights": str(weights),
                "dataroot": str(data), "image_size": 128, "search_size": 64, "budget": a.budget,
                "population": a.population, "generations": a.generations,
                "finetune_steps": a.finetune_steps, "batch_size": 1, "val_every": 250,
                "checkpoint_every": 250, "repeats": 5, "device": a.device}
    if a.quick:
        settings.update(generator_kwargs={"ngf": 8, "n_blocks": 2}, image_size=16,
                        search_size=16, population=3, generations=1, adapt_steps=2,
                        n_images=2, adapt_images=2, finetune_steps=4, val_every=2,
                        checkpoint_every=2, repeats=2, judge_steps=2)
    return CompressConfig(**settings)


def quick_weights(out: Path) -> Path:
    """A random-weight small generator's state dict (for --quick)."""
    path = out / "quick_weights.pth"
    if not path.is_file():
        torch.manual_seed(0)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(VintageGenerator(ngf=8, n_blocks=2).state_dict(), path)
    return path


def before_after(images, original, slim, path: Path, title: str) -> None:
    """Rows: held-out photos; columns: input, original, slim (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    columns = (("input", images), ("original", original), (title, slim))
    fig, axes = plt.subplots(len(images), 3, squeeze=False, figsize=(7.5, 2.5 * len(images)))
    for j, (name, batch) in enumerate(columns):
        for i in range(len(images)):
            axes[i][j].imshow(((batch[i].permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy())
            axes[i][j].set_xticks([])
            axes[i][j].set_yticks([])
            if i == 0:
                axes[i][j].set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    a = parse_args(argv)
    started = time.perf_counter()
    out = Path(a.out)
    try:
        weights = quick_weights(out) if a.quick else weights_path(a.weights)
    except MissingWeights as error:
        print(f"real_photos: {error}", file=sys.stderr)
        return 1
    data = out / "data"
    if a.quick:
        write_photo_folder(data, tile_px=24, test_px=40)
    else:
        write_photo_folder(data, tile_px=256)
    config = make_config(a, data, weights)
    report = compress(config, out / "compress", progress=not a.quiet,
                      say=(lambda _text: None) if a.quiet else None)

    # The held-out photos, whole, at --large-size: original and slim side by side.
    large = 32 if a.quick else a.large_size
    architecture = {"class": config.generator, "kwargs": config.generator_kwargs}
    original = load_generator(weights, architecture=architecture)
    slim = load_generator(out / "compress" / "finetuned" / "slim_G_A.pth",
                          architecture=architecture)
    images = load_images(sorted((data / "testA").iterdir()), large)
    reference, pruned = translate(original, images, 1), translate(slim, images, 1)
    scores = fidelity_scores(pruned, reference)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        latency = generator_latency({"original": original, "slim": slim}, images[:1],
                                    repeats=3 if a.quick else 10, warmup=1)
    finally:
        torch.set_num_threads(threads)
    params = {name: sum(p.numel() for p in g.parameters())
              for name, g in (("original", original), ("slim", slim))}
    summary = {"params": params, "params_ratio": params["slim"] / params["original"],
               "psnr_db": scores["psnr_db"], "ssim": scores["ssim"], "size": large,
               "photos": [f.stem for f in sorted((data / "testA").iterdir())],
               "latency_ms": {k: 1e3 * v["median_s"] for k, v in latency.items()},
               "speedup": latency["original"]["median_s"] / latency["slim"]["median_s"],
               "seconds": round(time.perf_counter() - started, 1), "report": str(report)}
    atomic_write_json(out / "summary.json", summary)
    before_after(images, reference, pruned, out / "before_after.png",
                 f"slim, {params['original'] / params['slim']:.1f}x fewer parameters")
    print(f"held-out photos {', '.join(summary['photos'])} at {large} px:\n"
          f"{'':10}{'params':>12}{'ms (1 thread)':>15}\n"
          f"{'original':10}{params['original']:>12,}{summary['latency_ms']['original']:>15.1f}\n"
          f"{'slim':10}{params['slim']:>12,}{summary['latency_ms']['slim']:>15.1f}\n"
          f"slim: {params['original'] / params['slim']:.2f}x fewer parameters, "
          f"{summary['speedup']:.2f}x faster; PSNR {scores['psnr_db']:.2f} dB, SSIM "
          f"{scores['ssim']:.3f} to the original's output\n"
          f"{summary['seconds']:.0f} s in all; wrote {out}/: compress/ (report.md, export/), "
          "before_after.png, summary.json")
    return 0


def first_line(message: object) -> str:
    """The first line of a message (an exception's type name when it has none)."""
    lines = str(message).strip().splitlines()
    return lines[0] if lines else type(message).__name__


if __name__ == "__main__":
    # warnings and errors on one line each, as the command line prints them
    warnings.formatwarning = lambda message, *_: f"real_photos: warning: {first_line(message)}\n"
    try:
        sys.exit(main())
    except (ValueError, OSError) as exc:  # bad input: one line naming it, exit 1
        print(f"real_photos: error: {first_line(exc)}", file=sys.stderr)
        sys.exit(1)

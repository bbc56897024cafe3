"""Deployment: file size, CPU latency and quality of the original generator in float and of its
slim version in float (eager PyTorch, TorchScript, ONNX Runtime) and in int8 (ONNX Runtime,
static quantization by ``deap_gan_prune.quantization.export_int8``).

Cases:
  teacher 4x, 8x  G_A of the shipped teacher slimmed to the uniform mask at 1/4 and 1/8 of its
                  parameters, distilled ``--teacher-steps`` steps toward the original on the
                  embedded synthetic images (64 px); calibration: 32 training images; check:
                  16 test images.
  real 4x         the real pretrained generator of ``benchmarks/real_generator.py`` (when
                  installed: ``pip install --no-deps vintagify==0.1.2``; or ``--weights``),
                  uniform 4x in parameters, fine-tuned ``--real-steps`` steps
                  (``distill_generator``, 128 px crops of the training tiles of
                  ``examples/photo_folder.py``, a teacher pool); calibration: 16 training
                  tiles at 256 px; check: the three held-out whole photos at 256 px.
Quality: PSNR / SSIM of each variant's output to the original generator's output on the check
images. Latency: batch 1 at ``--size`` (256) px, one thread (torch and ONNX Runtime), every
variant timed once per round in turn (interleaved), median of ``--repeats`` rounds.
Sizes: the file each runtime loads (state dict .pth, TorchScript .pt, .onnx).

    OMP_NUM_THREADS=1 python benchmarks/deploy.py [--out benchmarks/results/deploy.json]
    python benchmarks/deploy.py --quick     # toy sizes, for the tests
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from deap_gan_prune.core.baselines import uniform_mask
from deap_gan_prune.export import export_onnx, export_torchscript
from deap_gan_prune.files import atomic_write_json
from deap_gan_prune.fitness.distillation import BriefDistillation
from deap_gan_prune.metrics.evaluation import compare_latency
from deap_gan_prune.metrics.fidelity import fidelity_scores
from deap_gan_prune.nets.groups import space_of
from deap_gan_prune.nets.slimming import slim
from deap_gan_prune.quantization import Int8Config, export_int8, run_onnx

#: int8 settings compared (``Int8Config``): plain post-training quantization of every layer
#: with MinMax ranges, then each change, then the default.
SETTINGS = {
    "minmax, every layer": Int8Config(calibration="minmax", equalize=False, keep_float=()),
    "percentile, every layer": Int8Config(equalize=False, keep_float=()),
    "percentile, equalised, every layer": Int8Config(keep_float=()),
    "percentile, no-kernel layers in float": Int8Config(equalize=False),
    "default (percentile, equalised, auto)": Int8Config(),
}
VARIANTS = ("original float (eager)", "original float (ONNX Runtime)", "slim float (eager)",
            "slim float (TorchScript)", "slim float (ONNX Runtime)", "slim int8 (ONNX Runtime)")


def slimmed(generator: torch.nn.Module, budget: float, size: int) -> torch.nn.Module:
    """``generator`` slimmed to the uniform mask at ``budget`` of its parameters."""
    space = space_of(generator, torch.zeros(1, 3, size, size))
    return slim(generator, uniform_mask(space, budget), space).eval()


def teacher_cases(budgets: list[float], steps: int, quick: bool) -> list[dict]:
    from deap_gan_prune.domains import synthetic_data
    from deap_gan_prune.nets.models import ResnetGenerator
    from deap_gan_prune.teacher import load_teacher

    if quick:
        torch.manual_seed(0)
        original = ResnetGenerator(ngf=4, n_blocks=1).eval()
    else:
        original = load_teacher().g_a
    data = synthetic_data(n_train=64, n_test=16, size=32 if quick else 64)
    cases = []
    for budget in budgets:
        slim = slimmed(original, budget, data.image_size)
        BriefDistillation.from_generator(original, data.train[0], steps=steps, seed=0)(slim)
        cases.append({"name": f"teacher {round(1 / budget)}x", "budget": budget,
                      "original": original, "slim": slim, "calibration": data.train[0][:32],
                      "check": data.test_a})
    return cases


def real_case(budget: float, steps: int, weights: str | None, work: Path) -> dict:
    from photo_folder import write_photo_folder
    from vintage_generator import load_real_generator

    from deap_gan_prune.streams import load_images
    from deap_gan_prune.training.distill import Teacher, distill_generator
    from deap_gan_prune.training.distill_config import DistillConfig

    original = load_real_generator(weights)
    root = work / "photos"
    write_photo_folder(root)
    train = sorted((root / "trainA").iterdir())
    slim = slimmed(original, budget, 64)
    config = DistillConfig.upstream(steps=steps, batch_size=1, image_size=128, val_images=0,
                                    teacher_pool=64, decay_start=0.5, seed=0)
    distill_generator(slim, Teacher(original), train, config)
    return {"name": f"real {round(1 / budget)}x", "budget": budget, "original": original,
            "slim": slim.eval(), "calibration": load_images(train[:16], 256),
            "check": load_images(sorted((root / "testA").iterdir()), 256)}


def _scores(out, reference) -> dict:
    s = fidelity_scores(torch.as_tensor(out), torch.as_tensor(reference))
    return {"psnr_db": round(s["psnr_db"], 3), "ssim": round(s["ssim"], 4)}


@torch.no_grad()
def measure(case: dict, size: int, repeats: int, work: Path) -> dict:
    """Files, quality and interleaved latency of every variant of one case."""
    from deap_gan_prune.quantization import _session

    original, slim = case["original"], case["slim"]
    folder = work / case["name"].replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"original.onnx": folder / "original.onnx", "slim.onnx": folder / "slim.onnx",
             "slim.pt": folder / "slim.pt", "slim_int8.onnx": folder / "slim_int8.onnx",
             "original.pth": folder / "original.pth", "slim.pth": folder / "slim.pth"}
    torch.save(original.state_dict(), paths["original.pth"])
    torch.save(slim.state_dict(), paths["slim.pth"])
    export_onnx(original, paths["original.onnx"], size)
    export_onnx(slim, paths["slim.onnx"], size)
    export_torchscript(slim, paths["slim.pt"], size)
    settings = {}  # post-training settings side by side; the default last (the file kept)
    for name, config in SETTINGS.items():
        int8 = export_int8(slim, paths["slim_int8.onnx"], case["calibration"], case["check"],
                           original=original, config=config, progress=True)
        settings[name] = {"to_float_psnr_db": round(int8.check["to_float"]["psnr_db"], 3),
                          "loss_db": round(int8.check["loss_db"], 3), "kept_float": int8.kept_float,
                          "mb": round(int8.bytes / 1e6, 3)}
    check = case["check"]
    reference = original(check)
    scripted = torch.jit.load(str(paths["slim.pt"]))
    outputs = {"slim float (eager)": slim(check), "slim float (TorchScript)": scripted(check),
               "slim float (ONNX Runtime)": run_onnx(paths["slim.onnx"], check.numpy()),
               "slim int8 (ONNX Runtime)": run_onnx(paths["slim_int8.onnx"], check.numpy())}
    quality = {name: _scores(out, reference) for name, out in outputs.items()}
    quality["slim int8 to slim float (ONNX Runtime)"] = _scores(
        outputs["slim int8 (ONNX Runtime)"], outputs["slim float (ONNX Runtime)"])

    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    sessions = {name: _session(paths[file]) for name, file in
                (("original float (ONNX Runtime)", "original.onnx"),
                 ("slim float (ONNX Runtime)", "slim.onnx"),
                 ("slim int8 (ONNX Runtime)", "slim_int8.onnx"))}
    feed = {"input": x.numpy()}
    runners = {"original float (eager)": lambda: original(x),
               "original float (ONNX Runtime)":
                   lambda: sessions["original float (ONNX Runtime)"].run(None, feed),
               "slim float (eager)": lambda: slim(x),
               "slim float (TorchScript)": lambda: scripted(x),
               "slim float (ONNX Runtime)":
                   lambda: sessions["slim float (ONNX Runtime)"].run(None, feed),
               "slim int8 (ONNX Runtime)":
                   lambda: sessions["slim int8 (ONNX Runtime)"].run(None, feed)}
    latency = compare_latency(runners, repeats=repeats, warmup=2)
    files = {"original float (eager)": "original.pth", "original float (ONNX Runtime)":
             "original.onnx", "slim float (eager)": "slim.pth",
             "slim float (TorchScript)": "slim.pt", "slim float (ONNX Runtime)": "slim.onnx",
             "slim int8 (ONNX Runtime)": "slim_int8.onnx"}
    rows = {name: {"file": files[name], "mb": round(paths[files[name]].stat().st_size / 1e6, 3),
                   "ms": round(latency[name]["median_s"] * 1e3, 2),
                   **quality.get(name, {"psnr_db": None, "ssim": None})} for name in VARIANTS}
    ms = {name: rows[name]["ms"] for name in VARIANTS}
    mb = {name: rows[name]["mb"] for name in VARIANTS}
    return {
        "case": case["name"], "budget": case["budget"], "image_size": size, "rows": rows,
        "parameters": {"original": sum(p.numel() for p in original.parameters()),
                       "slim": sum(p.numel() for p in slim.parameters())},
        "int8": {k: v for k, v in int8.as_dict().items() if k != "path"},
        "int8_settings": settings,
        "int8_to_slim_float": quality["slim int8 to slim float (ONNX Runtime)"],
        "ratios": {
            "original_onnx_mb / int8_mb": round(mb["original float (ONNX Runtime)"]
                                                / mb["slim int8 (ONNX Runtime)"], 2),
            "slim_onnx_ms / int8_ms": round(ms["slim float (ONNX Runtime)"]
                                            / ms["slim int8 (ONNX Runtime)"], 3),
            "original_onnx_ms / int8_ms": round(ms["original float (ONNX Runtime)"]
                                                / ms["slim int8 (ONNX Runtime)"], 3),
            "int8_loss_db": round(quality["slim float (ONNX Runtime)"]["psnr_db"]
                                  - quality["slim int8 (ONNX Runtime)"]["psnr_db"], 3)},
    }


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        lines.append(f"\n{r['case']} ({r['parameters']['slim']:,} of "
                     f"{r['parameters']['original']:,} parameters; latency at "
                     f"{r['image_size']} px, batch 1, one thread; quality to the original's "
                     f"output)")
        lines.append(f"{'variant':32s} {'MB':>8s} {'ms':>9s} {'PSNR dB':>8s} {'SSIM':>7s}")
        for name, row in r["rows"].items():
            psnr = "-" if row["psnr_db"] is None else f"{row['psnr_db']:.2f}"
            ssim = "-" if row["ssim"] is None else f"{row['ssim']:.3f}"
            lines.append(f"{name:32s} {row['mb']:8.2f} {row['ms']:9.1f} {psnr:>8s} {ssim:>7s}")
        ratio = r["ratios"]
        lines.append(f"int8 file {ratio['original_onnx_mb / int8_mb']:.1f}x smaller than the "
                     f"original's float ONNX; {ratio['slim_onnx_ms / int8_ms']:.2f}x the speed "
                     f"of the slim float ONNX; loses {ratio['int8_loss_db']:.2f} dB; int8 vs "
                     f"slim float {r['int8_to_slim_float']['psnr_db']:.1f} dB; integer kernels "
                     f"{r['int8']['kernels']['integer']}; float layers "
                     f"{len(r['int8']['float_layers'])}; kept in float "
                     f"{r['int8']['kept_float']}")
        lines.append(f"{'int8 setting':40s} {'dB to float':>11s} {'loses dB':>9s} {'MB':>6s}")
        for name, row in r["int8_settings"].items():
            lines.append(f"{name:40s} {row['to_float_psnr_db']:11.2f} {row['loss_db']:9.2f} "
                         f"{row['mb']:6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results/deploy.json", help="JSON file")
    parser.add_argument("--size", type=int, default=256, help="latency image size (px)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds")
    parser.add_argument("--teacher-steps", type=int, default=300,
                        help="distillation steps of the teacher's slim generators")
    parser.add_argument("--real-steps", type=int, default=600,
                        help="fine-tuning steps of the real generator's slim version")
    parser.add_argument("--weights", default=None,
                        help="the real generator's weights (default: the installed vintagify)")
    parser.add_argument("--skip-real", action="store_true", help="only the teacher cases")
    parser.add_argument("--quick", action="store_true", help="toy sizes (for the tests)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    size, repeats = (32, 2) if args.quick else (args.size, args.repeats)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = teacher_cases([0.25, 0.125], 5 if args.quick else args.teacher_steps, args.quick)
        for case in cases:
            results.append(measure(case, size, repeats, work))
        if not (args.skip_real or args.quick):
            from vintage_generator import MissingWeights
            try:
                case = real_case(0.25, args.real_steps, args.weights, work)
            except MissingWeights as exc:
                print(f"real generator skipped: {exc}")
            else:
                results.append(measure(case, size, repeats, work))
    report = {"machine": {"processor": platform.processor() or platform.machine(),
                          "cpus": os.cpu_count(), "torch": torch.__version__,
                          "onnxruntime": __import__("onnxruntime").__version__,
                          "threads": 1},
              "settings": {k: v for k, v in vars(args).items() if k != "out"},
              "results": results}
    print(table(results))
    atomic_write_json(args.out, report)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Quality figures of translations and the printed summary table of a compression run."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

import torch

from .domains import DomainData
from .imagerange import DEFAULT_RANGE, InputRange
from .metrics import HIGHER_IS_BETTER as OUTLINE_HIGHER_IS_BETTER
from .metrics import outline_scores
from .metrics.fidelity import fidelity_scores
from .metrics.judge import judge_scores, train_judge


def _judge_training_images(data: DomainData, n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data.train, tuple):
        return data.train[0][:n], data.train[1][:n]
    return data.val_a, data.val_b


def quality_report(data: DomainData, outputs: Mapping[str, Mapping[str, torch.Tensor]],
                   reference: str = "original", seed: int = 0, judge_steps: int = 300,
                   progress: bool = True) -> dict:
    """Quality of each set of translations ``outputs[name] = {"a2b": …, "b2a": …}`` on the
    test images: outline measures (synthetic data), the offline judge's scores (a classifier
    trained on real images of both domains), and fidelity (SSIM, PSNR) to ``reference``'s
    outputs. Every figure names its direction in ``directions``. Images and outputs are in
    ``data.input_range``; the measures see them mapped to [-1, 1], so they do not depend on
    it."""
    signed = data.input_range.to_signed
    if not data.input_range.is_default:
        outputs = {name: {k: signed(v) for k, v in out.items()} for name, out in outputs.items()}
        data = DomainData(data.train if not isinstance(data.train, tuple) else
                          (signed(data.train[0]), signed(data.train[1])),
                          signed(data.val_a), signed(data.val_b), signed(data.test_a),
                          signed(data.test_b), data.outlines_a, data.outlines_b, data.name)
    real_a, real_b = _judge_training_images(data)
    judge = train_judge(real_a, real_b, steps=judge_steps, seed=seed, progress=progress)
    report: dict = {"directions": {}}
    for name, out in outputs.items():
        entry: dict = {}
        if data.outlines_a is not None:
            entry["outline"] = outline_scores(out["a2b"], data.outlines_a, out["b2a"],
                                              cast(torch.Tensor, data.outlines_b))
        entry["judge_a2b"] = judge_scores(judge, out["a2b"], "B", data.test_b)
        entry["judge_b2a"] = judge_scores(judge, out["b2a"], "A", data.test_a)
        if name != reference:
            entry["fidelity_a2b"] = fidelity_scores(out["a2b"], outputs[reference]["a2b"])
            entry["fidelity_b2a"] = fidelity_scores(out["b2a"], outputs[reference]["b2a"])
        report[name] = entry
    report["directions"] = directions_of(report)
    return report


def single_quality_report(original_outputs: torch.Tensor, pruned_outputs: torch.Tensor,
                          direction: str = "a2b",
                          input_range: InputRange = DEFAULT_RANGE) -> dict:
    """Fidelity (SSIM, PSNR) of a pruned generator's outputs to the original's, one
    direction (``"a2b"``: on the source-domain test images; ``"b2a"`` for G_B of a pair);
    outputs in ``input_range``."""
    report = {"pruned": {f"fidelity_{direction}": fidelity_scores(
        pruned_outputs, original_outputs, input_range)}}
    report["directions"] = directions_of(report)
    return report


def format_single_summary(summary: dict) -> str:
    """A plain-text table of sizes, latency and fidelity of one generator of any
    architecture (``evaluate --generator``) against its original."""
    size = summary["image_size"]
    g = summary["generator"]
    o, p = g["sizes"]["original"], g["sizes"]["pruned"]
    lat = g["latency"][f"{size}px"]
    direction = summary.get("direction", "a2b")
    arrow = "A→B" if direction == "a2b" else "B→A"
    lines = [f"Compression of {summary['architecture']} on {summary['data']}, {arrow}"
             f"{'' if 'direction' in summary else ' only'}; "
             "MACs: transposed convs at output positions / real arithmetic.", ""]
    header = (f"{'':10} {'params':>10} {'ratio':>6} {'MACs out@' + str(size):>13} "
              f"{'MACs real@' + str(size):>14} {'ratio':>6} {'ms@' + str(size):>9}")
    lines += [header, "-" * len(header)]
    for label, s, ms in (("original", o, lat["original_ms"]), ("pruned", p, lat["pruned_ms"])):
        lines.append(f"{label:10} {s['parameters']:>10,} "
                     f"{o['parameters'] / s['parameters']:>5.2f}x "
                     f"{s[f'macs_output_{size}'] / 1e6:>12.2f}M "
                     f"{s[f'macs_real_{size}'] / 1e6:>13.2f}M "
                     f"{o[f'macs_output_{size}'] / s[f'macs_output_{size}']:>5.2f}x "
                     f"{ms:>9.2f}")
    quality = summary["quality"]
    fidelity = quality["pruned"][f"fidelity_{direction}"]
    ssim, psnr = format_value(fidelity["ssim"]), format_value(fidelity["psnr_db"], 2)
    lines += ["", f"{arrow} SSIM to original (higher better) {ssim}",
              f"{arrow} PSNR to original, dB (higher better) {psnr}"]
    if f"fid_{direction}" in quality["pruned"]:
        for name in ("original", "pruned"):
            fid = quality[name][f"fid_{direction}"]
            kid = f", KID {fid['kid_mean']:.4f} ± {fid['kid_std']:.4f}" if "kid_mean" in fid \
                else ""
            lines.append(f"{arrow} {name} to real target images (lower better): FID "
                         f"{format_value(fid['fid'], 2)}{kid}")
    return "\n".join(lines)


def directions_of(report: dict) -> dict:
    """``{"judge_a2b.judge_success": "higher is better", ...}`` from the metrics' own
    ``higher_is_better`` entries (removed from the figures themselves)."""
    directions = {}
    for name, entry in report.items():
        if name == "directions":
            continue
        for group, values in entry.items():
            flags = values.pop("higher_is_better", None)
            if group == "outline":
                flags = OUTLINE_HIGHER_IS_BETTER
            for key, higher in (flags or {}).items():
                directions[f"{group}.{key}"] = "higher is better" if higher \
                    else "lower is better"
    return directions


def format_value(value: object, digits: int = 3) -> str:
    """A report cell: ``-`` for None, ``inf``, a float to ``digits`` places, else str."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def quality_rows(quality: dict) -> list[tuple[str, str, str, int]]:
    """The rows of the quality table of a pair's :func:`quality_report`: ``(label, group,
    key, digits)``, the label saying which direction is better."""
    first = next(n for n in quality if n != "directions")
    rows = [("judge A→B success (higher better)", "judge_a2b", "judge_success"),
            ("judge A→B target prob. (higher better)", "judge_a2b", "judge_target_probability"),
            ("judge A→B Fréchet dist. (lower better)", "judge_a2b", "judge_frechet"),
            ("judge B→A success (higher better)", "judge_b2a", "judge_success"),
            ("judge B→A target prob. (higher better)", "judge_b2a", "judge_target_probability"),
            ("judge B→A Fréchet dist. (lower better)", "judge_b2a", "judge_frechet"),
            ("A→B SSIM to original (higher better)", "fidelity_a2b", "ssim"),
            ("B→A SSIM to original (higher better)", "fidelity_b2a", "ssim")]
    if "outline" in quality[first]:
        rows = [("stripes in horse A→B (higher better)", "outline", "a2b_stripe_share"),
                ("brown in zebra B→A (higher better)", "outline", "b2a_brown_share"), *rows]
    table = [(*row, 3) for row in rows]
    if "fid_a2b" in quality[first]:
        table += [("FID A→B to real B (lower better)", "fid_a2b", "fid", 2),
                  ("KID A→B to real B (lower better)", "fid_a2b", "kid_mean", 4),
                  ("FID B→A to real A (lower better)", "fid_b2a", "fid", 2),
                  ("KID B→A to real A (lower better)", "fid_b2a", "kid_mean", 4)]
    return table


def format_summary(summary: dict) -> str:
    """A plain-text table of sizes, latency and quality for the original and pruned
    generators of a run (``summary.json`` of ``examples/horse2zebra.py``)."""
    size = summary["image_size"]
    where = summary["data"] if f"{size}x{size}" in summary["data"] \
        else f"{summary['data']} ({size}x{size})"
    lines = [f"Compression of both generators on {where}; "
             "MACs: transposed convs at output positions / real arithmetic.", ""]
    at = "256" if all("256px" in g["latency"] for g in summary["generators"].values()) \
        else str(size)
    header = (f"{'':10} {'params':>10} {'ratio':>6} {'MACs out@256':>13} {'MACs real@256':>14} "
              f"{'ratio':>6} {'ms@' + str(size):>9} {'ms@256':>9} {'speed-up@' + at:>12}")
    lines += [header, "-" * len(header)]
    for name, g in summary["generators"].items():
        o, p = g["sizes"]["original"], g["sizes"]["pruned"]
        lat = g["latency"]
        small, big = lat.get(f"{size}px"), lat.get("256px")
        for label, s, which in (("orig", o, "original_ms"), ("pruned", p, "pruned_ms")):
            pruned = label == "pruned"
            speedup = lat[f"{at}px"]["speedup"]
            lines.append(
                f"{name + ' ' + label:10} {s['parameters']:>10,} "
                f"{(o['parameters'] / p['parameters']) if pruned else 1:>5.2f}x "
                f"{s['macs_output_256'] / 1e9:>12.2f}G {s['macs_real_256'] / 1e9:>13.2f}G "
                f"{(o['macs_output_256'] / p['macs_output_256']) if pruned else 1:>5.2f}x "
                f"{small[which]:>9.2f} {format_value(big[which] if big else None, 2):>9} "
                f"{(format_value(speedup, 2) + 'x') if pruned else '':>12}")
    lines.append("")
    quality = summary["quality"]
    names = [n for n in quality if n != "directions"]
    rows = quality_rows(quality)
    lines.append(f"{'quality':42}" + "".join(f"{n:>11}" for n in names))
    for label, group, key, digits in rows:
        values = [quality[n].get(group, {}).get(key) for n in names]
        lines.append(f"{label:42}" + "".join(f"{format_value(v, digits):>11}" for v in values))
    if "seconds" in summary:
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in summary.get("stage_seconds", {}).items())
        lines.append(f"\n{summary['seconds']:.0f} s in all" + (f" ({parts})" if parts else ""))
    return "\n".join(lines)

"""``report.md`` of a compression run: size, latency and quality tables, and the pictures."""
from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write
from ..report import format_value, quality_rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _data_name(evaluation: dict) -> str:
    size = evaluation["image_size"]
    name = evaluation["data"]
    return name if f"{size}x{size}" in name else f"{name} ({size}×{size})"


def _sizes(evaluation: dict) -> list[str]:
    size = evaluation["image_size"]
    generators = evaluation.get("generators") or {"G": evaluation["generator"]}
    rows, latency = [], []
    for name, g in generators.items():
        o, p = g["sizes"]["original"], g["sizes"]["pruned"]
        macs = f"macs_real_{size}"
        rows.append([name, f"{o['parameters']:,}", f"{p['parameters']:,}",
                     f"{o['parameters'] / p['parameters']:.2f}x", f"{o[macs] / 1e6:.1f}M",
                     f"{p[macs] / 1e6:.1f}M", f"{o[macs] / p[macs]:.2f}x"])
        lat = g["latency"][f"{size}px"]
        latency.append([name, f"{lat['original_ms']:.2f}", f"{lat['pruned_ms']:.2f}",
                        f"{lat['speedup']:.2f}x"])
    return ["## Size", "",
            *_table(["generator", "parameters", "slim", "ratio", f"MACs@{size}", "slim",
                     "ratio"], rows),
            "", f"## Latency ({evaluation['device']}, {size}×{size}, batch 1, median of "
                "runs interleaved)", "",
            *_table(["generator", "original ms", "slim ms", "speed-up"], latency)]


def _quality(evaluation: dict) -> list[str]:
    quality = evaluation["quality"]
    names = [n for n in quality if n != "directions"]
    if "generator" in evaluation:  # one generator: fidelity to the original
        fid = quality["pruned"]["fidelity_a2b"]
        rows = [["SSIM to the original (higher better)", format_value(fid["ssim"])],
                ["PSNR to the original, dB (higher better)", format_value(fid["psnr_db"], 2)]]
        return ["## Quality (A→B, slim after fine-tuning)", "",
                *_table(["measure", "slim"], rows)]
    rows = [[label] + [format_value(quality[n].get(group, {}).get(key), digits) for n in names]
            for label, group, key, digits in quality_rows(quality)]
    return ["## Quality", "", "\"searched\": straight after slimming; \"pruned\": after "
            "fine-tuning.", "", *_table(["measure", *names], rows)]


def write_report(out: Path, config: dict) -> Path:
    """Write ``out/report.md`` from the run folder's ``evaluation.json``, ``export/export.json``
    and ``masks.json``, linking the pictures that exist."""
    evaluation = json.loads((out / "evaluation.json").read_text())
    lines = ["# Compression report", "",
             f"Data: {_data_name(evaluation)}; model: "
             f"{config.get('generator') or config.get('checkpoints') or 'the shipped teacher'}; "
             + ("front search" + (f" within size {config['size_target']}"
                                  if config.get("size_target") else ", chosen point")
                if config.get("front") else
                f"speed-up {config['speedup']:g}x on {config.get('runtime', 'onnx')}"
                if config.get("speedup") else f"budget {config['budget']}")
             + f"; seed {config['seed']}.", ""]
    lines += [*_sizes(evaluation), "", *_quality(evaluation), ""]
    export = out / "export" / "export.json"
    if export.is_file():
        record = json.loads(export.read_text())
        rows = []
        for name, entry in record["generators"].items():
            for fmt, info in entry.items():
                diff = (f"{info['max_abs_diff']:.2g}" if "max_abs_diff" in info else
                        f"{info['check']['to_float']['psnr_db']:.1f} dB to float")
                rows.append([name, fmt, f"export/{info['file']}", f"{info['bytes'] / 1e6:.2f}",
                             diff])
        lines += ["## Exported files", "", *_table(
            ["generator", "format", "file", "MB", "max. abs. difference to PyTorch"], rows), ""]
    progress = ("Quality score and sizes of the front search against generation"
                if (out / "front.png").is_file() else
                "Fitness and size of the best against generation")
    pictures = [("fitness.png", progress),
                ("front.png", "The Pareto front of quality and size, the chosen pair starred"),
                ("kept_channels.png", "Channels kept per group (original width behind)"),
                ("samples.png", "Input, original and slim translations")]
    lines += ["## Pictures", ""]
    for name, caption in pictures:
        if (out / name).is_file():
            lines += [f"{caption}:", "", f"![{caption}]({name})", ""]
    path = out / "report.md"
    text = "\n".join(lines)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path

"""The upstream pair's fine-tuning on the default example: upstream's L1 distillation against
the default terms (L1, SSIM and feature distillation on the kept channels).

Runs ``examples/horse2zebra.py`` (the shipped teacher, the embedded synthetic data, seed
``--seed``, the default search, 450 fine-tuning steps) once per ``--distill-terms``; the
search is the same in both (same seed, same machine), so the runs differ in the fine-tuning's
distillation terms only. Prints the example's quality measures side by side (the outline
measures, the offline judge, SSIM to the original) with the fine-tuning seconds, and writes
JSON. Each run's folder is kept under ``--work`` and read back when its ``summary.json`` is
there.

    OMP_NUM_THREADS=1 python benchmarks/pair_recipes.py --work runs/pair_recipes

``--quick``: the example's toy run (the test suite).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import horse2zebra

from deap_gan_prune.files import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]

TERMS = ("l1", "default")


def run(terms: str, folder: Path, seed: int, quick: bool) -> dict:
    """The example's summary with ``--distill-terms terms`` (run unless already there)."""
    summary = folder / "summary.json"
    if not summary.is_file():
        argv = ["--distill-terms", terms, "--seed", str(seed), "--out", str(folder), "--quiet"]
        if horse2zebra.main([*argv, *(["--quick"] if quick else [])]) != 0:
            raise RuntimeError(f"horse2zebra --distill-terms {terms} failed")
    return json.loads(summary.read_text())


def table(summaries: dict[str, dict]) -> list[dict]:
    """One row per quality measure (and its direction): the original's value and each run's
    pruned generators' value; then the fine-tuning seconds."""
    def value(quality: dict, variant: str, key: str) -> float | None:
        group, _, measure = key.partition(".")
        return quality.get(variant, {}).get(group, {}).get(measure)

    first = next(iter(summaries.values()))["quality"]
    rows = [{"measure": key, "direction": direction,
             "original": value(first, "original", key),
             **{t: value(s["quality"], "pruned", key) for t, s in summaries.items()}}
            for key, direction in first["directions"].items()]
    rows.append({"measure": "fine-tuning seconds", "direction": "lower is better",
                 "original": None,
                 **{t: s["stage_seconds"]["fine-tuning"] for t, s in summaries.items()}})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default=str(ROOT / "runs" / "pair_recipes"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pair_recipes.json"))
    a = p.parse_args(argv)
    summaries = {t: run(t, Path(a.work) / f"{t}_s{a.seed}", a.seed, a.quick) for t in TERMS}
    rows = table(summaries)
    atomic_write_json(a.out, {"benchmark": "pair_recipes", "seed": a.seed, "quick": a.quick,
                              "threads": torch.get_num_threads(), "rows": rows,
                              "summaries": summaries})
    def shown(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    print(f"{'measure':<36} {'original':>9} " + " ".join(f"{t:>9}" for t in TERMS))
    for r in rows:
        print(f"{r['measure']:<36} {shown(r['original']):>9} "
              + " ".join(f"{shown(r[t]):>9}" for t in TERMS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Golden runs: masks, fitness values and slim-weight hashes of fixed searches, taken on main
before the library's redesign and compared by ``tests/test_golden.py``, so that a refactor that
changes any of them is seen.

    python tests/golden_runs.py --write          # (re)capture every file in tests/golden/
    python tests/golden_runs.py --write front    # one of them

Each run returns a plain JSON record: the masks as 0/1 strings, the numbers the search logged
(fitness, scores, sizes; no timings) and the sha256 of the slimmed generators' state dicts.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch

GOLDEN = Path(__file__).with_name("golden")

#: logbook fields that measure time, not results
_TIMING = ("time", "seconds", "elapsed")


def _bits(mask) -> str:
    return "".join(str(int(b)) for b in mask)


def _numbers(records: list[dict]) -> list[dict]:
    """Logbook records without timings."""
    def keep(d):
        return {k: (keep(v) if isinstance(v, dict) else v) for k, v in d.items()
                if not any(t in k for t in _TIMING)}
    return [keep(r) for r in records]


def default_example() -> dict:
    """``examples/horse2zebra.py``'s default search (population 12, 8 generations, adapted
    fitness, 4x budget) on the shipped teacher and the embedded data, and its slimmed
    generators before fine-tuning."""
    from deap_gan_prune.evolution.search import SearchConfig, search_masks
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.slimming import slim
    from deap_gan_prune.teacher import load_teacher
    from deap_gan_prune.workflow import synthetic_data
    torch.manual_seed(0)
    gan = load_teacher()
    config = SearchConfig(n_images=16, train_images=32, seed=0)
    data = synthetic_data(512, 64, size=64, seed=0, n_val=48)
    result = search_masks(gan.g_a, gan.g_b, gan.d_a, gan.d_b, data.val_a, data.val_b, config,
                          progress=False)
    mask_a, mask_b = result.slot_masks()
    d = result.to_dict()
    return {"masks": {k: _bits(v) for k, v in d["masks"].items()},
            "logbook": _numbers(d["logbook"]),
            "slim": models_hash(slim(gan.g_a, mask_a), slim(gan.g_b, mask_b))}


def quick_example(tmp: Path) -> dict:
    """``examples/horse2zebra.py --quick`` end to end: its masks and fine-tuned slim files."""
    import runpy
    out = tmp / "quick"
    argv = sys.argv
    sys.argv = ["horse2zebra.py", "--quick", "--quiet", "--out", str(out)]
    try:
        runpy.run_path(str(Path(__file__).parents[1] / "examples" / "horse2zebra.py"),
                       run_name="not_main")["main"]()
    finally:
        sys.argv = argv
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.checkpoints import load_generator
    masks = json.loads((out / "masks.json").read_text())
    nets = [load_generator(out / f"slim_{n}.pth") for n in ("G_A", "G_B")]
    return {"masks": {k: _bits(v) for k, v in masks["masks"].items()},
            "logbook": _numbers(masks["logbook"]), "slim": models_hash(*nets)}


def custom_pipeline(tmp: Path) -> dict:
    """``examples/custom_pipeline.py`` at toy size: its best mask's slim file."""
    import runpy

    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.checkpoints import load_generator
    out = tmp / "custom"
    main = runpy.run_path(str(Path(__file__).parents[1] / "examples" / "custom_pipeline.py"),
                          run_name="not_main")["main"]
    import contextlib
    import io
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        main(["--generations", "2", "--mu", "4", "--lambda", "6", "--out", str(out)])
    best = [line for line in printed.getvalue().splitlines() if line.startswith("best:")]
    return {"best": best[0].split("; wrote")[0],
            "slim": models_hash(load_generator(out / "custom_G_A.pth"))}


def _toy_pair():
    from deap_gan_prune.nets.models import ResnetGenerator
    torch.manual_seed(0)
    nets = (ResnetGenerator(ngf=4, n_blocks=2), ResnetGenerator(ngf=4, n_blocks=2))
    images = (torch.rand(8, 3, 32, 32) * 2 - 1, torch.rand(8, 3, 32, 32) * 2 - 1)
    return nets, images


def toy_front() -> dict:
    """A toy ``search_front`` (population 8, 3 generations) on two random ngf-4 ResNets."""
    from deap_gan_prune.evolution.front import FrontConfig, search_front
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.slimming import slim
    nets, images = _toy_pair()
    config = FrontConfig(population=8, generations=3, n_images=4, train_images=4,
                         adapt_steps=2, seed=3)
    result = search_front(*nets, *images, config, progress=False)
    d = result.to_dict()
    points = [{k: (_bits(v) if k in ("A", "B") else v) for k, v in p.items()}
              for p in d["points"]]
    a, b = result.masks()
    space_a, space_b = result.spaces
    return {"points": points, "chosen": d["chosen"], "logbook": _numbers(d["logbook"]),
            "slim": models_hash(slim(nets[0], space_a.slot_masks(a)),
                                slim(nets[1], space_b.slot_masks(b)))}


def _single(config) -> dict:
    from deap_gan_prune.evolution.single_search import search_single
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.slimming import slim_bits
    nets, images = _toy_pair()
    result = search_single(nets[0], images[0], config, progress=False)
    d = result.to_dict()
    return {"mask": _bits(result.mask), "terms": d["terms"]["A"],
            "logbook": _numbers(d["logbook"]),
            "halloffame": [[_bits(h["A"]), h["score"]] for h in d["halloffame"]],
            "finalists": [[_bits(h["A"]), h["score"]] for h in d["finalists"]],
            "slim": models_hash(slim_bits(nets[0], result.space, result.mask))}


def toy_single() -> dict:
    """A toy ``search_single`` of one random ngf-4 ResNet, channel variation, 0.6 budget."""
    from deap_gan_prune.evolution.search_config import SearchConfig
    return _single(SearchConfig(population=4, generations=3, adapt_steps=2, n_images=4,
                                train_images=4, budget=0.6, seed=1))


def toy_single_widths() -> dict:
    """The same with the width search (``SearchConfig.widths``) and two finalists."""
    from deap_gan_prune.evolution.search_config import SearchConfig
    return _single(SearchConfig.widths(population=4, generations=3, adapt_steps=2,
                                       n_images=4, train_images=4, budget=0.3, seed=1,
                                       finalists=2, finalist_steps=3))


RUNS: dict[str, Callable[..., dict]] = {
    "default_example": default_example, "quick_example": quick_example,
    "custom_pipeline": custom_pipeline, "toy_front": toy_front, "toy_single": toy_single,
    "toy_single_widths": toy_single_widths}


def run(name: str, tmp: Path) -> dict:
    func = RUNS[name]
    return func(tmp) if name in ("quick_example", "custom_pipeline") else func()


#: keys renamed since the files were taken (old -> new): compared under their new names
RENAMED = {"size": "size_ratio", "best_size": "best_size_ratio"}


def renamed(record):
    """``record`` with the keys of :data:`RENAMED` under their new names, at any depth."""
    if isinstance(record, dict):
        return {RENAMED.get(k, k): renamed(v) for k, v in record.items()}
    if isinstance(record, list):
        return [renamed(v) for v in record]
    return record


def differences(expected, actual, where: str = "", rel: float = 1e-6) -> list[str]:
    """Where ``actual`` differs from ``expected`` (the golden record, its keys
    :func:`renamed`): strings and ints exactly, floats to ``rel`` (relative, 1e-12
    absolute)."""
    if not where:
        expected = renamed(expected)
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return [f"{where}: keys {sorted(set(expected) ^ set(actual))} differ"]
        return [d for k in expected for d in differences(expected[k], actual[k],
                                                         f"{where}.{k}", rel)]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} items expected, got {len(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual))
                for d in differences(e, a, f"{where}[{i}]", rel)]
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and \
                math.isclose(expected, actual, rel_tol=rel, abs_tol=1e-12):
            return []
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]


if __name__ == "__main__":
    import tempfile
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="write the files (else compare)")
    p.add_argument("names", nargs="*", default=list(RUNS))
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).parents[1]))
    GOLDEN.mkdir(exist_ok=True)
    failed = 0
    for name in args.names:
        with tempfile.TemporaryDirectory() as tmp:
            record = json.loads(json.dumps(run(name, Path(tmp))))
        path = GOLDEN / f"{name}.json"
        if args.write:
            path.write_text(json.dumps(record, indent=1) + "\n")
            print(f"wrote {path}")
        else:
            diff = differences(json.loads(path.read_text()), record)
            failed += bool(diff)
            print(f"{name}: {'same' if not diff else diff[:5]}")
    raise SystemExit(1 if failed else 0)

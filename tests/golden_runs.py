"""Golden runs: masks, fitness values and slim-weight hashes of fixed searches, taken on main
before the library's redesign and compared by ``tests/test_golden.py``, so that a refactor that
changes any of them is seen.

    python tests/golden_runs.py --write          # (re)capture every file in tests/golden/
    python tests/golden_runs.py --write front    # one of them

Each run returns a plain JSON record: the masks as 0/1 strings, the numbers the search logged
(fitness, scores, sizes; no timings) and the sha256 of the slimmed generators' state dicts,
and checks its invariants itself (every mask valid and within its budget, each slim network
as large as its mask space says).

Floats depend on the CPU's kernels (SIMD width, fused multiply-adds, summation order), and a
GA's choice between near-equal candidates follows them. So the files are compared exactly
(:func:`differences`) only on a machine whose :func:`fingerprint` equals the one recorded in
``golden/machine.json`` when they were taken; on any other machine :func:`portable_differences`
compares what holds everywhere: the records' shape, the mask lengths, and the first
generation's numbers (a seeded population, before any selection) within
:data:`CROSS_CPU_REL`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import torch

GOLDEN = Path(__file__).with_name("golden")

#: logbook fields that measure time, not results
_TIMING = ("time", "seconds", "elapsed")

#: the relative tolerance of a float computed by another CPU's kernels (AVX-512 against
#: default kernels: up to 1e-4 in the first generation's fitness values)
CROSS_CPU_REL = 1e-3

MACHINE = GOLDEN / "machine.json"


def fingerprint() -> dict:
    """What decides this machine's floats: the torch version, the SIMD kernels torch chose
    (``ATEN_CPU_CAPABILITY`` overrides them) and the sha256 of a canary, a few training steps
    of a tiny ResNet generator on one thread (convolutions, transposed convolutions, instance
    norm, Adam)."""
    from deap_gan_prune.nets.models import ResnetGenerator
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # a training step's sums follow the thread count
        torch.manual_seed(0)
        net = ResnetGenerator(ngf=4, n_blocks=1)
        images = torch.rand(2, 3, 16, 16) * 2 - 1
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(3):
            optimizer.zero_grad()
            loss = (net(images) - images).abs().mean()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            canary = net(images).numpy().tobytes()
    finally:
        torch.random.set_rng_state(state)
        torch.set_num_threads(threads)
    return {"torch": torch.__version__.split("+")[0],
            "capability": torch.backends.cpu.get_cpu_capability(),
            "canary": hashlib.sha256(canary).hexdigest()}


def same_machine() -> bool:
    """True when this machine computes the floats the golden files were taken with."""
    return MACHINE.is_file() and json.loads(MACHINE.read_text()) == fingerprint()


def _check_masks(spaces, masks, budget: float | None, measures=("parameters", "macs"),
                 nets=()) -> None:
    """Every mask valid and within ``budget`` in each of ``measures``; each of ``nets`` (the
    slim networks) has the parameters its space counts for its mask."""
    for i, (space, bits) in enumerate(zip(spaces, masks)):
        assert space.is_valid(bits), f"mask {i} leaves a group empty"
        for measure in measures if budget is not None else ():
            ratio = space.size_ratio(bits, measure)
            assert ratio <= budget + 1e-9, f"mask {i}: {measure} ratio {ratio} > {budget}"
    for i, (space, bits, net) in enumerate(zip(spaces, masks, nets)):
        counted = sum(p.numel() for p in net.parameters())
        assert counted == space.size(bits), f"slim network {i}: {counted} parameters, " \
            f"its space counts {space.size(bits)}"


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
    from deap_gan_prune import RunOptions, SearchConfig, Task, search
    from deap_gan_prune.domains import synthetic_data
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.slimming import slim
    from deap_gan_prune.teacher import load_teacher
    torch.manual_seed(0)
    gan = load_teacher()
    config = SearchConfig(n_images=16, adapt_images=32, seed=0)
    data = synthetic_data(512, 64, size=64, seed=0, n_val=48)
    task = Task.pair(gan.g_a, gan.g_b, data.val_a, data.val_b,
                     discriminators={"A": gan.d_a, "B": gan.d_b})
    result = search(task, config, RunOptions(progress=False))
    nets = tuple(slim(g, result.masks[n], result.spaces[n])
                 for n, g in (("A", gan.g_a), ("B", gan.g_b)))
    _check_masks(list(result.spaces.values()), list(result.masks.values()), config.budget,
                 config.budget_measures, nets)
    d = result.to_dict()
    return {"masks": {k: _bits(v) for k, v in d["masks"].items()},
            "logbook": _numbers(d["logbook"]), "slim": models_hash(*nets)}


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
    from deap_gan_prune.core.maskspace import MaskSpace
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.checkpoints import load_generator
    masks = json.loads((out / "masks.json").read_text())
    nets = [load_generator(out / f"slim_{n}.pth") for n in ("G_A", "G_B")]
    _check_masks([MaskSpace.from_dict(masks["spaces"][k]) for k in "AB"],
                 [masks["masks"][k] for k in "AB"], masks["config"]["budget"],
                 masks["config"]["budget_measures"], nets)
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
    net = load_generator(out / "custom_G_A.pth")
    kept, total = (int(n.replace(",", "")) for n in
                   re.search(r"([\d,]+) of ([\d,]+) parameters", best[0]).groups())
    assert kept <= 0.25 * total, best[0]
    assert kept == sum(p.numel() for p in net.parameters()), best[0]
    return {"best": best[0].split("; wrote")[0], "slim": models_hash(net)}


def _toy_pair():
    from deap_gan_prune.nets.models import ResnetGenerator
    torch.manual_seed(0)
    nets = (ResnetGenerator(ngf=4, n_blocks=2), ResnetGenerator(ngf=4, n_blocks=2))
    images = (torch.rand(8, 3, 32, 32) * 2 - 1, torch.rand(8, 3, 32, 32) * 2 - 1)
    return nets, images


def toy_front() -> dict:
    """A toy front search (population 8, 3 generations) on two random ngf-4 ResNets."""
    from deap_gan_prune import FrontConfig, RunOptions, Task, search
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.slimming import slim
    nets, images = _toy_pair()
    config = FrontConfig(population=8, generations=3, n_images=4, adapt_images=4,
                         adapt_steps=2, seed=3)
    result = search(Task.pair(*nets, *images), config, RunOptions(progress=False))
    d = result.to_dict()
    points = [{k: (_bits(v) if k in ("A", "B") else v) for k, v in p.items()}
              for p in d["points"]]
    masks, spaces = result.masks(), result.spaces
    slims = tuple(slim(net, masks[n], spaces[n]) for n, net in zip("AB", nets))
    _check_masks(list(spaces.values()), list(masks.values()), None, nets=slims)
    for p in d["points"]:  # every point's sizes are its masks' sizes
        for k, space in spaces.items():
            assert math.isclose(p["terms"][k]["parameters"], space.size_ratio(p[k]))
    return {"points": points, "chosen": d["chosen"], "logbook": _numbers(d["logbook"]),
            "slim": models_hash(*slims)}


def _single(config) -> dict:
    from deap_gan_prune import RunOptions, Task, search
    from deap_gan_prune.files import models_hash
    from deap_gan_prune.nets.slimming import slim
    nets, images = _toy_pair()
    result = search(Task({"A": nets[0]}, {"A": images[0]}), config, RunOptions(progress=False))
    mask, space = result.masks["A"], result.spaces["A"]
    net = slim(nets[0], mask, space)
    _check_masks([space], [mask], config.budget, config.budget_measures, [net])
    scored = result.finalists or result.halloffame  # the best mask's fitness, recomputed:
    assert math.isclose(result.terms["A"]["fitness"], scored[0]["score"],
                        rel_tol=CROSS_CPU_REL)
    d = result.to_dict()
    return {"mask": _bits(mask), "terms": d["terms"]["A"],
            "logbook": _numbers(d["logbook"]),
            "halloffame": [[_bits(h["A"]), h["score"]] for h in d["halloffame"]],
            "finalists": [[_bits(h["A"]), h["score"]] for h in d["finalists"]],
            "slim": models_hash(net)}


def toy_single() -> dict:
    """A toy search of one random ngf-4 ResNet, channel variation, 0.6 budget."""
    from deap_gan_prune.evolution.search_config import SearchConfig
    return _single(SearchConfig(population=4, generations=3, adapt_steps=2, n_images=4,
                                adapt_images=4, budget=0.6, seed=1))


def toy_single_widths() -> dict:
    """The same with the width search (``SearchConfig.widths``) and two finalists."""
    from deap_gan_prune.evolution.search_config import SearchConfig
    return _single(SearchConfig.widths(population=4, generations=3, adapt_steps=2,
                                       n_images=4, adapt_images=4, budget=0.3, seed=1,
                                       finalists=2, finalist_steps=3))


RUNS: dict[str, Callable[..., dict]] = {
    "default_example": default_example, "quick_example": quick_example,
    "custom_pipeline": custom_pipeline, "toy_front": toy_front, "toy_single": toy_single,
    "toy_single_widths": toy_single_widths}


def run(name: str, tmp: Path) -> dict:
    func = RUNS[name]
    return func(tmp) if name in ("quick_example", "custom_pipeline") else func()


def differences(expected, actual, where: str = "", rel: float = 1e-6) -> list[str]:
    """Where ``actual`` differs from ``expected`` (the golden record): strings and ints
    exactly, floats to ``rel`` (relative, 1e-12 absolute)."""
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


_MASK = re.compile(r"[01]{8,}")
_HASH = re.compile(r"[0-9a-f]{64}")
#: lists whose length is a discrete outcome (how many pairs are non-dominated)
_FREE_LENGTH = (".points",)
#: ints that count work, not outcomes: the same on every machine
_COUNTS = ("gen", "nevals")


def portable_differences(expected, actual, where: str = "") -> list[str]:
    """What must hold on any CPU (module docstring): the same keys and list lengths, masks of
    the same length, hashes and counts where they were, other strings equal but for their
    numbers, finite floats, and the first generation's floats within :data:`CROSS_CPU_REL`."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return [f"{where}: keys {sorted(set(expected) ^ set(actual))} differ"]
        return [d for k in expected
                for d in portable_differences(expected[k], actual[k], f"{where}.{k}")]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            if where.endswith(_FREE_LENGTH) and actual:
                return [d for a in actual for d in portable_differences(expected[0], a, where)]
            return [f"{where}: {len(expected)} items expected, got {len(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual))
                for d in portable_differences(e, a, f"{where}[{i}]")]
    if isinstance(expected, str) and isinstance(actual, str):
        for pattern in (_MASK, _HASH):
            if pattern.fullmatch(expected):
                return [] if pattern.fullmatch(actual) and len(actual) == len(expected) \
                    else [f"{where}: expected a string like {expected!r}, got {actual!r}"]
        number = re.compile(r"\d[\d,.]*")
        return [] if number.sub("#", expected) == number.sub("#", actual) \
            else [f"{where}: expected {expected!r} but for its numbers, got {actual!r}"]
    if isinstance(expected, bool) or isinstance(actual, bool) or \
            not isinstance(expected, (int, float)) or not isinstance(actual, (int, float)):
        return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]
    if isinstance(expected, int) and isinstance(actual, int):
        exact = where.rsplit(".", 1)[-1] in _COUNTS
        return [f"{where}: expected {expected}, got {actual}"] if exact and expected != actual \
            else []
    if not math.isfinite(actual):
        return [f"{where}: expected a finite number, got {actual!r}"]
    if where.startswith(".logbook[0]") and not math.isclose(expected, actual,
                                                           rel_tol=CROSS_CPU_REL):
        return [f"{where}: expected {expected!r} within {CROSS_CPU_REL:g} relative, "
                f"got {actual!r}"]
    return []


def compare(expected, actual) -> tuple[str, list[str]]:
    """``("exact", differences)`` on the machine that took the files, else ``("portable",
    portable_differences)``."""
    if same_machine():
        return "exact", differences(expected, actual)
    return "portable", portable_differences(expected, actual)


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
            mode, diff = compare(json.loads(path.read_text()), record)
            failed += bool(diff)
            print(f"{name} ({mode}): {'same' if not diff else diff[:5]}")
    if args.write:
        MACHINE.write_text(json.dumps(fingerprint(), indent=1) + "\n")
        print(f"wrote {MACHINE}")
    raise SystemExit(1 if failed else 0)

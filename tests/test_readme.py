"""The API tour (``docs/tour.md``, linked from the README) runs as written, and every name of
the glossary (``docs/glossary.md``) exists. The other blocks of the README and of ``docs/``
run in ``tests/test_docs.py``."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "docs" / "tour.md"
GLOSSARY = ROOT / "docs" / "glossary.md"


@pytest.mark.slow
def test_api_tour_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", TOUR.read_text(), flags=re.S)
    tour = next(b for b in blocks if "load_teacher()" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(tour, "docs/tour.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip() == "544"
    assert (tmp_path / "slim_G_A.pth").is_file()
    assert (tmp_path / "fitness.png").is_file()


def test_every_name_in_the_glossary_exists():
    import deap_gan_prune as dgp
    from deap_gan_prune.evolution import skeleton
    glossary = GLOSSARY.read_text().split("# Glossary", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", glossary))
    calls = {n for n in names if n[0].isupper() or (n.startswith(
        ("init", "sel", "cx", "mut", "repair", "ea", "iter", "search", "slim", "masked",
         "train", "space_of", "finetune")) and n != "select")}
    calls -= {"MaskSpace"}  # checked below with its methods
    homes = (dgp, dgp.core, dgp.operators, dgp.evolution, dgp.nets, dgp.fitness, skeleton)
    missing = [n for n in sorted(calls) if not any(hasattr(home, n) for home in homes)
               and n != "finetune"]
    assert not missing, f"glossary names missing from the package: {missing}"
    from deap_gan_prune.fitness import BriefDistillation, Distillation
    from deap_gan_prune.training import finetune
    assert Distillation
    assert BriefDistillation
    assert finetune
    for method in ("split", "join", "member_masks", "kept", "size", "size_ratio"):
        assert hasattr(dgp.MaskSpace, method), method
    for word in ("SearchConfig.seed_uniform", "FrontConfig.uniform_seeds", "`survivors`",
                 "`budget_measures`"):
        assert word in glossary, word
    assert hasattr(dgp.FrontConfig(), "uniform_seeds")
    assert hasattr(dgp.SearchConfig(),
                                                                    "budget_measures")

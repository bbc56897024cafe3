"""The README's API tour runs as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_api_tour_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    tour = next(b for b in blocks if "load_teacher()" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(tour, "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip() == "544"
    assert (tmp_path / "slim_G_A.pth").is_file() and (tmp_path / "fitness.png").is_file()


def test_every_name_in_the_glossary_exists():
    import deap_gan_prune as dgp
    from deap_gan_prune.evolution import skeleton
    text = README.read_text()
    glossary = text.split("## Glossary", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", glossary))
    calls = {n for n in names if n[0].isupper() or n.startswith(
        ("init", "sel", "cx", "mut", "repair", "ea", "iter", "search", "slim", "masked",
         "train", "space_of", "finetune")) and n != "select"}
    calls -= {"MaskSpace"}  # checked below with its methods
    homes = (dgp, dgp.operators, dgp.evolution, dgp.nets, dgp.fitness, skeleton)
    missing = [n for n in sorted(calls) if not any(hasattr(home, n) for home in homes)
               and n not in ("Distillation", "BriefDistillation", "finetune")]
    assert not missing, f"glossary names missing from the package: {missing}"
    from deap_gan_prune.fitness import Distillation
    from deap_gan_prune.training import BriefDistillation, finetune
    assert Distillation and BriefDistillation and finetune
    for method in ("split", "join", "slot_masks", "kept", "size", "size_ratio"):
        assert hasattr(dgp.MaskSpace, method), method
    for word in ("SearchConfig.seed_uniform", "FrontConfig.uniform_seeds", "`survivors`",
                 "`budget_measures`"):
        assert word in glossary, word
    assert hasattr(dgp.FrontConfig(), "uniform_seeds") and hasattr(dgp.SearchConfig(),
                                                                    "budget_measures")

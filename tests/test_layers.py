"""The package's layers (docs/architecture.md): a module imports only from its own layer and
the layers below it, whether the import is at the top of the file or inside a function."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "deap_gan_prune"

#: bottom to top; each entry: the layer's name and its top-level modules or subpackages
LAYERS = [
    ("cross-cutting", {"_lazy", "_version", "imagerange", "files", "outputs", "seeding",
                       "devices", "runoptions", "configs", "data", "synthetic", "streams",
                       "domains"}),
    ("mask space", {"core"}),
    ("operators", {"operators"}),
    ("networks and measures", {"nets", "export", "quantization", "metrics", "teacher"}),
    ("fitness", {"fitness"}),
    ("evolution", {"evolution"}),
    ("training", {"training", "generator_reports"}),
    ("reports and runs", {"report", "plotting", "translate", "compression"}),
    ("command line", {"cli", "__main__"}),
]
LEVEL = {top: i for i, (_, tops) in enumerate(LAYERS) for top in tops}


def _top(module: str) -> str:
    """``deap_gan_prune.nets.slimming`` → ``nets``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path, root: Path = PACKAGE.parent) -> list[tuple[str, int]]:
    """The package modules ``path`` (under ``root``) imports, as absolute names, with their
    line numbers."""
    package = list(path.with_suffix("").relative_to(root).parts)[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            found += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "deap_gan_prune"):
            found.append((str(node.module), node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names
                      if a.name.startswith("deap_gan_prune")]
    return found


def test_every_module_has_a_layer():
    tops = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
            if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()}
    assert tops <= set(LEVEL), f"modules without a layer: {sorted(tops - set(LEVEL))}"


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py")
                                        if p != PACKAGE / "__init__.py"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_no_higher_layer(path):
    """The root ``__init__`` (the lazy table of the user's names) is the one exception."""
    own = _top(".".join(path.with_suffix("").relative_to(PACKAGE.parent).parts))
    upward = [f"line {line}: {name} ({LAYERS[LEVEL[_top(name)]][0]})"
              for name, line in _imports(path)
              if _top(name) in LEVEL and LEVEL[_top(name)] > LEVEL[own]]
    assert not upward, f"{path.name} ({LAYERS[LEVEL[own]][0]}) imports upward: {upward}"


def test_the_check_sees_an_upward_import_inside_a_function(tmp_path):
    fake = tmp_path / "deap_gan_prune" / "fitness" / "x.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from ..evolution.search import search\n")
    ((name, line),) = _imports(fake, tmp_path)
    assert (name, line) == ("deap_gan_prune.evolution.search", 2)
    assert LEVEL[_top(name)] > LEVEL["fitness"]

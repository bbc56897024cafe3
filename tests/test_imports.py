"""The package root and ``nets`` load their submodules lazily (PEP 562): importing the package
costs little and changes nothing global, and every public name is still importable from it."""
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import deap_gan_prune

PACKAGE = Path(deap_gan_prune.__file__).parent


def run_fresh(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_the_package_loads_nothing_heavy():
    run_fresh(
        "import sys\n"
        "import deap_gan_prune\n"
        "assert deap_gan_prune.__version__\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('torch', 'numpy', 'matplotlib', 'deap'))\n"
        "assert not heavy, heavy\n"
        "ours = sorted(m for m in sys.modules if m.startswith('deap_gan_prune.'))\n"
        "assert ours == ['deap_gan_prune._lazy', 'deap_gan_prune._version'], ours\n")


def test_the_mask_space_and_the_operators_load_no_torch():
    """The pure core (``deap_gan_prune.core``: the mask space, the widths, the weight-blind
    baselines) and the operators import no torch, nor the torch side (tracing is in
    ``nets.groups``); a space read from its file works without it."""
    run_fresh(
        "import sys\n"
        "import deap_gan_prune.core.maskspace as maskspace\n"
        "import deap_gan_prune.core.widths\n"
        "import deap_gan_prune.operators as ops\n"
        "from deap_gan_prune.core.widths import GeneratorWidths\n"
        "saved = {'widths': GeneratorWidths.default(4, 2).to_dict(), 'layout': 'tied',\n"
        "         'min_keep': {}}\n"
        "space = maskspace.MaskSpace.from_dict(saved)\n"
        "ind = space.full()\n"
        "ops.repairBudget(ind, space, 0.5)\n"
        "assert space.size_ratio(ind) <= 0.5 and space.widths_of(ind).first >= 1\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] == 'torch')\n"
        "assert not heavy, heavy\n"
        "assert not [m for m in sys.modules if m.startswith('deap_gan_prune.nets')]\n"
        "ours = sorted(m for m in sys.modules if m.startswith('deap_gan_prune.core'))\n"
        "assert ours == ['deap_gan_prune.core', 'deap_gan_prune.core.baselines',\n"
        "                'deap_gan_prune.core.maskspace', 'deap_gan_prune.core.terms',\n"
        "                'deap_gan_prune.core.widths'], ours\n")


def test_plotting_sets_no_matplotlib_backend():
    run_fresh(
        "import sys\n"
        "import deap_gan_prune.plotting\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n")


@pytest.mark.parametrize("package", ["deap_gan_prune", "deap_gan_prune.nets"])
def test_every_public_name_resolves_to_its_module(package):
    module = importlib.import_module(package)
    table = {name: where for where, names in module.__dict__[
        "_SUBMODULE_NAMES" if package == "deap_gan_prune" else "_MODULE_NAMES"].items()
        for name in names}
    assert sorted(module.__all__) == sorted(table)
    assert len(set(module.__all__)) == len(table)
    listed = dir(module)
    for name in module.__all__:
        assert name in listed
        source = importlib.import_module(table[name], package)
        assert getattr(module, name) is getattr(source, name), name
    namespace: dict = {}
    exec(f"from {package} import *", namespace)
    assert set(module.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute"):
        _ = module.no_such_name


def test_the_root_exports_the_names_of_the_users_story():
    import deap_gan_prune.operators as ops
    assert set(deap_gan_prune._SUBMODULE_NAMES[".operators"]) <= set(ops.__all__)
    assert len(deap_gan_prune.__all__) <= 35
    assert {"compress", "search", "Task", "RunOptions", "slim", "space_of",
            "load_teacher"} <= set(deap_gan_prune.__all__)


@pytest.mark.parametrize(("path", "table"), [("__init__.py", "_SUBMODULE_NAMES"),
                                             ("nets/__init__.py", "_MODULE_NAMES")])
def test_type_checking_imports_match_the_lazy_table(path, table):
    """The ``if TYPE_CHECKING:`` imports (what type checkers see) name the same modules and
    names as the table the package loads from."""
    tree = ast.parse((PACKAGE / path).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and getattr(n.test, "id", None) == "TYPE_CHECKING")
    seen: dict[str, set[str]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        seen.setdefault("." * node.level + (node.module or ""), set()).update(
            a.name for a in node.names)
    module = importlib.import_module("deap_gan_prune" + ("" if path == "__init__.py"
                                                         else ".nets"))
    expected = {where: set(names) for where, names in getattr(module, table).items()}
    assert seen == expected


def test_subpackages_are_reachable_as_attributes():
    run_fresh(
        "import deap_gan_prune\n"
        "assert deap_gan_prune.nets.checkpoints.load_generator\n"
        "assert deap_gan_prune.domains.__name__ == 'deap_gan_prune.domains'\n"
        "assert deap_gan_prune.generator_reports.__name__ == 'deap_gan_prune.generator_reports'\n"
        "assert deap_gan_prune.training.pair.finetune_pair\n"
        "from deap_gan_prune import nets\n"
        "from deap_gan_prune.evolution import search\n"
        "assert search.__name__ == 'deap_gan_prune.evolution.search'\n"
        "assert search.search is deap_gan_prune.search\n")


def test_no_import_cycle_between_the_package_modules():
    """No module imports, directly or through others, a module that imports it back:
    function-level imports count too (a package's ``__init__`` importing its own submodules
    is not a cycle)."""
    import ast
    root = Path(deap_gan_prune.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "")
                                                     .startswith("deap_gan_prune")):
                base = package.split(".")[:len(package.split(".")) - max(node.level - 1, 0)]
                target = ".".join(base + ([node.module] if node.module else [])) \
                    if node.level else node.module
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    deps.add(full if full in modules else target)
        graph[name] = {d for d in deps if d in modules and d != name
                       and not (path.name == "__init__.py" and d.startswith(name + "."))}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False
    cycles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if reaches(b, a))
    assert not cycles, cycles
    assert "deap_gan_prune.core.terms" in graph["deap_gan_prune.nets.groups"]

"""The documentation: every Python block of the README and of ``docs/`` runs, every relative
link points to a file, the README stays short, and the site builds in strict mode with every
public name in its API reference.

A block that cannot run here (it needs a dataset or a Ray cluster) is preceded by
``<!-- not run: the reason -->``; a block preceded by ``<!-- file: NAME.py -->`` is written to
that file (for the blocks after it to import) instead of being run. The blocks of one page run
in order in one namespace, in a fresh folder."""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BENCHMARKS = ROOT / "benchmarks" / "README.md"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
MARKDOWN = [*PAGES, BENCHMARKS]

BLOCK = re.compile(r"(?:<!--\s*(?P<mark>[^\n]*?)\s*-->\n)?```python\n(?P<code>.*?)^```",
                   re.S | re.M)
#: pages whose blocks another test runs with its own checks
RUN_ELSEWHERE = {"docs/tour.md": "tests/test_readme.py::test_api_tour_runs"}
#: pages whose blocks take more than a few seconds (marked slow; none at present: every block
#: runs at toy size, the slowest page in about 2 s)
SLOW: set[str] = set()
MAX_NOT_RUN = 3


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def blocks(page: Path) -> list[tuple[str, str]]:
    """``(mark, code)`` of every Python block of ``page`` (mark: the HTML comment before it)."""
    return [(m.group("mark") or "", m.group("code")) for m in BLOCK.finditer(page.read_text())]


def _runnable_pages():
    for page in PAGES:
        name = _rel(page)
        if name in RUN_ELSEWHERE or not any(not mark.startswith("not run")
                                            for mark, _ in blocks(page)):
            continue
        marks = [pytest.mark.slow] if name in SLOW else []
        yield pytest.param(page, id=name, marks=marks)


@pytest.mark.parametrize("page", list(_runnable_pages()))
def test_python_blocks_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = set(sys.modules)
    namespace: dict = {"__name__": "docs"}
    try:
        for i, (mark, code) in enumerate(blocks(page)):
            if mark.startswith("not run"):
                continue
            if mark.startswith("file:"):
                (tmp_path / mark.split(":", 1)[1].strip()).write_text(code)
                continue
            exec(compile(code, f"{_rel(page)} (Python block {i + 1})", "exec"), namespace)
    finally:
        for name in set(sys.modules) - modules:  # the page's own modules (file: blocks)
            if getattr(sys.modules[name], "__file__", None) and \
                    Path(sys.modules[name].__file__).parent == tmp_path:
                del sys.modules[name]
    capsys.readouterr()


def test_few_blocks_are_not_run_and_each_says_why():
    skipped = [(_rel(page), mark) for page in PAGES for mark, _ in blocks(page)
               if mark.startswith("not run")]
    assert len(skipped) <= MAX_NOT_RUN, skipped
    for name, mark in skipped:
        reason = mark.split(":", 1)[1].strip() if ":" in mark else ""
        assert len(reason) >= 10, f"{name}: '<!-- not run: REASON -->' needs a reason"
    assert all(blocks(ROOT / name) for name in RUN_ELSEWHERE)


def test_the_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, len(lines)


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", MARKDOWN, ids=_rel)
def test_relative_links_point_to_files(page):
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{_rel(page)}: links to no file: {broken}"


# -- the site ------------------------------------------------------------------------------------
#: subpackages whose ``__all__`` the API reference renders, each on its own page
SUBPACKAGES = ("core", "nets", "operators", "fitness", "evolution", "training", "metrics",
               "compression")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: "
                                         "pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_the_site_builds_in_strict_mode(site):
    for page in ("index.html", "benchmarks/index.html", "api/nets/index.html",
                 "tutorials/own-generator/index.html"):
        assert (site / page).is_file(), page


def test_every_public_name_is_in_the_api_reference(site):
    import deap_gan_prune
    ids = set()
    for page in site.rglob("*.html"):
        ids.update(re.findall(r'id="(deap_gan_prune[\w.]*)"', page.read_text()))
    missing = []
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"deap_gan_prune.{sub}")
        missing += [f"deap_gan_prune.{sub}.{n}" for n in module.__all__
                    if f"deap_gan_prune.{sub}.{n}" not in ids]
    # a root name is documented where it lives: its module or a package above it
    for where, names in deap_gan_prune._SUBMODULE_NAMES.items():
        parts = where.strip(".").split(".")
        prefixes = [".".join(["deap_gan_prune", *parts[:k]]) for k in range(1, len(parts) + 1)]
        missing += [f"deap_gan_prune.{n}" for n in names
                    if not any(f"{p}.{n}" in ids for p in prefixes)]
    assert not missing, f"not in the API reference: {missing}"
    leftovers = [p.relative_to(site).as_posix() for p in (site / "api").rglob("*.html")
                 if re.search(r":(class|func|meth|mod):`", p.read_text())]
    assert not leftovers, f"reST roles left in {leftovers}"

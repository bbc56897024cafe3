"""Every data file of the package is in setup.cfg's package_data, so that a wheel or an sdist
holds what the source tree holds (e.g. the shipped teacher and its supernet)."""
import configparser
import glob
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "deap_gan_prune"


def package_files() -> set[str]:
    """The package's non-Python files, relative to the root: those git tracks, or (outside a
    checkout, e.g. an unpacked sdist) those on disk."""
    if shutil.which("git") and (ROOT / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", PACKAGE], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        names = [n for n in out.split("\0") if n]
    else:
        names = [p.relative_to(ROOT).as_posix() for p in (ROOT / PACKAGE).rglob("*")
                 if p.is_file()]
    return {n for n in names if not n.endswith((".py", ".pyc")) and "__pycache__" not in n}


def package_data_files() -> set[str]:
    """The files setup.cfg's [options.package_data] patterns match, found as setuptools finds
    them: each pattern globbed in its package's folder."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    matched = set()
    for package, patterns in cfg["options.package_data"].items():
        folder = ROOT / package.replace(".", "/")
        for pattern in (p.strip() for p in patterns.replace("\n", ",").split(",")):
            if pattern:
                matched |= {Path(f).relative_to(ROOT).as_posix()
                            for f in glob.glob(os.path.join(folder, pattern), recursive=True)
                            if os.path.isfile(f)}
    return matched


def test_every_data_file_is_in_package_data():
    files = package_files()
    assert f"{PACKAGE}/teacher/latest_net_G_A.pth" in files
    missing = sorted(files - package_data_files())
    assert not missing, f"not in setup.cfg [options.package_data]: {missing}"


def test_package_is_typed():
    assert f"{PACKAGE}/py.typed" in package_data_files()

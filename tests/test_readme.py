"""The README's API tour runs as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_api_tour_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    tour = next(b for b in blocks if "load_teacher()" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(tour, "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip() == "544"
    assert (tmp_path / "slim_G_A.pth").is_file() and (tmp_path / "fitness.png").is_file()

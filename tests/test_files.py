"""The generic file helpers (:mod:`deap_gan_prune.files`): atomic writes, hashes, class import."""
import json
import subprocess
import sys

import pytest

import deap_gan_prune.files as files


def test_an_atomic_json_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out" / "state.json"
    files.atomic_write_json(path, {"generation": 1, "b": [1, 2]})
    assert path.read_text() == json.dumps({"generation": 1, "b": [1, 2]}, indent=2) + "\n"
    files.atomic_write_json(path, {"generation": 2})
    assert json.loads(path.read_text()) == {"generation": 2}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_importing_the_module_loads_no_torch():
    code = ("import sys\n"
            "import deap_gan_prune.files\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_hashes_and_class_import_still_work():
    import torch

    from deap_gan_prune.nets.models import ResnetGenerator
    torch.manual_seed(0)
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert files.models_hash(a) == files.models_hash(a) != files.models_hash(b)
    x = torch.zeros(1, 3, 4, 4)
    assert files.images_hash(x) == files.images_hash(x.clone()) != files.images_hash(x + 1)
    assert files.import_class("deap_gan_prune.nets.models:ResnetGenerator") is ResnetGenerator
    with pytest.raises(ValueError, match=r"not a torch\.nn\.Module class"):
        files.import_class("json:JSONDecoder")

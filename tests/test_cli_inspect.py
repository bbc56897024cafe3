import json
import subprocess
import sys

import pytest
import torch

from deap_gan_prune.cli import main


def test_inspect_generator_text_and_json(tmp_path, tiny_generator, capsys):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(tiny_generator.state_dict(), path)
    assert main(["inspect", str(path), "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "ResnetGenerator" in out
    assert "output positions" in out
    assert "real arithmetic" in out
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == sum(p.numel() for p in tiny_generator.parameters())
    assert info["mask_bits"] == 4 + 8 + 16 + 2 * 16 + 8 + 4
    assert info["macs_output"] > info["macs_real"]


def test_inspect_discriminator(tmp_path, tiny_discriminator, capsys):
    path = tmp_path / "latest_net_D_B.pth"
    torch.save(tiny_discriminator.state_dict(), path)
    assert main(["inspect", str(path), "--json", "--size", "32"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "NLayerDiscriminator"


@pytest.mark.slow
def test_inspect_errors_are_one_line_with_exit_codes(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    proc = subprocess.run([sys.executable, "-m", "deap_gan_prune", "inspect", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert str(bad) in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "deap_gan_prune", "inspect"],
                          capture_output=True, text=True)
    assert proc.returncode == 2

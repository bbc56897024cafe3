"""The small teacher CycleGAN shipped with the package (synthetic horse ↔ zebra, 64×64).

ResnetGenerator(ngf=16, n_blocks=6) ×2 and NLayerDiscriminator(ndf=32) ×2, trained by
``examples/train_teacher.py`` (the recipe and the figures it reached are in ``teacher.json``).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..nets.checkpoints import CycleGAN, load_cyclegan

TEACHER_DIR = Path(__file__).resolve().parent


def teacher_info() -> dict:
    """The recipe and measures recorded with the shipped weights (``teacher.json``)."""
    path = TEACHER_DIR / "teacher.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def load_teacher(device: str | torch.device = "cpu") -> CycleGAN:
    """The shipped teacher's four networks, in eval mode on ``device``."""
    return load_cyclegan(TEACHER_DIR, "latest", device)

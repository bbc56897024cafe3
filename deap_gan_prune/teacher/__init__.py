"""The small teacher CycleGAN shipped with the package (synthetic horse ↔ zebra, 64×64).

ResnetGenerator(ngf=16, n_blocks=6) ×2 and NLayerDiscriminator(ndf=32) ×2, trained by
``examples/train_teacher.py`` (the recipe and the figures it reached are in ``teacher.json``;
the discriminators are stored in float16, loaded as float32).
Its once-for-all version (``supernet/``: both generators trained so that every mask of their
space works, stored in float16) is made by ``examples/train_supernet.py``; its
``supernet.json`` records the recipe, the training time and how well sub-networks work.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..nets.checkpoints import CycleGAN, load_cyclegan

TEACHER_DIR = Path(__file__).resolve().parent
#: The shipped once-for-all generators of the teacher (for ``search --supernet``).
SUPERNET_DIR = TEACHER_DIR / "supernet"


def teacher_info() -> dict:
    """The recipe and measures recorded with the shipped weights (``teacher.json``)."""
    path = TEACHER_DIR / "teacher.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def load_teacher(device: str | torch.device = "cpu") -> CycleGAN:
    """The shipped teacher's four networks, in eval mode on ``device``."""
    return load_cyclegan(TEACHER_DIR, "latest", device)


def load_teacher_supernet(device: str | torch.device = "cpu") -> CycleGAN:
    """The shipped once-for-all generators of the teacher (float32, eval mode, no
    discriminators)."""
    return load_cyclegan(SUPERNET_DIR, "latest", device)

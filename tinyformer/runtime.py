"""Small helpers every chapter's notebook starts with: device choice, seeding, grading mode."""

from __future__ import annotations

import os
import random

import torch


def default_device() -> torch.device:
    """The fastest device here: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's and torch's global generators; return a fresh CPU generator with the same seed."""
    random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def is_grading() -> bool:
    """True while nbgrader (or ``python -m grader check``) runs the notebook: experiments then shrink."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))

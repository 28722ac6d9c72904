"""Small helpers every chapter's notebook starts with: device choice, seeding, threads, grading mode,
and the check that an experiment reproduced what the prose says.

Two environment variables let one notebook be rerun as another machine would run it
(``python -m grader experiments`` sets them):

    TINYFORMER_SEED     added to every seed given to ``seed_everything`` (default 0: the published run)
    TINYFORMER_THREADS  the number of CPU threads ``set_threads`` uses instead of its default

A different seed stands in for another CPU's rounding: a result that holds only for one seed would
not hold elsewhere either.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass

import torch

SEED_VARIABLE = "TINYFORMER_SEED"
THREADS_VARIABLE = "TINYFORMER_THREADS"
CLAIMS_VARIABLE = "TINYFORMER_CLAIMS"  # a file: Reproduced appends each checked claim to it, one JSON a line


def default_device() -> torch.device:
    """The fastest device here: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _int_variable(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a whole number") from None


def run_seed() -> int:
    """The seed offset of this run: $TINYFORMER_SEED, 0 when unset."""
    return _int_variable(SEED_VARIABLE, 0)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's and torch's global generators; return a fresh CPU generator with the same seed.

    The seed used is ``seed + 1000 * $TINYFORMER_SEED``, so that a rerun under another run seed changes
    every random draw of the notebook (initial weights, batches, dropout) while keeping it reproducible.
    """
    generator = run_generator(seed)
    random.seed(generator.initial_seed())
    torch.manual_seed(generator.initial_seed())
    return generator


def run_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded as ``seed_everything(seed)`` would seed it, leaving the global generators alone."""
    return torch.Generator().manual_seed(seed + 1000 * run_seed())


def set_threads(default: int = 1) -> int:
    """Use ``default`` CPU threads, or $TINYFORMER_THREADS when set; return the number used."""
    threads = _int_variable(THREADS_VARIABLE, default)
    if threads < 1:
        raise ValueError(f"{THREADS_VARIABLE}={threads} must be at least 1")
    torch.set_num_threads(threads)
    return threads


def is_grading() -> bool:
    """True while nbgrader (or ``python -m grader check``) runs the notebook: experiments shrink."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


@dataclass
class Claim:
    """One checked statement of the prose: ``value`` must be at least (or at most) ``bound``."""

    chapter: str
    claim: str
    value: float
    bound: float
    direction: str  # ">=" or "<="
    margin: float  # how far the value is on the right side of the bound (negative: the claim failed)
    seed: int
    threads: int

    @property
    def holds(self) -> bool:
        return self.margin >= 0


class Reproduced:
    """The checks that a notebook's experiment reproduced the results its prose states.

        check = Reproduced("06-encoder")
        check.at_least("encoder: lowest recall accuracy over the distances", min(accuracy), 0.95)
        check.at_most("RNN: highest accuracy at distances 16-64", max(rnn[3:]), 0.3)
        check.done()   # prints every claim with its margin; AssertionError naming each one that failed

    Each claim is also appended to the file named by $TINYFORMER_CLAIMS, for ``python -m grader experiments``.
    """

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.claims: list[Claim] = []

    def _add(self, claim: str, value, bound: float, direction: str) -> None:
        value = float(value)
        margin = value - bound if direction == ">=" else bound - value
        if value != value:  # NaN: never holds
            margin = float("-inf")
        self.claims.append(
            Claim(self.chapter, claim, value, float(bound), direction, margin, run_seed(), torch.get_num_threads())
        )

    def at_least(self, claim: str, value, bound: float) -> None:
        self._add(claim, value, bound, ">=")

    def at_most(self, claim: str, value, bound: float) -> None:
        self._add(claim, value, bound, "<=")

    def done(self) -> None:
        path = os.environ.get(CLAIMS_VARIABLE)
        if path:
            with open(path, "a", encoding="utf-8") as out:
                for claim in self.claims:
                    out.write(json.dumps(asdict(claim)) + "\n")
        for claim in self.claims:
            mark = "ok  " if claim.holds else "FAIL"
            print(
                f"{mark} {claim.claim}: {claim.value:.4g} {claim.direction} {claim.bound:g} "
                f"(margin {claim.margin:+.3g})"
            )
        failed = [claim for claim in self.claims if not claim.holds]
        if failed:
            raise AssertionError(
                "not reproduced: "
                + "; ".join(
                    f"{claim.claim} = {claim.value:.4g}, expected {claim.direction} {claim.bound:g}" for claim in failed
                )
            )
        print(f"Reproduced: all {len(self.claims)} claims of {self.chapter} hold.")

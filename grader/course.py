"""Where things are, and the nbgrader configuration for a course folder (the repo, or a scratch copy)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"  # nbgrader "source": instructor notebooks
CHAPTERS = ROOT / "chapters"  # nbgrader "release": student editions, generated
CONFIG_FILE = Path(__file__).resolve().parent / "nbgrader_config.py"
CHAPTER_ID = re.compile(r"^\d\d-[a-z0-9]+(-[a-z0-9]+)*$")
UNGRADED = ("09-capstone",)  # notebooks without exercises: built, translated and checked like a chapter, never graded


class CourseError(Exception):
    """A problem the user can fix; its message says what and where. The CLI prints it, no traceback."""


def chapter_ids() -> list[str]:
    """The chapters, in order: every solutions/NN-slug folder."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and CHAPTER_ID.match(p.name))


def graded_chapter_ids() -> list[str]:
    """The chapters with exercises, which nbgrader grades: every chapter but the capstone."""
    return [chapter for chapter in chapter_ids() if chapter not in UNGRADED]


def source_notebook(chapter: str, solutions: Path = SOLUTIONS) -> Path:
    """solutions/NN-slug/NN-slug.ipynb: one notebook per chapter, named like its folder."""
    return solutions / chapter / f"{chapter}.ipynb"


def resolve_chapters(names: list[str] | None, graded: bool = False) -> list[str]:
    """The chapters the user named (all when none), by id or number ("04-multi-head", "04", "4"), refusing
    unknown names with the list of known ones; with ``graded``, only chapters with exercises are known."""
    known = graded_chapter_ids() if graded else chapter_ids()
    if not names:
        return known
    numbers = {chapter.split("-")[0].lstrip("0") for chapter in UNGRADED}
    ungraded = [name for name in names if graded and (name in UNGRADED or name.lstrip("0") in numbers)]
    if ungraded:
        raise CourseError(f"{', '.join(ungraded)}: the capstone has no exercises and is not graded; "
                          f"the graded chapters are: {', '.join(known)}")
    by_number = {chapter.split("-")[0].lstrip("0"): chapter for chapter in known}
    resolved = [name if name in known else by_number.get(name.lstrip("0"), name) for name in names]
    unknown = [name for name, chapter in zip(names, resolved, strict=True) if chapter not in known]
    if unknown:
        raise CourseError(f"unknown chapter {', '.join(unknown)}; the chapters are: {', '.join(known)}")
    return resolved


def nbgrader_config(root: Path, db_url: str | None = None) -> Config:
    """grader/nbgrader_config.py, with the course root (and gradebook) pointed elsewhere when asked."""
    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    return config


def digest(*files: Path, code: tuple[str, ...] = ("tinyformer",)) -> str:
    """SHA-256 of these files and of every .py file of the course's packages named in ``code``: a cache
    key that changes when an input or the code that processes it changes."""
    hasher = hashlib.sha256()
    for path in [*files, *(p for package in code for p in sorted((ROOT / package).rglob("*.py")))]:
        hasher.update(path.read_bytes())
    return hasher.hexdigest()

"""Where things are, and the nbgrader configuration for a course folder (the repo, or a scratch copy)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser (requirements.txt installs it there)
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

PACKAGE = Path(__file__).resolve().parent  # this grader package: in a clone, or installed (site-packages/grader)


def is_course(folder: Path) -> bool:
    """Whether ``folder`` is a clone of the course: it holds the chapter list and the instructor sources."""
    return (folder / "grader" / "chapters.toml").is_file() and (folder / "solutions").is_dir()


def find_course(start: Path | None = None) -> Path | None:
    """The clone of the course the grader works on: the working directory (``start``) or the nearest folder
    above it that is one, as nbgrader takes its course from the working directory; else the clone this
    package was imported from (an editable install, run from anywhere); None for an installed package
    (`pip install git+...`, as on Colab) run outside a clone."""
    try:
        start = (Path.cwd() if start is None else start).resolve()
    except OSError:  # the working directory was deleted
        start = None
    for folder in [start, *start.parents] if start is not None else []:
        if is_course(folder):
            return folder
    return PACKAGE.parent if is_course(PACKAGE.parent) else None


CHECKOUT = find_course()  # None: an installed grader outside a clone, with only what the package holds
# The course's folder. Outside a clone, the folder the packages are installed in (site-packages), which holds
# grader/ and tinyformer/ side by side as a clone does; its "sources" are then the student editions the package
# ships (grader/student_editions/NN-slug/NN-slug.ipynb, from chapters/): their tests are the visible ones,
# so `python -m grader check` runs those, without the hidden tests that only the clone has.
ROOT = CHECKOUT or PACKAGE.parent
STUDENT_EDITIONS = PACKAGE / "student_editions"  # in an installed package (pyproject.toml's package data)
SOLUTIONS = ROOT / "solutions" if CHECKOUT else STUDENT_EDITIONS  # nbgrader "source": instructor notebooks
CHAPTERS = ROOT / "chapters" if CHECKOUT else STUDENT_EDITIONS  # nbgrader "release": student editions, generated
CONFIG_FILE = ROOT / "grader" / "nbgrader_config.py"
MANIFEST = ROOT / "grader" / "chapters.toml"  # the chapter list: slug, title, modules, tests, pieces
CHAPTER_ID = re.compile(r"^\d\d-[a-z0-9]+(-[a-z0-9]+)*$")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a module, test module or piece: a Python identifier


class CourseError(Exception):
    """A problem the user can fix; its message says what and where. The CLI prints it, no traceback."""


def require_checkout(what: str) -> Path:
    """The clone of the course, for a command that needs it (its solutions, hidden tests, website sources);
    outside one, a CourseError that says so."""
    if CHECKOUT is None:
        try:
            where = str(Path.cwd())
        except OSError:
            where = "this folder"
        raise CourseError(
            f"{what} needs a clone of the course (its solutions, hidden tests and sources), and "
            f"{where} is not inside one: `git clone` the course's repository and run it in the "
            "clone's folder. The installed package (pip install git+...) holds only the student "
            "editions: there, `python -m grader check NOTEBOOK` runs a notebook's visible tests"
        )
    return CHECKOUT


@dataclass(frozen=True)
class Chapter:
    """One [[chapter]] of grader/chapters.toml (its header says what each field means)."""

    slug: str  # "04-multi-head": the folder, the notebook's name, the page
    title: str  # "Multi-head attention", as README's chapters table writes it
    modules: tuple[str, ...]  # ("multihead",): tinyformer/multihead.py
    graded: bool  # False for the capstone: no exercises, never graded
    unit_tests: tuple[str, ...]  # ("test_multihead",): tests/test_multihead.py
    grading_test: str | None  # "test_grading_04_multi_head"; None when not graded
    writes: str  # what the learner writes, in README's words
    pieces: tuple[str, ...]  # the functions and classes its solution cells define, in order

    @property
    def number(self) -> str:
        """The chapter's number: "04" of "04-multi-head"."""
        return self.slug.split("-")[0]


def _entry(index: int, raw: object, where: str) -> Chapter:
    """One [[chapter]] table, checked field by field; a CourseError names the entry and the field."""
    name = f"{where}, chapter {index + 1}"
    if not isinstance(raw, dict):
        raise CourseError(f"{name}: not a table")
    name = f"{where}, chapter {index + 1} ({raw.get('slug', 'no slug')})"
    tests, pieces = raw.get("tests", {}), raw.get("pieces", {})
    if not isinstance(tests, dict) or not isinstance(pieces, dict):
        raise CourseError(f'{name}: tests and pieces are tables: tests.units = [...], pieces.writes = "..."')
    unknown = [
        *sorted(set(raw) - {"slug", "title", "modules", "graded", "tests", "pieces"}),
        *(f"tests.{key}" for key in tests if key not in ("units", "grading")),
        *(f"pieces.{key}" for key in pieces if key not in ("writes", "names")),
    ]
    if unknown:
        raise CourseError(
            f"{name}: unknown field {', '.join(unknown)}; the fields are slug, title, modules, graded, "
            "tests.units, tests.grading, pieces.writes and pieces.names"
        )

    def field(value, kind: str, key: str):
        ok = {
            "text": lambda v: isinstance(v, str) and v.strip() != "",
            "flag": lambda v: isinstance(v, bool),
            "names": lambda v: isinstance(v, list) and all(isinstance(x, str) and NAME.match(x) for x in v),
        }[kind]
        if not ok(value):
            wanted = {"text": "a non-empty string", "flag": "true or false", "names": "a list of Python names"}[kind]
            raise CourseError(f"{name}: {key} must be {wanted}, not {value!r}")
        return value

    slug = field(raw.get("slug"), "text", "slug")
    if not CHAPTER_ID.match(slug):
        raise CourseError(f"{name}: slug {slug!r} is not NN-slug (two digits, then lower-case words joined by -)")
    graded = field(raw.get("graded"), "flag", "graded")
    grading = tests.get("grading")
    if graded and grading is None:
        raise CourseError(f"{name}: a graded chapter needs tests.grading, its graded round trip in tests/")
    if not graded and grading is not None:
        raise CourseError(f"{name}: tests.grading is for graded chapters only (graded = false)")
    if grading is not None and not (isinstance(grading, str) and NAME.match(grading)):
        raise CourseError(f"{name}: tests.grading must be a test module's name, not {grading!r}")
    modules = field(raw.get("modules"), "names", "modules")
    if not modules:
        raise CourseError(f"{name}: modules must name at least one tinyformer module")
    return Chapter(
        slug=slug,
        title=field(raw.get("title"), "text", "title"),
        modules=tuple(modules),
        graded=graded,
        unit_tests=tuple(field(tests.get("units", []), "names", "tests.units")),
        grading_test=grading,
        writes=field(pieces.get("writes"), "text", "pieces.writes"),
        pieces=tuple(field(pieces.get("names", []), "names", "pieces.names")),
    )


def chapter_manifest(path: Path | None = None) -> list[Chapter]:
    """Every chapter of grader/chapters.toml (or of ``path``), in order, each entry checked (numbers increasing)."""
    path = MANIFEST if path is None else path
    where = "grader/chapters.toml" if path == MANIFEST else str(path)
    if tomllib is None:
        raise CourseError(f"reading {where} needs Python 3.11 or newer, or the tomli package: pip install tomli")
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CourseError(f"{where} is missing: it lists the course's chapters") from None
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{where} is not valid TOML: {error}") from None
    if set(data) - {"chapter"} or not isinstance(data.get("chapter"), list) or not data["chapter"]:
        raise CourseError(f"{where} must hold [[chapter]] tables and nothing else")
    chapters = [_entry(index, raw, where) for index, raw in enumerate(data["chapter"])]
    for before, after in zip(chapters, chapters[1:]):
        if after.number <= before.number:
            raise CourseError(
                f"{where}: {after.slug} comes after {before.slug}: the chapters are listed in the "
                "order of their numbers, each number once"
            )
    return chapters


def chapter_ids() -> list[str]:
    """The chapters, in order: grader/chapters.toml's slugs, which must be exactly the solutions/NN-slug folders."""
    slugs = [chapter.slug for chapter in chapter_manifest()]
    if SOLUTIONS.is_dir():  # (an installed package built without its student editions has none)
        folders = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and CHAPTER_ID.match(p.name))
        unlisted = [folder for folder in folders if folder not in slugs]
        missing = [slug for slug in slugs if slug not in folders]
        if unlisted or missing:
            raise CourseError(
                "grader/chapters.toml and solutions/ disagree: "
                + "; ".join(
                    [
                        *(f"solutions/{f}/ has no [[chapter]] entry in grader/chapters.toml" for f in unlisted),
                        *(f"grader/chapters.toml lists {s}, which has no folder solutions/{s}/" for s in missing),
                    ]
                )
                + ' (CONTRIBUTING.md, "Add a chapter")'
            )
    return slugs


def graded_chapter_ids() -> list[str]:
    """The chapters with exercises, which nbgrader grades: every chapter but the capstone (graded = false)."""
    ungraded = {chapter.slug for chapter in chapter_manifest() if not chapter.graded}
    return [chapter for chapter in chapter_ids() if chapter not in ungraded]


def _ungraded() -> tuple[str, ...]:
    try:
        return tuple(chapter.slug for chapter in chapter_manifest() if not chapter.graded)
    except CourseError:  # reported, with what to fix, by chapter_ids() and the commands that call it
        return ()


UNGRADED = _ungraded()  # notebooks without exercises: built, translated and checked like a chapter, never graded


def source_notebook(chapter: str, solutions: Path = SOLUTIONS) -> Path:
    """solutions/NN-slug/NN-slug.ipynb: one notebook per chapter, named like its folder."""
    return solutions / chapter / f"{chapter}.ipynb"


def resolve_chapters(names: list[str] | None, graded: bool = False) -> list[str]:
    """The chapters the user named (all when none), by id or number ("04-multi-head", "04", "4"), refusing
    unknown names with the list of known ones; with ``graded``, only chapters with exercises are known."""
    known = graded_chapter_ids() if graded else chapter_ids()
    if not names:
        return known
    without = [chapter.slug for chapter in chapter_manifest() if not chapter.graded]
    numbers = {chapter.split("-")[0].lstrip("0") for chapter in without}
    ungraded = [name for name in names if graded and (name in without or name.lstrip("0") in numbers)]
    if ungraded:
        raise CourseError(
            f"{', '.join(ungraded)}: the capstone has no exercises and is not graded; "
            f"the graded chapters are: {', '.join(known)}"
        )
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

"""Find the submissions in what an instructor collected: an nbgrader folder, a flat folder or an LMS zip.

Accepted layouts (a .zip of any of them too):
- nbgrader: ``[submitted/]<student>/<chapter>/<anything>.ipynb``
- Canvas:   ``<name>_<user id>_<submission id>_<anything>.ipynb`` (also ``<name>_LATE_<user id>_...``); the
            student is ``<name>_<user id>``, and of two files of one chapter the later submission id is graded
- Moodle:   ``<Full Name>_<participant id>_assignsubmission_file_/<anything>.ipynb``; the student is
            ``<Full-Name>_<participant id>``, so two students of the same name stay two
- plain:    ``<student>.ipynb`` or ``<student>/<anything>.ipynb``

Which chapter a notebook belongs to is read from its content (the nbgrader grade_ids of its cells), not
from its file name, so a renamed file is graded as what it is, and the Chinese edition (NN-slug.zh.ipynb: the
same graded cells) as its chapter. Of two notebooks of one chapter from one student, an untouched one is not
graded over an answered one (nbgrader's exchange hands in the whole folder: the English and the Chinese
edition). A student who handed in no notebook, only other files, is reported (refused: "not a Jupyter
notebook"), not silently left out.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .course import CHAPTERS, CourseError, graded_chapter_ids, source_notebook

MAX_NOTEBOOK_BYTES = 50 * 2**20  # a submitted notebook larger than this is refused unread
MAX_ZIP_BYTES = 2 * 2**30  # what a zip may unpack to, in all
CANVAS = re.compile(r"^(?P<student>[A-Za-z0-9.-]+?)(_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_.+$")
MOODLE = re.compile(r"^(?P<student>.+?)_(?P<participant>\d+)_assignsubmission_[a-z]+_?$")  # file_, onlinetext_, ...


@dataclass
class Submission:
    student: str
    chapter: str | None  # None when the notebook could not be matched to a chapter
    path: Path
    problem: str | None = None  # why it cannot be graded (it then scores 0 with this reason)
    lms: dict | None = None  # who the LMS says handed it in: {"system": "canvas"/"moodle", "id": ..., "name": ...}


def _student_id(name: str) -> str:
    """A student id safe for folder names and the gradebook."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    return cleaned or "unknown"


@functools.cache  # read once per process, not once per submitted notebook
def _grade_ids(chapter: str) -> frozenset[str]:
    nb = json.loads(source_notebook(chapter).read_text())
    return frozenset(c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb["cells"]) - {None}


@functools.cache
def _stubs(chapter: str) -> dict[str, str]:
    """The student edition's solution cells (the stubs a learner replaces), by grade_id."""
    nb = json.loads((CHAPTERS / chapter / f"{chapter}.ipynb").read_text())
    return {
        c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
        for c in nb["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def _answered(path: Path, chapter: str) -> bool:
    """Whether a notebook has any solution cell changed from the student edition's stub."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    stubs = _stubs(chapter)
    for cell in cells:
        grade_id = (cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}).get("grade_id")
        if grade_id in stubs:
            source = cell.get("source", "")
            if ("".join(source) if isinstance(source, list) else source) != stubs[grade_id]:
                return True
    return False


def identify_chapter(path: Path, chapters: list[str]) -> tuple[str | None, str | None]:
    """(chapter, problem): the chapter whose graded cells this notebook holds, or why none."""
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None, f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB"
        if path.stat().st_size == 0:
            return None, "the file is empty"
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
        ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells if isinstance(c, dict)} - {None}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, "not a Jupyter notebook (not JSON)"
    except (KeyError, TypeError, AttributeError):
        return None, "not a Jupyter notebook (no cells)"
    overlap = {chapter: len(ids & _grade_ids(chapter)) for chapter in chapters}
    best = max(overlap, key=overlap.get, default=None)
    if best is None or overlap[best] == 0:
        return None, f"not a notebook of {'/'.join(chapters)}: none of its graded cells is there"
    return best, None


def collect(where: Path, scratch: Path, chapters: list[str] | None = None) -> list[Submission]:
    """Every notebook under ``where`` (a folder or a zip, unpacked into ``scratch``), with its student and chapter.

    Notebooks of chapters outside ``chapters`` are left out; refused files (with a ``problem``) come last."""
    if not where.exists():
        raise CourseError(f"{where}: no such file or folder")
    if where.is_file():
        if not zipfile.is_zipfile(where):
            raise CourseError(f"{where}: expected a folder of submissions or a .zip of them")
        where = _unzip(where, scratch / "unzipped")
    found: dict[tuple[str, str], tuple[tuple, Submission]] = {}
    problems: list[Submission] = []
    other_files: dict[str, Path] = {}  # student -> a file that is not a notebook
    students_with_notebooks: set[str] = set()
    known = graded_chapter_ids()
    for path in sorted(where.rglob("*")):
        if (
            not path.is_file()
            or path.is_symlink()
            or any(p.startswith(".") or p == "__MACOSX" for p in path.relative_to(where).parts)
        ):
            continue
        student, order = _student_for(path.relative_to(where), known)
        if path.suffix.lower() != ".ipynb":
            other_files.setdefault(student, path)
            continue
        students_with_notebooks.add(student)
        chapter, problem = identify_chapter(path, known)
        submission = Submission(student, chapter, path, problem, lms_identity(path.relative_to(where), known))
        if chapter is None:
            problems.append(submission)
            continue
        if chapters and chapter not in chapters:
            continue
        key = (student, chapter)
        if key in found:  # two notebooks of one chapter from one student: grade the later one, say so; but of
            # an untouched copy and an answered one (the English and the Chinese edition, say), the answered one
            earlier, later = sorted(
                [found[key], (order, submission)], key=lambda pair: (_answered(pair[1].path, chapter), pair[0])
            )
            earlier[
                1
            ].problem = f"an earlier hand-in of {chapter}: {later[1].path.relative_to(where)} is graded instead"
            problems.append(earlier[1])
            found[key] = later
        else:
            found[key] = (order, submission)
    for student, path in other_files.items():
        if student not in students_with_notebooks:
            problems.append(
                Submission(
                    student,
                    None,
                    path,
                    f"not a Jupyter notebook ({path.suffix or 'no'} file): hand in the chapter's .ipynb",
                )
            )
    if not found and not problems:
        raise CourseError(
            f"{where}: no notebooks (.ipynb) to grade" + (f" of {', '.join(chapters)}" if chapters else "")
        )
    return sorted((s for _, s in found.values()), key=lambda s: (s.chapter, s.student)) + problems


def lms_identity(relative: Path, chapters: list[str]) -> dict | None:
    """The LMS's own id of the student who handed in this file, read from the name the LMS gave it (what the
    grade exports are keyed by): Canvas's user id, Moodle's participant id; None for other layouts."""
    parts = relative.parts[1:] if relative.parts and relative.parts[0] == "submitted" else relative.parts
    if len(parts) >= 3 and parts[1] in chapters:
        return None
    if len(parts) >= 2:
        moodle = MOODLE.match(parts[-2])
        return {"system": "moodle", "id": moodle["participant"], "name": moodle["student"]} if moodle else None
    canvas = CANVAS.match(relative.stem)
    return {"system": "canvas", "id": canvas["user"], "name": canvas["student"]} if canvas else None


def _student_for(relative: Path, chapters: list[str]) -> tuple[str, tuple]:
    """The student a file belongs to, and the order of hand-ins (a later one sorts higher): Canvas's
    submission id where there is one, else the path."""
    parts = relative.parts
    if parts and parts[0] == "submitted":
        parts = parts[1:]
    if len(parts) >= 3 and parts[1] in chapters:  # nbgrader: student/chapter/file
        return _student_id(parts[0]), (0, str(relative))
    if len(parts) >= 2:
        moodle = MOODLE.match(parts[-2])
        student = f"{moodle['student']}_{moodle['participant']}" if moodle else parts[-2]
        return _student_id(student), (0, str(relative))
    canvas = CANVAS.match(relative.stem)
    if canvas:
        return _student_id(f"{canvas['student']}_{canvas['user']}"), (int(canvas["submission"]), str(relative))
    return _student_id(relative.stem), (0, str(relative))


def _unzip(archive: Path, target: Path) -> Path:
    """Unpack a zip safely: no paths outside the target, no links, bounded size."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        total = 0
        for info in zf.infolist():
            name = Path(info.filename)
            if info.is_dir() or name.is_absolute() or ".." in name.parts:
                continue
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise CourseError(f"{archive}: unpacks to more than {MAX_ZIP_BYTES // 2**30} GiB; refusing it")
            out = target / name
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return target

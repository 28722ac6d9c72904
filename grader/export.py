"""`python -m grader export canvas|moodle`: the class's grades as the LMS's own grade-import file.

The scores come from the gradebook (the autograded points and the written answers' marks entered in
formgrader); each student is named by the id the LMS gave the hand-in's file name (grader/intake.py), which
the batch kept in OUT/results/:

- Canvas, Gradebook → Import: ``canvas-grades.csv`` with the columns of Canvas's gradebook export, ``Student``,
  ``ID`` (the Canvas user id), ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per chapter,
  and the ``Points Possible`` row. A column whose name is not one of the course's assignments becomes a new
  assignment; rename the header to the assignment's name as Canvas exports it (``Name (id)``) to fill that one.
- Moodle, the assignment's "Upload grading worksheet" (feedback type "Offline grading worksheet"):
  ``moodle-<chapter>.csv`` per chapter with the worksheet's columns; Moodle reads ``Identifier``
  (``Participant <id>``), ``Grade``, ``Last modified (grade)`` and ``Feedback comments``.
"""

from __future__ import annotations

import csv
import json
import time
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning

from .course import CourseError

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]


def _identities(out: Path, system: str) -> dict[str, dict]:
    """student -> the LMS identity the intake read from the hand-in's file name (OUT/results/)."""
    found = {}
    for path in sorted((out / "results").glob("*/*.json")):
        try:
            identity = json.loads(path.read_text()).get("lms")
        except (OSError, json.JSONDecodeError):
            continue
        if identity and identity.get("system") == system:
            found[path.stem] = identity
    return found


def _scores(db_url: str) -> tuple[dict[str, float], dict[tuple[str, str], float], int]:
    """(chapter -> points possible, (chapter, student) -> score, written answers not marked yet)."""
    from nbgrader.api import Gradebook

    possible, scores, unmarked = {}, {}, 0
    with warnings.catch_warnings(), Gradebook(db_url) as gradebook:
        warnings.simplefilter("ignore", SAWarning)
        for assignment in gradebook.assignments:
            possible[assignment.name] = float(assignment.max_score)
            for submission in assignment.submissions:
                scores[(assignment.name, submission.student.id)] = float(submission.score)
                unmarked += sum(
                    1 for notebook in submission.notebooks for grade in notebook.grades if grade.needs_manual_grade
                )
    return possible, scores, unmarked


def export_grades(out: Path, system: str, db_url: str | None = None) -> list[Path]:
    """Write the grade-import file(s) of ``system`` ("canvas" or "moodle") into OUT; return their paths."""
    out = out.resolve()
    if not (out / "results").is_dir():
        raise CourseError(f"{out} holds no graded class (no results/ folder): run `python -m grader autograde` first")
    db_url = db_url or f"sqlite:///{out / 'gradebook.db'}"
    identities = _identities(out, system)
    if not identities:
        raise CourseError(
            f"no student of {out} was handed in through {system.capitalize()}: the export names students "
            f"by the ids in {system.capitalize()}'s file names (see the instructor guide)"
        )
    possible, scores, unmarked = _scores(db_url)
    chapters = sorted({chapter for chapter, student in scores if student in identities})
    if system == "canvas":
        written = [_write_canvas(out / "canvas-grades.csv", identities, chapters, possible, scores)]
    else:
        written = [
            _write_moodle(out / f"moodle-{chapter}.csv", identities, chapter, possible, scores) for chapter in chapters
        ]
    if unmarked:
        print(
            f"note: {unmarked} written answer(s) are not marked yet and count 0; mark them in formgrader and "
            "export again"
        )
    return written


def _points(value: float) -> str:
    return f"{value:g}"


def _write_canvas(path: Path, identities: dict, chapters: list[str], possible: dict, scores: dict) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANVAS_COLUMNS + chapters)
        writer.writerow(["    Points Possible", "", "", "", ""] + [_points(possible[c]) for c in chapters])
        for student, identity in sorted(identities.items(), key=lambda pair: pair[1]["name"]):
            if not any((c, student) in scores for c in chapters):
                continue
            writer.writerow(
                [identity["name"], identity["id"], "", "", ""]
                + [_points(scores[(c, student)]) if (c, student) in scores else "" for c in chapters]
            )
    return path


def _write_moodle(path: Path, identities: dict, chapter: str, possible: dict, scores: dict) -> Path:
    now = time.strftime("%Y-%m-%d %H:%M:%S")  # newer than Moodle's grade, so Moodle takes this one
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MOODLE_COLUMNS)
        for student, identity in sorted(identities.items(), key=lambda pair: int(pair[1]["id"])):
            if (chapter, student) not in scores:
                continue
            score = scores[(chapter, student)]
            writer.writerow(
                [
                    f"Participant {identity['id']}",
                    identity["name"],
                    "",
                    "",
                    _points(score),
                    _points(possible[chapter]),
                    "Yes",
                    "",
                    now,
                    f"{chapter}: {_points(score)} / {_points(possible[chapter])} (autograded and written answers)",
                ]
            )
    return path

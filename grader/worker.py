"""One submission, graded in a process of its own: `python -m grader.worker REQUEST.json`.

The batch (grader/batch.py) starts one such process per submission, with a wall-time limit, so a
submission that hangs, crashes or floods its output takes only this process down. It writes the
result JSON (atomically) and the learner's HTML feedback; the batch alone writes the gradebook.
"""

from __future__ import annotations

import functools
import html
import json
import re
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat

from tinyformer.i18n import gettext

from .authoring import is_test_cell, marked_lines
from .autograde import ANSI, grade_in_course, prepare_course
from .course import CourseError, source_notebook
from .references import reference_matches
from .sandbox import Limits


def _as_text(message: str) -> str:
    """A test's message as plain text in the Markdown score table: HTML escaped, Markdown's marks taken literally
    (so `__init__` stays `__init__`, and a message cannot add markup to the page)."""
    return re.sub(r"([\\`*_{}\[\]()#+!|~>-])", r"\\\1", html.escape(message, quote=False))


def feedback_html(graded: Path, result, title: str, matches_reference: list[str] = ()) -> str:
    """The graded notebook as HTML for the learner: hidden tests removed, test errors reduced to their
    message (a traceback would quote hidden test code), a score table on top. One self-contained page that
    works offline: MyST rendered, maths typeset by the course's MathJax, nothing loaded from outside
    (grader/feedback.py)."""
    from .feedback import offline_page

    nb = nbformat.read(graded, as_version=4)
    for cell in nb.cells:
        if is_test_cell(cell):
            # test cells only: learners' text is theirs
            cell.source = "\n".join(line for kind, line in marked_lines(cell.source, ("hidden tests",)) if kind is None)
            cell.outputs = [
                nbformat.v4.new_output(
                    "stream", name="stdout", text=ANSI.sub("", f"{o.get('ename')}: {o.get('evalue')}\n")
                )
                if o.get("output_type") == "error"
                else o
                for o in cell.outputs
            ]
    from .autograde import NOT_DONE, notebook_language

    _ = functools.partial(gettext, language=notebook_language(nb, graded))  # the page is in the notebook's language

    def first_error(message: str | None) -> str:
        first = (message or "").splitlines()[0] if message else ""
        return _as_text(_(first) if first == NOT_DONE else first)

    rows = "\n".join(
        f"| `{c.grade_id}` | {_('graded by hand') if c.manual else f'{c.score:g}'} | {c.max_score:g} | "
        f"{first_error(c.message)} |"
        for c in result.cells
    )
    summary = (
        _("# Feedback: {title}").format(title=title)
        + "\n\n"
        + _("Autograded score: **{score} / {max_score}** (written answers are graded by hand).").format(
            score=f"{result.score:g}", max_score=f"{result.max_score:g}"
        )
        + "\n\n| "
        + " | ".join([_("test"), _("points"), _("out of"), _("first error")])
        + f" |\n| --- | --- | --- | --- |\n{rows}\n"
    )
    if matches_reference:
        summary += (
            "\n"
            + _(
                "**To be reviewed:** {cells} matches the reference (the course's own solution, up to names "
                "and formatting); a person will look at it."
            ).format(cells=", ".join(f"`{g}`" for g in matches_reference))
            + "\n"
        )
    # mathjax_ignore: a `$` pair in a message stays text (MathJax skips the table)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(f'<div class="mathjax_ignore">\n\n{summary}\n</div>'))
    return offline_page(nb, notebook_language(nb, graded))


def main(request_path: str) -> int:
    request = json.loads(Path(request_path).read_text())
    work = Path(request["work"])
    chapter, student = request["chapter"], request["student"]
    limits = Limits(**request["limits"])
    sandbox = ([Path(p) for p in request["hide"]], limits, request["uid"]) if request["sandbox"] else None
    try:
        course = work / "course"
        if request.get("template"):  # a course prepared once per chapter by the batch: copy it
            shutil.copytree(request["template"], course)
            db_url = f"sqlite:///{course / 'gradebook.db'}"
        else:
            db_url = prepare_course(chapter, course)
        result, graded = grade_in_course(
            course, db_url, chapter, student, Path(request["notebook"]), sandbox, limits, request.get("deadline")
        )
        feedback = Path(request["feedback"])
        feedback.parent.mkdir(parents=True, exist_ok=True)
        copied = reference_matches(Path(request["notebook"]), source_notebook(chapter, course / "solutions"))
        feedback.write_text(feedback_html(graded, result, f"{student}, {chapter}", copied))
        answer = {
            "status": "graded",
            "cells": [asdict(c) for c in result.cells],
            "lost_cells": result.lost,
            "matches_reference": copied,
        }
    except CourseError as error:
        answer = {
            "status": "error",
            "reason": str(error).splitlines()[-1][:300],
            "log": str(error).splitlines()[-40:],
        }  # for the instructor: results/<chapter>/<student>.json
    out = Path(request["result"])
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(answer))
    partial.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

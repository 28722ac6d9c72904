"""Run a student edition the way a learner does, top to bottom in one kernel-like namespace, with some solution
cells answered (the others filled with the reference), and report what every code cell raised:
``python -m tests.visible CHAPTER ANSWERS.json`` prints ``[[cell id, grade_id or null, "Error: message" or null], ...]``.

The student edition holds only the *visible* tests, so this is what a learner sees before submitting: a visible test
that names their mistake, and experiment cells that stop with one clear message (``NotReady``) instead of a traceback
when a piece they use has not passed its test. Grading mode ($NBGRADER_EXECUTION) keeps the experiments tiny.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys


def run(chapter: str, answers: dict[str, str], timeout: int = 600) -> list[tuple[str, str | None, str | None]]:
    """Every code cell of the student edition of ``chapter``, executed in order in a fresh process, with the
    solution cells of ``answers`` (grade_id -> source) answered so: [(cell id, grade_id, error or None), ...]."""
    from grader.course import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "tests.visible", chapter, json.dumps(answers)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


def errors(cells: list[tuple[str, str | None, str | None]]) -> list[tuple[str, str]]:
    """(grade_id or cell id, error) of each cell that raised, in notebook order."""
    return [(grade_id or cell_id, error) for cell_id, grade_id, error in cells if error]


def _execute(chapter: str, answers: dict[str, str]) -> list[list]:
    import matplotlib

    from tests.submissions import completed

    matplotlib.use("agg")
    nb = completed(chapter, answers)
    namespace: dict = {"__name__": "__main__"}
    rows = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        sink = io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                exec(compile(cell.source, f"<{cell.get('id')}>", "exec"), namespace)
        except BaseException as raised:  # noqa: BLE001 - a learner's answer may raise anything
            error = f"{type(raised).__name__}: {raised}"
        rows.append([cell.get("id"), cell.metadata.get("nbgrader", {}).get("grade_id"), error])
    return rows


if __name__ == "__main__":
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    print(json.dumps(_execute(sys.argv[1], json.loads(sys.argv[2]))))

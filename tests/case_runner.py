"""Grade many answers of one chapter quickly, without nbgrader: ``python -m tests.case_runner CHAPTER``, the answers
as JSON on stdin, {student: {grade_id: source}} (tests.submissions.grade_in_process).

For each submission (a packed one of tests.submissions.pack, or a named answer) it runs, in one fresh namespace, the
chapter's setup cell, every solution cell (the answer's source where it has one, the reference otherwise), every code
cell that only defines functions, classes or constants (helpers the tests use), and every test cell, hidden tests
included, with NBGRADER_EXECUTION=autograde; experiment cells are skipped. A test cell scores its points unless it
raises, as under nbgrader. Prints {student: {grade_id: [score, max_score, message]}} as JSON. The nbgrader round
trip grades a sample of the same submissions, so the two agree where it matters.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import sys

os.environ["NBGRADER_EXECUTION"] = "autograde"


def _defines_only(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False

    def defines(node: ast.stmt) -> bool:  # a def, a class, an import, or a constant such as IGNORE_INDEX = -100
        if isinstance(node, ast.Assign):
            value = node.value.operand if isinstance(node.value, ast.UnaryOp) else node.value
            return isinstance(value, ast.Constant) and all(isinstance(t, ast.Name) for t in node.targets)
        return isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))

    return bool(tree.body) and all(defines(n) for n in tree.body)


def _strip_markers(source: str) -> str:
    return "\n".join(
        line for line in source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
    )


def grade(chapter: str, answers: dict[str, str]) -> dict[str, list]:
    import matplotlib
    import nbformat

    from grader.course import source_notebook

    matplotlib.use("agg")
    nb = nbformat.read(source_notebook(chapter), as_version=4)
    namespace: dict = {"__name__": "__main__"}
    scores: dict[str, list] = {}
    setup_done = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        grade_id, source = meta.get("grade_id"), cell.source
        if meta.get("solution"):
            source = _strip_markers(answers.get(grade_id, source))
        elif not meta.get("grade") and setup_done and not _defines_only(source):
            continue  # an experiment: not needed by the tests
        setup_done = True
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                exec(compile(source, f"<{grade_id or cell.get('id')}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - a learner's answer may raise anything
            if meta.get("grade"):
                name = type(error).__name__
                message = (
                    "not done yet: replace `raise NotImplementedError()` with your code"
                    if name == "NotImplementedError"
                    else f"{name}: {error}"
                )
                scores[grade_id] = [0.0, float(meta["points"]), message]
            continue
        if meta.get("grade") and cell.cell_type == "code":
            scores[grade_id] = [float(meta["points"]), float(meta["points"]), None]
    return scores


def main() -> None:
    chapter, answers = sys.argv[1], json.load(sys.stdin)
    print(json.dumps({student: grade(chapter, answer) for student, answer in answers.items()}))


if __name__ == "__main__":
    main()

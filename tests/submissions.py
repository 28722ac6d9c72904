"""Make submissions the way learners make them: from the student edition, with cells filled in."""

from pathlib import Path

import nbformat

from grader.course import CHAPTERS, source_notebook


def student_edition(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(CHAPTERS / chapter / f"{chapter}.ipynb", as_version=4)


def completed(chapter: str, answers: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The student edition with every solution cell filled in as the reference solution does,
    except the cells named in ``answers`` (grade_id -> source), which get that source instead."""
    answers = answers or {}
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(source_notebook(chapter), as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = student_edition(chapter)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            source = answers.get(grade_id, solutions[grade_id])
            cell.source = "\n".join(l for l in source.splitlines() if "### BEGIN SOLUTION" not in l and "### END SOLUTION" not in l)
    return nb


def save(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def grade_class(chapter: str, answers: dict[str, dict[str, str]], folder: Path) -> dict:
    """Autograde a class: the reference, the untouched student edition, and one submission per entry of
    ``answers`` (student -> {grade_id: source}, as in ``completed``). Returns student -> nbgrader result."""
    from grader.autograde import autograde

    submissions = {"reference": save(completed(chapter), folder / "reference.ipynb"),
                   "untouched": save(student_edition(chapter), folder / "untouched.ipynb")}
    for student, answer in answers.items():
        submissions[student] = save(completed(chapter, answer), folder / f"{student}.ipynb")
    return autograde(chapter, submissions)


def messages(result) -> str:
    """Every failure message of one graded submission, as one string."""
    return " ".join(c.message or "" for c in result.cells)

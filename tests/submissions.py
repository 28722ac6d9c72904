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

"""The authoring pipeline: sources are checked, student editions are generated and in sync."""

import shutil
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.authoring import MARKERS, lint_source, marked_lines
from grader.course import (
    CHAPTERS,
    ROOT,
    CourseError,
    chapter_ids,
    graded_chapter_ids,
    resolve_chapters,
    source_notebook,
)


def nbgrader(grade_id=None, solution=False, grade=False, points=None):
    meta = {"grade": grade, "solution": solution, "locked": not solution, "schema_version": 3, "task": False}
    if grade_id is not None:
        meta["grade_id"] = grade_id
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


SOLUTION = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
TEST = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 2\n### END HIDDEN TESTS\nprint('ok')\n"


def write(tmp_path, cells):
    path = tmp_path / "bad.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    return path


def good_cells():
    return [
        new_markdown_cell("# A chapter"),
        new_code_cell(SOLUTION, metadata=nbgrader("f", solution=True)),
        new_code_cell(TEST, metadata=nbgrader("test_f", grade=True, points=1)),
    ]


def test_a_well_formed_source_passes(tmp_path):
    assert lint_source(write(tmp_path, good_cells())) == []


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda c: c[1].metadata["nbgrader"].pop("grade_id"),
            r"cell 1 \(code, starting 'def f\(x\):'\): an nbgrader cell needs a grade_id",
        ),
        (lambda c: c[2].metadata["nbgrader"].update(grade_id="f"), r"grade_id 'f' is already used by cell 1"),
        (
            lambda c: c.insert(1, new_code_cell(SOLUTION)),
            r"cell 1 .*'### BEGIN SOLUTION' markers belong in solution cells only",
        ),
        (
            lambda c: c[0].__setitem__("source", TEST),
            r"cell 0 .*'### BEGIN HIDDEN TESTS' markers belong in autograded test cells only",
        ),
        (lambda c: c[1].__setitem__("source", "### BEGIN SOLUTION\nx = 1\n"), r"without a matching '### END SOLUTION'"),
        (lambda c: c[2].metadata["nbgrader"].update(points=0), r"a graded cell needs points > 0"),
        (lambda c: c[2].__setitem__("source", "assert f(1) == 1\n1.0\n"), r"must not end with a bare expression"),
        (lambda c: c.append(new_code_cell("from tinyformer.rnn import f, g")), r"imports f from tinyformer.rnn"),
        (lambda c: c.append(new_code_cell("from tinyformer.rnn import *")), r"imports \* from tinyformer.rnn"),
        (
            lambda c: c[1].__setitem__("outputs", [nbformat.v4.new_output("stream", text="hi")]),
            r"sources are kept without outputs",
        ),
    ],
)
def test_a_malformed_source_is_refused_naming_notebook_and_cell(tmp_path, mutate, message):
    cells = good_cells()
    mutate(cells)
    problems = lint_source(write(tmp_path, cells))
    assert problems, "the malformed source was accepted"
    assert any(p.startswith(str(tmp_path / "bad.ipynb")) for p in problems)
    assert any(__import__("re").search(message, p) for p in problems), problems


def test_the_command_line_refuses_a_broken_notebook_without_a_traceback(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not json")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(broken)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "not a readable Jupyter notebook" in done.stderr and "Traceback" not in done.stderr


def test_a_chapter_is_named_by_its_id_or_its_number():
    assert resolve_chapters(["04-multi-head", "4", "08"]) == ["04-multi-head", "04-multi-head", "08-bert-vs-gpt"]
    assert resolve_chapters(None) == chapter_ids()
    with pytest.raises(CourseError, match="unknown chapter 10, attention; the chapters are: 01-rnn-limits"):
        resolve_chapters(["10", "attention"])


@pytest.mark.parametrize("chapter", chapter_ids())
def test_sources_are_clean(chapter):
    assert lint_source(source_notebook(chapter)) == []


def test_student_editions_are_in_sync_with_the_sources():
    done = subprocess.run(
        [sys.executable, "-m", "grader", "chapters", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("chapter", graded_chapter_ids())
def test_student_edition_holds_no_solution_and_no_hidden_test(chapter):
    text = (CHAPTERS / chapter / f"{chapter}.ipynb").read_text()
    for begin, end in MARKERS.values():
        assert begin not in text and end not in text
    student = nbformat.read(CHAPTERS / chapter / f"{chapter}.ipynb", as_version=4)
    source = nbformat.read(source_notebook(chapter), as_version=4)
    assert leaked_lines(source, student) == [], f"{chapter}: leaked into the student edition"
    assert any("raise NotImplementedError()" in c.source for c in student.cells)


def test_the_leak_check_can_fail():
    """A solution or hidden-test line copied into the student edition is found, on a line of its own or inside a
    longer line; a short hidden line that occurs only inside a visible line (a visible test written on one line, its
    hidden twin split over several) is not a leak, but the same line on its own is."""
    chapter = "03-attention"
    source = nbformat.read(source_notebook(chapter), as_version=4)
    student = nbformat.read(CHAPTERS / chapter / f"{chapter}.ipynb", as_version=4)
    assert leaked_lines(source, student) == []
    hidden = [line for c in source.cells for line in solution_and_hidden_lines(c.source, visible_text(chapter))]
    part_of_visible = "_expected_out, _expected_weights = _self_attention_by_hand("
    assert part_of_visible in hidden and any(part_of_visible in c.source for c in student.cells)
    solution = hidden[0]
    for leak, found in [
        (solution, solution),
        (f"print({solution!r})  # {solution}", solution),
        ("    " + part_of_visible, part_of_visible),
    ]:
        copy = nbformat.from_dict(student)
        copy.cells[-1].source += "\n" + leak
        assert set(leaked_lines(source, copy)) == {found}, leak


def leaked_lines(source: nbformat.NotebookNode, student: nbformat.NotebookNode) -> list[str]:
    """The solution and hidden-test lines of ``source`` (``solution_and_hidden_lines``) found in ``student``: each
    one that occurs in a line of the student edition, but for the lines that are visible text of the source as
    they are (a short hidden line may be part of a longer visible one)."""
    visible = "\n".join(line for cell in source.cells for kind, line in marked_lines(cell.source) if kind is None)
    shown = {line.strip() for line in visible.splitlines()}
    unexplained = [line.strip() for c in student.cells for line in c.source.splitlines() if line.strip() not in shown]
    return [
        line
        for cell in source.cells
        for line in solution_and_hidden_lines(cell.source, visible)
        if any(line in student_line for student_line in unexplained)
    ]


def solution_and_hidden_lines(source: str, visible: str = "") -> list[str]:
    """The distinctive lines between solution or hidden-test markers (those not also in ``visible``,
    the text learners are meant to see)."""
    shown = {line.strip() for line in visible.splitlines()}
    return [
        line.strip()
        for kind, line in marked_lines(source)
        if kind and len(line.strip()) > 25 and not line.strip().startswith("#") and line.strip() not in shown
    ]


def visible_text(chapter: str) -> str:
    """Everything of a chapter's source outside the solution and hidden-test regions."""
    cells = nbformat.read(source_notebook(chapter), as_version=4).cells
    return "\n".join(line for cell in cells for kind, line in marked_lines(cell.source) if kind is None)


def test_the_capstone_is_a_chapter_to_build_and_read_but_not_to_grade():
    assert "09-capstone" in chapter_ids() and "09-capstone" not in graded_chapter_ids()
    assert resolve_chapters(["9"]) == ["09-capstone"]
    with pytest.raises(CourseError, match="the capstone has no exercises and is not graded"):
        resolve_chapters(["09"], graded=True)


def test_a_self_check_of_the_capstone_says_it_is_not_graded():
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", "chapters/09-capstone/09-capstone.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "is the capstone: it has no exercises and is not graded" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_new_gradebook_gets_the_schema_version_nbgrader_itself_would_write(tmp_path):
    """The grader reads the head of nbgrader's migrations in-process instead of nbgrader's `alembic heads`
    subprocess (grader.authoring.gradebook_schema_version): the version must be the one nbgrader asks alembic for,
    and it is what a gradebook made by `generate` holds (else `nbgrader db upgrade` would misread it)."""
    import sqlite3

    from grader.authoring import generate, gradebook_schema_version

    nbgraders_own = subprocess.run(
        [sys.executable, "-c", "import nbgrader.api; print(nbgrader.api.get_alembic_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert gradebook_schema_version() == nbgraders_own
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / "05-positions", course / "solutions" / "05-positions")
    generate("05-positions", course, f"sqlite:///{tmp_path / 'gradebook.db'}")
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(nbgraders_own,)]


def test_make_chapters_replaces_only_the_files_that_changed_each_in_one_step(tmp_path):
    """`make chapters` runs while a learner has the notebook open and, under `make test`, while other tests read
    chapters/: an up-to-date file is left as it is (same inode, same time), a changed one is replaced whole, a
    file the fresh edition no longer has goes."""
    from grader.authoring import _replace_changed

    fresh, target = tmp_path / "fresh", tmp_path / "chapters"
    for folder in (fresh, target):
        (folder / "data").mkdir(parents=True)
    (fresh / "a.ipynb").write_text("same")
    (target / "a.ipynb").write_text("same")
    (fresh / "data" / "b.txt").write_text("new")
    (target / "data" / "b.txt").write_text("old")
    (target / "gone.ipynb").write_text("stale")
    (fresh / "c.ipynb").write_text("added")
    untouched = (target / "a.ipynb").stat()
    assert _replace_changed(fresh, target) == 3
    assert (target / "a.ipynb").stat().st_ino == untouched.st_ino
    assert (target / "a.ipynb").stat().st_mtime_ns == untouched.st_mtime_ns
    assert (target / "data" / "b.txt").read_text() == "new" and (target / "c.ipynb").read_text() == "added"
    assert sorted(p.name for p in target.rglob("*") if p.is_file()) == ["a.ipynb", "b.txt", "c.ipynb"]
    assert _replace_changed(fresh, target) == 0

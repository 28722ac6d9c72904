"""Make submissions the way learners make them: from the student edition, with cells filled in."""

import functools
import os
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
            cell.source = "\n".join(
                line
                for line in source.splitlines()
                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
            )
    return nb


def save(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


GRADING_JOBS = min(2, os.cpu_count() or 1)  # processes grading a test class (each its own scratch course)


def grade_class(
    chapter: str, answers: dict[str, dict[str, str]], folder: Path, alone: dict[str, dict[str, list]] | None = None
) -> dict:
    """Autograde a class: the reference, the untouched student edition, and one submission per entry of
    ``answers`` (student -> {grade_id: source}, as in ``completed``). Returns student -> nbgrader result.

    Each test cell grades its own piece, so answers to different cells can share a notebook, as the cases do
    (``pack``): first every answer is graded alone, in process (tests/case_runner.py, seconds), which says which
    test cells it loses; then answers that share no solution cell and lose no test cell in common go into one
    notebook (``pack_answers``) graded through nbgrader. A valid answer (one that loses nothing) gets a notebook of
    its own. Each student's result is read back from their notebook (``unpacked``): a test cell that another answer
    in it lost counts as passed (it passed when graded alone); a cell that nbgrader scores otherwise than grading
    alone did fails the test. ``alone``: what ``grade_in_process`` gave for these answers (and maybe others), when
    already known."""
    from grader.autograde import autograde

    alone = grade_in_process(chapter, answers) if alone is None else alone
    packing = pack_answers(answers, alone)
    submissions = {
        "reference": save(completed(chapter), folder / "reference.ipynb"),
        "untouched": save(student_edition(chapter), folder / "untouched.ipynb"),
    }
    for notebook, students in packing.items():
        carried = {cell: source for student in students for cell, source in answers[student].items()}
        submissions[notebook] = save(completed(chapter, carried), folder / f"{notebook}.ipynb")
    graded = autograde(chapter, submissions, jobs=GRADING_JOBS)
    results = {"reference": graded["reference"], "untouched": graded["untouched"]}
    for notebook, students in packing.items():
        results.update(unpacked(graded[notebook], {student: alone[student] for student in students}))
    return results


def grade_in_process(chapter: str, answers: dict[str, dict[str, str]]) -> dict[str, dict[str, list]]:
    """student -> {test cell: [score, max_score, message]}: each answer graded alone by tests/case_runner.py."""
    import json
    import subprocess
    import sys

    from grader.course import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "tests.case_runner", chapter],
        input=json.dumps(answers),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _lost(cells: dict[str, list]) -> set[str]:
    return {grade_id for grade_id, (score, top, _) in cells.items() if score < top}


def pack_answers(answers: dict[str, dict[str, str]], alone: dict[str, dict[str, list]]) -> dict[str, list[str]]:
    """Notebook name -> the students whose answers it carries: answers to different solution cells that lose
    different test cells (``alone``: each graded by itself), the first notebook each fits in; a valid answer alone."""
    notebooks: list[tuple[set[str], set[str], list[str]]] = []  # (solution cells, test cells lost, students)
    for student, answer in answers.items():
        cells, lost = set(answer), _lost(alone[student])
        home = next(
            (n for n in notebooks if lost and n[1] and not (n[0] & cells) and not (n[1] & lost)),
            None,
        )
        if home is None:
            notebooks.append((cells, lost, [student]))
        else:
            home[0].update(cells)
            home[1].update(lost)
            home[2].append(student)
    return {(s[0] if len(s) == 1 else f"packed{k:02d}"): s for k, (_, _, s) in enumerate(notebooks)}


def unpacked(result, alone: dict[str, dict[str, list]]) -> dict:
    """student -> their result, from the result of the notebook that carried their answers (``alone``: each of them
    graded by itself). Asserts that nbgrader scored every test cell as grading alone did: the cells a student lost
    as they lost them, every other one full."""
    import dataclasses

    cells = {c.grade_id: c for c in result.cells if not c.manual}
    lost_by = {grade_id: student for student, scores in alone.items() for grade_id in _lost(scores)}
    for grade_id, cell in cells.items():
        student = lost_by.get(grade_id)
        expected = alone[student][grade_id][0] if student else cell.max_score
        assert cell.score == expected, (
            f"{grade_id} of {result.student} (carrying {sorted(alone)}): {cell.score} through nbgrader, "
            f"{expected} graded alone{f' ({student})' if student else ''}: {cell.message}"
        )
    students = {}
    for student in alone:
        own = [
            c
            if c.manual or lost_by.get(c.grade_id) in (None, student)
            else dataclasses.replace(c, score=c.max_score, message=None)
            for c in result.cells
        ]
        students[student] = dataclasses.replace(result, student=student, cells=own)
    return students


def messages(result) -> str:
    """Every failure message of one graded submission, as one string."""
    return " ".join(c.message or "" for c in result.cells)


# Mutation testing: many wrong answers (and valid alternatives) graded in few notebooks. Each test grades its own
# piece, so one notebook can carry one case per solution cell: the k-th submission takes the k-th case of every cell.


class Case:
    """One answer to one solution cell: wrong (``loses`` names the tests that must lose points, ``says`` a phrase
    their messages must contain) or a valid alternative (``loses`` empty: full marks)."""

    def __init__(self, name: str, cell: str, source: str, loses: tuple[str, ...] = (), says: str = ""):
        self.name, self.cell, self.source, self.loses, self.says = name, cell, source, tuple(loses), says

    def __repr__(self) -> str:
        return f"Case({self.name!r})"


@functools.cache
def _solution_cells(chapter: str) -> dict[str, list[str]]:
    """grade_id -> the sources of the solution notebook's cells with that grade_id (one, unless the notebook is wrong)."""
    cells: dict[str, list[str]] = {}
    for c in nbformat.read(source_notebook(chapter), as_version=4).cells:
        grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            cells.setdefault(grade_id, []).append(c.source)
    return cells


def reference_source(chapter: str, grade_id: str) -> str:
    """The reference answer of one cell: its source in the solution notebook (the one source of every piece:
    tinyformer's copy is generated from it), nbgrader markers included."""
    cells = _solution_cells(chapter).get(grade_id, [])
    assert len(cells) == 1, grade_id
    return cells[0]


def patched(source: str, *edits: tuple[str, str], case: str = "") -> str:
    """``source`` with each (old, new) replaced. Each ``old`` must occur exactly once: a wrong answer written as a
    patch of the reference stays the reference with that mistake, and a change to the reference that makes the
    patch stale fails here, naming the case."""
    for old, new in edits:
        count = source.count(old)
        assert count == 1, (
            f"{case or 'a patch'}: {old!r} occurs {count} times in the reference it patches: the "
            "reference changed; update the case's edit"
        )
        source = source.replace(old, new)
    return source


def mutate(chapter: str, grade_id: str, *edits: tuple[str, str], case: str = "") -> str:
    """The reference answer of one cell (``reference_source``) with each (old, new) replaced (``patched``)."""
    return patched(reference_source(chapter, grade_id), *edits, case=case or grade_id)


def pack(cases: list[Case]) -> dict[str, list[Case]]:
    """student -> the cases their notebook carries (at most one per cell)."""
    by_cell: dict[str, list[Case]] = {}
    for case in cases:
        by_cell.setdefault(case.cell, []).append(case)
    assert len({c.name for c in cases}) == len(cases), "case names must be unique"
    return {
        f"cases{k:02d}": [column[k] for column in by_cell.values() if k < len(column)]
        for k in range(max(len(column) for column in by_cell.values()))
    }


def case_answers(packing: dict[str, list[Case]]) -> dict[str, dict[str, str]]:
    """student -> {grade_id: source}, the answers each packed submission (``pack``) carries, as ``completed`` takes
    them."""
    return {student: {c.cell: c.source for c in carried} for student, carried in packing.items()}


def grade_cases(
    chapter: str,
    cases: list[Case],
    folder: Path,
    extra: dict[str, dict[str, str]] | None = None,
    limit: int | None = None,
    alone: dict[str, dict[str, list]] | None = None,
) -> tuple[dict, dict[str, list[Case]]]:
    """Autograde through nbgrader the reference, the untouched edition, the first ``limit`` packed submissions
    (all when None) and the ``extra`` ones (as in ``grade_class``, ``alone`` too); returns (results, packing)."""
    packing = dict(list(pack(cases).items())[:limit])
    return grade_class(chapter, {**case_answers(packing), **(extra or {})}, folder, alone), packing


def case_failures(results: dict, packing: dict[str, list[Case]]) -> list[str]:
    """What went wrong, one line per case: a wrong answer at full marks on its tests, a message without its phrase,
    a valid alternative (or an untouched piece) that lost points."""
    problems = []
    for student, carried in packing.items():
        cells = {c.grade_id: c for c in results[student].cells if not c.manual}
        losing = {t for case in carried for t in case.loses}
        for case in carried:
            if case.loses:
                missing = [t for t in case.loses if t not in cells]
                assert not missing, f"{case.name}: no test cells {missing}"
                if sum(cells[t].score for t in case.loses) >= sum(cells[t].max_score for t in case.loses):
                    problems.append(f"{case.name}: wrong, yet full marks on {case.loses}")
                elif case.says:
                    said = " ".join(cells[t].message or "" for t in case.loses)
                    if case.says not in said:
                        problems.append(f"{case.name}: {case.says!r} not in the messages: {said!r}")
        for grade_id, cell in cells.items():
            if grade_id not in losing and cell.score < cell.max_score:
                blamed = [c.name for c in carried]
                problems.append(
                    f"{student} {blamed}: {grade_id} lost points ({cell.score}/{cell.max_score}): {cell.message}"
                )
    return problems


class _Graded:
    def __init__(self, cells):
        self.cells = cells


def grade_cases_in_process(
    chapter: str, cases: list[Case], alone: dict[str, dict[str, list]] | None = None
) -> tuple[dict, dict[str, list[Case]]]:
    """Every packed case graded by tests/case_runner.py (the notebook's setup, solution, helper and test cells in
    one namespace, no nbgrader: seconds, not minutes), or read from ``alone`` (``grade_in_process`` of them and maybe
    others); returns (results, packing) for ``case_failures``."""
    from grader.autograde import CellResult

    packing = pack(cases)
    raw = grade_in_process(chapter, case_answers(packing)) if alone is None else alone
    results = {
        student: _Graded(
            [CellResult(gid, score, top, message=message) for gid, (score, top, message) in raw[student].items()]
        )
        for student in packing
    }
    return results, packing


NBGRADER_SAMPLE = 3  # packed submissions each chapter grades through nbgrader (each carries one case per cell)


def case_makers(chapter: str, cell: str | None = None, loses: tuple[str, ...] = ()):
    """``case(name, cell, loses, *edits, says=...)`` (a wrong answer: the reference of ``cell`` with each (old, new)
    edit; it must lose points on the tests in ``loses``, and their messages contain ``says``) and
    ``ok(name, cell, *edits)`` (a valid alternative: full marks). Given ``cell`` (and its tests ``loses``), the two
    are for that cell only: ``case(name, *edits, says=..., loses=...)`` and ``ok(name, *edits)``."""
    if cell is None:

        def case(name, cell, loses, *edits, says=""):
            return Case(name, cell, mutate(chapter, cell, *edits, case=name), loses, says)

        def ok(name, cell, *edits):
            return Case(name, cell, mutate(chapter, cell, *edits, case=name))
    else:
        default = loses

        def case(name, *edits, loses=default, says=""):
            return Case(name, cell, mutate(chapter, cell, *edits, case=name), loses, says)

        def ok(name, *edits):
            return Case(name, cell, mutate(chapter, cell, *edits, case=name))

    return case, ok


def round_trip(chapter: str, cases: list[Case], extra: dict[str, dict[str, str]] | None = None):
    """What every chapter's round-trip module shares, to be bound to these names in it:

        graded, results, test_wrong_answers_lose_points_and_alternatives_get_full_marks, test_every_case_in_process = \\
            round_trip(CHAPTER, CASES, extra=ANSWERS)

    ``graded``: the reference, the untouched edition, the ``extra`` submissions and the first NBGRADER_SAMPLE packed
    submissions of ``cases``, graded through nbgrader (a module fixture); ``results``: their results; and the two
    tests: the sample through nbgrader, and every case in process. Every packed case and every ``extra`` answer is
    graded alone in process once (``alone``), for both: the sample's check against nbgrader, and the sweep."""
    import pytest

    @functools.cache
    def alone() -> dict[str, dict[str, list]]:
        packed = case_answers(pack(cases))
        assert not set(packed) & set(extra or {}), f"extra answers named as packed cases: {set(packed) & set(extra)}"
        return grade_in_process(chapter, {**packed, **(extra or {})})

    @pytest.fixture(scope="module")
    def graded(tmp_path_factory):
        folder = tmp_path_factory.mktemp(f"submissions-{chapter}")
        return grade_cases(chapter, cases, folder, extra=extra, limit=NBGRADER_SAMPLE, alone=alone())

    @pytest.fixture(scope="module")
    def results(graded):
        return graded[0]

    def test_wrong_answers_lose_points_and_alternatives_get_full_marks(graded):
        """Through nbgrader, a sample: the first NBGRADER_SAMPLE cases of every cell (the issue's cases come first)."""
        assert case_failures(*graded) == []

    def test_every_case_in_process():
        """Every case, graded by the notebook's own test cells without nbgrader (seconds): each wrong answer loses
        the points of its own piece only, with its message; each valid alternative gets full marks."""
        assert case_failures(*grade_cases_in_process(chapter, cases, alone())) == []

    return graded, results, test_wrong_answers_lose_points_and_alternatives_get_full_marks, test_every_case_in_process

"""Grading through nbgrader in a scratch course folder, and the learners' self-check.

A scratch course is built per call: the chapter's source is copied in, nbgrader generates the
release (which records the test cells and their checksums in a fresh gradebook), the notebooks are
placed under submitted/<student>/<chapter>/, and nbgrader autograde runs them with
NBGRADER_EXECUTION=autograde. Scores are read back from the gradebook.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from sqlalchemy.exc import SAWarning

from tinyformer.i18n import N_, gettext

from .authoring import generate, is_test_cell, nbgrader_log, read_notebook
from .course import ROOT, SOLUTIONS, UNGRADED, CourseError, graded_chapter_ids, nbgrader_config, source_notebook
from .kernel_start import StartedAgainIfItDies
from .sandbox import Limits, guarded_kernel_argv, install_kernel, write_kernelspec

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CellResult:
    grade_id: str
    score: float
    max_score: float
    manual: bool = False  # a written answer, graded by hand (its score is 0 until then)
    message: str | None = None  # the error a failing test raised (never the test's code)


@dataclass
class NotebookResult:
    chapter: str
    student: str
    cells: list[CellResult] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # cells interrupted, that killed the kernel, or not run (lost_cells)

    @property
    def auto_cells(self) -> list[CellResult]:
        return [c for c in self.cells if not c.manual]

    @property
    def score(self) -> float:
        return sum(c.score for c in self.auto_cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.auto_cells)


OUTPUT_BYTES_PER_CELL = 1_000_000  # what the graded notebook keeps of a cell's output; errors are always kept
OUTPUT_BYTES_PER_NOTEBOOK = 100_000_000  # more than this, and grading stops: the notebook floods its output


class OutputFlood(Exception):
    """A notebook printed more than OUTPUT_BYTES_PER_NOTEBOOK."""


def guard_config(source: Path) -> dict:
    """What the kernel guard (grader/guard.py) needs: the SHA-256 of each test cell's source, and the names the
    notebook's own cells import (re-bound to the originals before every test statement)."""
    nb = read_notebook(source)
    tests = [
        hashlib.sha256(text.encode()).hexdigest()
        for c in nb.cells
        if is_test_cell(c)
        for text in (c.source, restored_test_cell(c.metadata["nbgrader"]["grade_id"], c.source))
    ]
    bindings = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("solution") or is_test_cell(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                bindings += [
                    [a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0], None]
                    for a in node.names
                ]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                bindings += [[a.asname or a.name, node.module, a.name] for a in node.names if a.name != "*"]
    return {"test_cells": tests, "bindings": bindings, "trusted": [str((ROOT / "tinyformer").resolve())]}


@contextlib.contextmanager
def _plain_guarded_kernel(folder: Path, guard: dict, package: Path | None = None):
    """nbgrader's kernel started through the guard, without the sandbox (the learner's self-check,
    --unsafe-no-sandbox, tests). ``package``: the folder the kernel imports as tinyformer, put first on its
    path (grader/references.py: without the graded chapter's reference pieces, as in the sandbox), so that the
    self-check gives the score the instructor's grading gives."""
    env = {}
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(package.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
        guard = {**guard, "trusted": [*guard.get("trusted", []), str(package.resolve())]}
    write_kernelspec(folder / "jupyter", guarded_kernel_argv(), guard, folder / "guard.json", "Python 3 (guarded)", env)
    before = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(folder / "jupyter")
    try:
        yield
    finally:
        if before is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = before


MAX_KERNEL_RESTARTS = 3  # a notebook whose kernel dies more often than this has the rest of its cells not run
# What a lost cell's error output says (ename): nbgrader scores a test cell with an error 0, and the batch names
# each such cell in grades.csv (lost_cells)
TIMED_OUT, KERNEL_DIED, NOT_RUN = "CellTimeoutError", "DeadKernelError", "NotRun"


def cell_name(cell, index: int) -> str:
    """How a message names a cell: its grade_id, else its position and first line."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    if grade_id:
        return grade_id
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    return f"cell {index + 1} ({first[:40]}{'...' if len(first) > 40 else ''})"


def _error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _guarded_execute(deadline: float | None = None):
    """nbgrader's Execute, with defences that live in the grader's process, out of the notebook's reach:
    a test cell's output cannot be cleared (a clear_output message sent by the notebook is ignored); a
    cell keeps at most OUTPUT_BYTES_PER_CELL of output (errors are always kept); and a notebook that prints
    more than OUTPUT_BYTES_PER_NOTEBOOK is stopped (OutputFlood) rather than left to run out of time.

    One bad cell costs only its own points. A cell over the time limit is interrupted (nbclient's
    interrupt_on_timeout, when the configuration asks for it) and scored as failed, saying why; a kernel
    that dies in a cell, or does not stop when interrupted, is started again, the cells before that one
    are run again (outputs kept from the first run) and grading goes on. With ``deadline`` (a time.time()),
    no cell runs past it: the cells left when it comes are scored as not run, so the notebook is graded
    (and gets its feedback) before the batch's wall-time limit kills it."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbgrader.preprocessors import Execute
    from traitlets import default

    class GuardedExecute(StartedAgainIfItDies, Execute):
        @default("shutdown_kernel")
        def _kill_the_kernel_when_done(self):
            # not asked to quit and waited for (1.4 s a submission): nothing of the kernel is kept, the sandbox ends with it
            return "immediate"

        def clear_output(self, outs, msg, cell_index):
            if is_test_cell(self.nb.cells[cell_index]):
                return
            super().clear_output(outs, msg, cell_index)

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] != "error":
                sizes = self.__dict__.setdefault("_output_sizes", {})
                size = len(json.dumps(msg["content"]))
                sizes[cell_index] = sizes.get(cell_index, 0) + size
                sizes["total"] = sizes.get("total", 0) + size
                if sizes["total"] > OUTPUT_BYTES_PER_NOTEBOOK:
                    raise OutputFlood(
                        f"the notebook printed more than {OUTPUT_BYTES_PER_NOTEBOOK // 10**6} MB of output "
                        f"(a print in a long loop?), in {cell_name(self.nb.cells[cell_index], cell_index)}"
                    )
                if sizes[cell_index] > OUTPUT_BYTES_PER_CELL:
                    if not outs or outs[-1].get("text") != self._TRUNCATED:
                        outs.append(nbformat.v4.new_output("stream", name="stdout", text=self._TRUNCATED))
                    return None
            return super().output(outs, msg, display_id, cell_index)

        _TRUNCATED = f"\n[output truncated by the grader: more than {OUTPUT_BYTES_PER_CELL:,} bytes]\n"

        def preprocess(self, nb, resources=None, km=None):
            self._lost: set[int] = set()  # cells that timed out or killed the kernel: not run again
            self._restarts = 0
            self._stopped: str | None = None  # why the cells left are not run
            return super().preprocess(nb, resources, km)

        def _get_timeout(self, cell):
            timeout = super()._get_timeout(cell)
            if deadline is None:
                return timeout
            left = max(1, int(deadline - time.time()))
            return left if timeout is None else min(timeout, left)

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code" or not cell.source.strip():
                return super().preprocess_cell(cell, resources, index)
            if self._stopped is None and deadline is not None and time.time() >= deadline:
                self._stopped = "the notebook's time limit ran out before this cell"
            if self._stopped is not None:
                cell.outputs = [_error_output(NOT_RUN, f"not run: {self._stopped}")]
                return cell, self.resources
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                why = (
                    "the kernel died while running this cell (os._exit, a crash, or a memory or process "
                    "limit); the grader started it again for the cells after it"
                )
            except CellTimeoutError:
                if not self.interrupt_on_timeout:
                    raise  # the configuration stops the notebook at an endless cell (the learner's self-check)
                why = (
                    f"this cell ran longer than {self._get_timeout(cell)} s and did not stop when interrupted; "
                    "the grader started the kernel again for the cells after it"
                )
            cell.outputs.append(_error_output(KERNEL_DIED, why))
            self._lost.add(index)
            self._restart_kernel(index)
            return cell, self.resources

        def on_cell_executed(self, **kwargs):
            super().on_cell_executed(**kwargs)
            if kwargs["execute_reply"]["content"].get("ename") != TIMED_OUT:
                return
            # interrupted: say why in place of the KeyboardInterrupt the interrupted code raised
            cell, index = kwargs["cell"], kwargs["cell_index"]
            self._lost.add(index)
            cell.outputs = [
                o
                for o in cell.outputs
                if not (o.output_type == "error" and o.get("ename") in ("KeyboardInterrupt", TIMED_OUT))
            ]
            limit = (
                "the notebook's time limit ran out"
                if deadline is not None and time.time() >= deadline - 1
                else f"it ran longer than the limit of {self.timeout} s"
            )
            cell.outputs.append(_error_output(TIMED_OUT, f"this cell was interrupted: {limit} (an endless loop?)"))

        def _restart_kernel(self, index: int) -> None:
            """A fresh kernel in the dead one's place, brought to the state the notebook had before cell
            ``index`` by running the earlier cells again (test cells and lost cells excepted)."""
            name = cell_name(self.nb.cells[index], index)
            self._restarts += 1
            if self._restarts > MAX_KERNEL_RESTARTS:
                self._stopped = f"the kernel died {self._restarts} times, the last in {name}"
                return
            graceful, self.shutdown_kernel = self.shutdown_kernel, "immediate"  # a hung kernel is not asked
            try:
                self._cleanup_kernel()
            finally:
                self.shutdown_kernel = graceful
            for _attempt in range(2):  # what the dead kernel left (a fork bomb's children) may take a moment to end
                try:
                    self.km = self.create_kernel_manager()
                    self.start_new_kernel()
                    self.start_new_kernel_client()
                    break
                except Exception as error:  # noqa: BLE001 (whatever stops a kernel from starting: say it, go on)
                    problem = str(error).splitlines()[0] if str(error) else type(error).__name__
                    if self.km is None:  # nbclient drops a manager whose kernel did not start; its clean-up needs one
                        self.km = self.create_kernel_manager()
                    time.sleep(3)
            else:
                self._stopped = f"the kernel could not be started again after {name} ({problem})"
                return
            for earlier in range(index):
                cell = self.nb.cells[earlier]
                if cell.cell_type != "code" or earlier in self._lost or is_test_cell(cell) or not cell.source.strip():
                    continue
                try:
                    self.execute_cell(copy.deepcopy(cell), earlier, store_history=False)
                except (DeadKernelError, CellTimeoutError):
                    self._stopped = (
                        f"the kernel could not be started again after {name}: "
                        f"{cell_name(cell, earlier)} failed when run again"
                    )
                    return
                finally:
                    self.nb.cells[earlier] = cell  # execute_cell stores the copy: keep the first run's outputs

    return GuardedExecute


def lost_cells(cells: list) -> list[str]:
    """One line per way cells were lost (interrupted, killed the kernel, not run), naming the cells."""
    kinds = {TIMED_OUT: "interrupted at the time limit", KERNEL_DIED: "the kernel died or hung (started again)"}
    lost: dict[str, list[str]] = {}
    for index, cell in enumerate(cells):
        error = next(
            (
                o
                for o in cell.get("outputs", [])
                if o.get("output_type") == "error" and o.get("ename") in (TIMED_OUT, KERNEL_DIED, NOT_RUN)
            ),
            None,
        )
        if error is not None:
            kind = kinds.get(error["ename"]) or error.get("evalue", "not run")
            lost.setdefault(kind, []).append(cell_name(cell, index))
    return [
        f"{kind}: {', '.join(names[:4])}{f' and {len(names) - 4} more' if len(names) > 4 else ''}"
        for kind, names in lost.items()
    ]


def prepare_course(chapter: str, course: Path) -> str:
    """A scratch course folder for one chapter: its source, a gradebook that knows its test cells, and the
    package the sandboxed kernel imports as tinyformer (without this chapter's and later chapters' reference
    pieces: grader/references.py). Returns the gradebook's URL."""
    from .references import withholding_package

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    shutil.copytree(SOLUTIONS / chapter, course / "solutions" / chapter)
    generate(chapter, course, db_url)
    withholding_package(chapter, course / KERNEL_PACKAGE)
    return db_url


MISSING_CELL_NOTE = "This cell (id:{cell_id}) was deleted from the submission; the grader put it back.\n\n"  # markdown: a paragraph of its own


def restored_test_cell(grade_id: str, source: str) -> str:
    """A test cell as nbgrader's OverwriteCells puts it back when a learner deleted it: its note as a comment
    on the first line, then the course's source (the guard recognises it by this text too)."""
    return "# " + MISSING_CELL_NOTE.format(cell_id=grade_id) + source


KERNEL_PACKAGE = "kernel-package/tinyformer"  # in a scratch course: what the sandboxed kernel imports as tinyformer


def grade_in_course(
    course: Path,
    db_url: str,
    chapter: str,
    student: str,
    notebook: Path,
    sandbox: tuple[list[Path], Limits, int] | None = None,
    limits: Limits | None = None,
    deadline: float | None = None,
) -> tuple[NotebookResult, Path]:
    """Autograde one notebook with nbgrader in a prepared course; return its result and the graded notebook.

    With ``sandbox`` (folders to hide, limits, the uid to run as when grading as root) the kernel runs in
    the bubblewrap sandbox. With ``limits`` (the class batch: the sandbox's, or given), a cell that runs past
    ``limits.cell_seconds`` is interrupted and scored as failed while the rest of the notebook runs, and no
    cell runs past ``deadline`` (a time.time()); without, a cell over nbgrader's limit stops the notebook.
    """
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    target = course / "submitted" / student / chapter
    target.mkdir(parents=True)
    submitted = _without_duplicate_ids(read_notebook(notebook))
    nbformat.write(submitted, target / f"{chapter}.ipynb")
    config = nbgrader_config(course, db_url)
    # nbgrader's OverwriteCells restores the course's test cells and puts back the ones a learner deleted
    # (without, nbgrader scores a missing test cell 0, with no message; restored, it runs, so a correct answer
    # keeps its points), with MISSING_CELL_NOTE as their first line
    config.OverwriteCells.add_missing_cells = True
    config.OverwriteCells.missing_cell_notification = MISSING_CELL_NOTE
    config.Autograde.autograde_preprocessors = [
        _guarded_execute(deadline),
        *Autograde.class_traits()["autograde_preprocessors"].default()[1:],
    ]
    limits = limits or (sandbox[1] if sandbox is not None else None)
    if limits is not None:
        config.ExecutePreprocessor.timeout = config.Execute.timeout = limits.cell_seconds
        config.Execute.interrupt_on_timeout = True
    guard = guard_config(source_notebook(chapter, course / "solutions"))
    guard["language"] = notebook_language(submitted, notebook)  # the messages of its tests come in its language
    with contextlib.ExitStack() as stack:
        if sandbox is not None:
            hide, limits, uid = sandbox
            install_kernel(
                config,
                course / ".sandbox" / student,
                course / "autograded" / student / chapter,
                hide,
                limits,
                guard,
                uid,
                package=course / KERNEL_PACKAGE,
            )
        else:
            stack.enter_context(_plain_guarded_kernel(course / ".kernel" / student, guard, course / KERNEL_PACKAGE))
        _run_autograde(Autograde, CourseDirectory, config, chapter, student)
    graded = course / "autograded" / student / chapter / f"{chapter}.ipynb"
    return _read_results(graded, db_url, chapter, student), graded


def notebook_language(nb: nbformat.NotebookNode, path: Path | None = None) -> str:
    """A notebook's language: its metadata's (the Chinese edition says zh_CN), else its file name's
    (NN-slug.zh.ipynb), else English."""
    from tinyformer.i18n import language_of_path, normalise

    given = (nb.metadata.get("tinyformer_course") or {}).get("language")
    if isinstance(given, str) and given:
        return normalise(given)
    return language_of_path(path) if path is not None else "en"


def _run_autograde(Autograde, CourseDirectory, config, chapter: str, student: str) -> None:
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id, coursedir.student_id = chapter, student
    converter = Autograde(coursedir=coursedir, config=config)
    with nbgrader_log(converter.log) as log, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own SQLAlchemy noise
        try:
            converter.start()
        except Exception:
            raise CourseError(
                f"nbgrader could not autograde {student}'s {chapter}:\n{log.text()}\n{_failure_reason(log.text(200))}"
            ) from None


def _read_results(graded: Path, db_url: str, chapter: str, student: str) -> NotebookResult:
    """The scores nbgrader wrote into the gradebook, in notebook order, with each failing test's message."""
    from nbgrader.api import Gradebook

    cells = nbformat.read(graded, as_version=4).cells
    order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
    manual = {
        c.metadata["nbgrader"]["grade_id"]
        for c in cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution")
    }
    messages = _error_messages(cells)
    result = NotebookResult(chapter, student, lost=lost_cells(cells))
    with warnings.catch_warnings(), Gradebook(db_url) as gradebook:
        warnings.simplefilter("ignore", SAWarning)
        submission = gradebook.find_submission_notebook(chapter, chapter, student)
        for grade in sorted(submission.grades, key=lambda g: order.index(g.name) if g.name in order else len(order)):
            result.cells.append(
                CellResult(
                    grade.name,
                    float(grade.score),
                    float(grade.max_score),
                    grade.name in manual,
                    messages.get(grade.name),
                )
            )
    return result


def _without_duplicate_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep the first cell of each grade_id of a submission (a learner copied a test or a solution cell): later
    copies of a test cell are dropped (nbgrader restores the test from the source anyway), later copies of a
    solution cell stay as plain cells (the learner's code is kept). nbgrader's own DeduplicateIds cannot be
    left to do it: it leaves the copy an empty ``nbgrader`` metadata dict, on which OverwriteCells'
    ``add_missing_cells`` (which we use) fails with KeyError 'grade_id' (nbgrader 0.9.6)."""
    seen: set[str] = set()
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id and grade_id in seen:
            if meta.get("grade") and not meta.get("solution"):
                continue
            del cell.metadata["nbgrader"]
        elif grade_id:
            seen.add(grade_id)
        cells.append(cell)
    nb.cells = cells
    return nb


def _failure_reason(log: str) -> str:
    """One line for the CSV: why nbgrader could not grade a notebook at all."""
    if "OutputFlood" in log:
        return next(line.split("OutputFlood: ", 1)[1] for line in log.splitlines() if "OutputFlood: " in line)
    if "DeadKernelError" in log:
        return "the kernel died while running the notebook (os._exit, a crash, or a memory or process limit)"
    if "CellTimeoutError" in log or "TimeoutError" in log:
        return "a cell ran longer than the time limit (an endless loop?)"
    if "CellExecutionError" in log:
        return "a cell failed in a way nbgrader could not grade"
    lines = [
        line.strip()
        for line in log.splitlines()
        if line.strip() and not line.startswith(("There was an error processing", "Removing failed assignment", " "))
    ]
    return (lines[-1] if lines else "nbgrader could not grade the notebook")[:200]


def autograde(chapter: str, submissions: dict[str, Path], jobs: int = 1) -> dict[str, NotebookResult]:
    """Autograde each student's notebook of one chapter in one scratch course (no sandbox: for the
    learner's own notebook and for tests); return the results by student id. With ``jobs`` > 1 the
    submissions are dealt out to that many processes, each with its own scratch course and gradebook."""
    if jobs > 1 and len(submissions) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        students = list(submissions)
        shares = [{s: submissions[s] for s in students[k::jobs]} for k in range(min(jobs, len(students)))]
        with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("spawn")) as pool:
            graded = {}
            for share in pool.map(autograde, [chapter] * len(shares), shares):
                graded.update(share)
        return {student: graded[student] for student in students}
    with tempfile.TemporaryDirectory(prefix="grader-") as scratch:
        course = Path(scratch)
        db_url = prepare_course(chapter, course)
        return {
            student: grade_in_course(course, db_url, chapter, student, notebook)[0]
            for student, notebook in submissions.items()
        }


NOT_DONE = N_("not done yet: replace `raise NotImplementedError()` with your code")


def _error_messages(cells: list) -> dict[str, str]:
    """grade_id -> 'ErrorName: message' of the first error each test cell raised."""
    messages = {}
    for cell in cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and grade_id:
                if output.get("ename") == "NotImplementedError":
                    messages[grade_id] = NOT_DONE
                else:
                    messages[grade_id] = ANSI.sub("", f"{output.get('ename')}: {output.get('evalue')}").strip()
                break
    return messages


def self_check(notebook: str, chapter: str | None = None) -> int:
    """Print the score a notebook would get, test by test; 0 when every autograded point is earned.

    The chapter is read from the notebook's cells, as the instructor's autograder reads it, so a renamed
    copy is checked as what it is; ``chapter`` (--chapter) must agree with them."""
    from .intake import identify_chapter

    path = Path(notebook)
    nb = read_notebook(path)  # refuse what is not a notebook, with a clear message
    found, problem = identify_chapter(path, graded_chapter_ids())
    if found is None and any(path.name.startswith(ungraded) for ungraded in UNGRADED):
        raise CourseError(
            f"{path.name} is the capstone: it has no exercises and is not graded. Run it top to "
            "bottom in Jupyter; it says which of your pieces it used, and its last cell checks its results"
        )
    if found is None:
        raise CourseError(f"cannot tell which chapter {path.name} belongs to: {problem}")
    if chapter and chapter != found:
        raise CourseError(
            f"{path.name} holds the exercises of {found}, not {chapter}: leave out --chapter to check it as {found}"
        )
    chapter = found
    try:
        result = autograde(chapter, {"you": path})["you"]
    except CourseError as error:
        raise CourseError(f"the self-check could not grade {path.name}: {str(error).splitlines()[-1]}") from None
    unanswered = {
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.cell_type == "markdown"
        and c.metadata.get("nbgrader", {}).get("grade_id")
        and "YOUR ANSWER HERE" in c.source
    }
    _ = functools.partial(gettext, language=notebook_language(nb, path))  # in the notebook's language
    print(_("Self-check of {path} ({chapter}), run as the autograder runs it:").format(path=path, chapter=chapter))
    width = max(len(c.grade_id) for c in result.cells)
    for cell in result.cells:
        if cell.manual:
            note = _("not answered yet (YOUR ANSWER HERE)") if cell.grade_id in unanswered else _("graded by hand")
            print(
                f"  {cell.grade_id:<{width}}  – / {cell.max_score:g}      "
                + _("written answer, {note}").format(note=note)
            )
            continue
        mark = "ok" if cell.score == cell.max_score else "  "
        line = f"  {cell.grade_id:<{width}}  {cell.score:g} / {cell.max_score:g}  {mark}"
        if cell.message:
            message = cell.message.splitlines()[0]
            if message == NOT_DONE:
                message = _(NOT_DONE)
            line += f"  {message}"
        print(line)
    print(
        _("Autograded score: {score} / {max_score}").format(
            score=f"{result.score:g}", max_score=f"{result.max_score:g}"
        )
    )
    sys.stdout.flush()
    return 0 if result.score == result.max_score else 1

"""From instructor sources (solutions/) to student editions (chapters/), with the sources checked first.

A source notebook is refused, with the notebook and the cell named, when nbgrader would misread it:
a graded cell without a grade_id, a duplicate grade_id, solution or hidden-test markers outside the
cells that nbgrader clears, unbalanced markers, a test cell ending in a bare expression (nbgrader
would read its value as partial credit), or an import of tinyformer's reference of an exercise.
"""

from __future__ import annotations

import ast
import filecmp
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import nbformat

from .course import CHAPTERS, ROOT, SOLUTIONS, CourseError, nbgrader_config, source_notebook
from .translation import write_student_translation

MARKERS = {
    "solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
    "hidden tests": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
}


def is_test_cell(cell) -> bool:
    """An nbgrader test cell: a graded code cell that is not a solution (its source is the course's)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def marked_lines(source: str, kinds: tuple[str, ...] = tuple(MARKERS)) -> list[tuple[str | None, str]]:
    """Each line of a cell that is not a marker, with the kind of marked region it lies in (None outside)."""
    begins = {MARKERS[k][0]: k for k in kinds}
    ends = {MARKERS[k][1] for k in kinds}
    lines, inside = [], None
    for line in source.splitlines():
        stripped = line.strip()
        if stripped in begins:
            inside = begins[stripped]
        elif stripped in ends:
            inside = None
        else:
            lines.append((inside, line))
    return lines


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook, turning every way it can be unreadable into one clear CourseError."""
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise CourseError(f"{path}: no such notebook") from None
    except Exception as error:  # JSON errors, nbformat validation errors, encoding errors
        raise CourseError(f"{path}: not a readable Jupyter notebook ({type(error).__name__}: {error})") from None


def _where(path: Path, index: int, cell) -> str:
    first = next((line for line in cell.source.splitlines() if line.strip()), "").strip()[:60]
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    label = f"grade_id '{grade_id}', " if grade_id else ""
    return f"{_relative(path)}, cell {index} ({label}{cell.cell_type}, starting {first!r})"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def lint_source(path: Path) -> list[str]:
    """Every problem that makes this source notebook unfit for nbgrader; empty when it is fine."""
    nb = read_notebook(path)
    problems: list[str] = []
    seen_ids: dict[str, int] = {}
    exercise_names: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        where = _where(path, index, cell)
        is_solution, is_grade, is_task = (bool(meta.get(k)) for k in ("solution", "grade", "task"))
        if is_solution or is_grade or is_task:
            grade_id = meta.get("grade_id")
            if not isinstance(grade_id, str) or not grade_id.strip():
                problems.append(f"{where}: an nbgrader cell needs a grade_id")
            elif grade_id in seen_ids:
                problems.append(f"{where}: grade_id '{grade_id}' is already used by cell {seen_ids[grade_id]}")
            else:
                seen_ids[grade_id] = index
        if is_grade:
            points = meta.get("points")
            if not isinstance(points, (int, float)) or points <= 0:
                problems.append(f"{where}: a graded cell needs points > 0, got {points!r}")
        for kind, (begin, end) in MARKERS.items():
            lines = [line.strip() for line in cell.source.splitlines()]
            if begin not in lines and end not in lines:
                continue
            allowed = is_solution if kind == "solution" else (is_grade and not is_solution)
            if not allowed:
                cell_kind = "solution cells" if kind == "solution" else "autograded test cells"
                problems.append(f"{where}: '{begin}' markers belong in {cell_kind} only")
            depth = 0
            for line in lines:
                depth += (line == begin) - (line == end)
                if depth not in (0, 1):
                    problems.append(f"{where}: {kind} markers are unbalanced or nested")
                    break
            else:
                if depth != 0:
                    problems.append(f"{where}: '{begin}' without a matching '{end}'")
        if cell.cell_type == "code":
            if cell.get("outputs") or cell.get("execution_count") is not None:
                problems.append(f"{where}: sources are kept without outputs (make chapters strips them)")
            tree = _parse(cell.source)
            if tree is None:
                problems.append(f"{where}: not valid Python")
                continue
            if is_solution:
                exercise_names |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            if is_grade and not is_solution and tree.body:
                last = tree.body[-1]
                if isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call):
                    problems.append(
                        f"{where}: a test cell must not end with a bare expression (nbgrader reads its value as "
                        "partial credit); end it with a statement, e.g. a print"
                    )
    for index, cell in enumerate(nb.cells):
        tree = _parse(cell.source) if cell.cell_type == "code" else None
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinyformer"):
                names = {alias.name for alias in node.names}
                clash = sorted(names & exercise_names) or (["*"] if "*" in names else [])
                if clash:
                    problems.append(
                        f"{_where(path, index, cell)}: imports {', '.join(clash)} from {node.module}, which would "
                        "replace the learner's own answer; import only pieces of earlier chapters, by name"
                    )
    return problems


def _parse(source: str) -> ast.Module | None:
    # IPython magics and shell escapes are not Python; blank them out before parsing.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def strip_outputs(path: Path) -> bool:
    """Clear outputs and execution counts of a source notebook in place; True when it changed."""
    nb = read_notebook(path)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count = [], None
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def check_sources(chapters: list[str], solutions: Path = SOLUTIONS) -> None:
    """Raise one CourseError listing every problem of every named chapter's source."""
    problems = []
    for chapter in chapters:
        path = source_notebook(chapter, solutions)
        if not path.exists():
            problems.append(f"{_relative(path)}: missing (each solutions/NN-slug/ holds NN-slug.ipynb)")
            continue
        problems += lint_source(path)
    if problems:
        raise CourseError("the instructor sources have problems:\n  " + "\n  ".join(problems))


class nbgrader_log:
    """Collect what an nbgrader app logs (instead of printing it), to quote it when the app fails."""

    def __init__(self, logger: logging.Logger):
        self.logger, self.records = logger, []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = self.records.append

    def __enter__(self) -> "nbgrader_log":
        self.saved = (self.logger.handlers[:], self.logger.propagate, self.logger.level)
        self.logger.handlers, self.logger.propagate = [self.handler], False
        self.logger.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.handlers, self.logger.propagate, level = self.saved
        self.logger.setLevel(level)

    def text(self, lines: int = 15) -> str:
        messages = [r.getMessage().strip() for r in self.records if "see the the above traceback" not in r.getMessage()]
        text = "\n".join(m for m in messages if m)
        return "\n".join(text.splitlines()[-lines:]) or "(nbgrader logged nothing)"


@lru_cache(maxsize=1)
def gradebook_schema_version() -> str:
    """The version nbgrader writes into a new gradebook: the head of its database migrations, read in this process.

    nbgrader 0.9.6 asks a new ``alembic heads`` process for it every time it creates a gradebook
    (``nbgrader.api.get_alembic_version``): a fresh Python importing alembic, SQLAlchemy and nbgrader, 1.5 to 4 s
    on two cores, paid for every student edition and twice per class batch before the first submission is
    graded. The same migrations, read here (tests/test_authoring.py checks that the answers agree)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:  # nbgrader would take the first line of `alembic heads`: not ours to guess
        raise CourseError(f"nbgrader's gradebook migrations have {len(heads)} heads ({', '.join(heads)}); expected one")
    return heads[0]


def generate(chapter: str, course_root: Path, db_url: str | None = None) -> Path:
    """Run nbgrader generate_assignment for one chapter in a course folder; return the release folder.

    ``course_root`` must hold solutions/<chapter>/; the student edition lands in chapters/<chapter>/, with its
    Chinese edition, <chapter>.zh.ipynb, beside it (grader/translation.py).
    """
    import nbgrader.api
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    nbgrader.api.get_alembic_version = gradebook_schema_version  # a new gradebook's version, without a subprocess
    with tempfile.TemporaryDirectory() as scratch:
        config = nbgrader_config(course_root, db_url or f"sqlite:///{Path(scratch) / 'gradebook.db'}")
        config.BaseConverter.force = True
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = chapter
        converter = GenerateAssignment(coursedir=coursedir, config=config)
        with nbgrader_log(converter.log) as log:
            try:
                converter.start()
            except Exception:
                raise CourseError(
                    f"nbgrader could not generate the student edition of {chapter}:\n{log.text()}"
                ) from None
    release = course_root / "chapters" / chapter
    write_student_translation(chapter, release)  # NN-slug.zh.ipynb: the same notebook, its prose in Chinese
    return release


@contextmanager
def _fresh_editions(chapters: list[str]) -> Iterator[Iterator[tuple[str, Path]]]:
    """Each chapter's student edition generated afresh in a scratch course: (chapter, its release folder)."""
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch)

        def editions() -> Iterator[tuple[str, Path]]:
            for chapter in chapters:
                shutil.copytree(SOLUTIONS / chapter, course / "solutions" / chapter)
                yield chapter, generate(chapter, course, f"sqlite:///{course / 'gradebook.db'}")

        yield editions()


def generate_student_editions(chapters: list[str]) -> list[tuple[Path, int]]:
    """Strip and check the sources, then bring chapters/<chapter>/ up to date for each chapter: (the folder, how
    many of its files changed).

    Each edition is generated in a scratch course and only the files that differ are replaced, each in one step
    (os.replace), so that a notebook open in Jupyter, or read by a test, while this runs is never missing or half
    written, and an up-to-date edition is not touched."""
    for chapter in chapters:
        strip_outputs(source_notebook(chapter))
    check_sources(chapters)
    updated = []
    with _fresh_editions(chapters) as editions:
        for chapter, fresh in editions:
            updated.append((CHAPTERS / chapter, _replace_changed(fresh, CHAPTERS / chapter)))
    return updated


def out_of_sync(chapters: list[str]) -> list[str]:
    """The chapters whose committed student edition differs from a fresh generation (file by file)."""
    check_sources(chapters)
    with _fresh_editions(chapters) as editions:
        return [chapter for chapter, fresh in editions if _differs(fresh, CHAPTERS / chapter)]


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _replace_changed(fresh: Path, target: Path) -> int:
    """Make ``target`` hold exactly ``fresh``'s files, replacing only those that differ; how many changed."""
    new, old = _files(fresh), _files(target)
    changed = 0
    for name in new:
        if name in old and filecmp.cmp(fresh / name, target / name, shallow=False):
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        staged = (target / name).with_name(f".{name.name}.new")
        shutil.copyfile(fresh / name, staged)
        os.replace(staged, target / name)
        changed += 1
    for name in set(old) - set(new):
        (target / name).unlink()
        changed += 1
    return changed


def _differs(a: Path, b: Path) -> bool:
    files_a, files_b = _files(a), _files(b)
    if files_a != files_b:
        return True
    return any(not filecmp.cmp(a / f, b / f, shallow=False) for f in files_a)

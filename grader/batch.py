"""`python -m grader autograde SUBMISSIONS`: grade a class, safely, into a gradebook, a CSV and feedback.

Each submission is graded by `grader.worker` in a process of its own (``--jobs`` at a time), its kernel
in the sandbox, under a wall-time limit; a cell that loops or kills its kernel costs that cell's points
(grader/autograde.py), and whatever else happens to one submission, the batch goes on and that
submission gets 0 with a one-line reason. Before grading, the sandboxed kernel must import the course
(grading_environment). Only this process writes the gradebook, one submission at a time, so SQLite is
safe; several machines can share a PostgreSQL gradebook with ``--shard i/N``. Results are kept in
OUT/results/, keyed by the notebook, the chapter's source, the course's code and the grading environment
(_key): a rerun (after a crash, or to regrade) reuses them, so no finished grade is lost.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from sqlalchemy.exc import SAWarning

from .authoring import generate
from .autograde import prepare_course
from .course import ROOT, SOLUTIONS, CourseError, digest, source_notebook
from .intake import Submission, collect
from .sandbox import Limits, check_kernel_environment, release_uid, require_bwrap, sandbox_uid

FIELDS = ["student", "chapter", "score", "max_score", "status", "reason", "file", "review"]
MATCHES_REFERENCE = (
    "matches the reference (the course's own solution, up to names and formatting): look before trusting the points"
)


def _key(submission: Submission, environment: dict) -> str:
    """What a submission's result depends on, the result cache's key: the notebook, the chapter's source folder
    (its notebook with the hidden tests, any data), the course's code (tinyformer, grader) and the environment it
    is graded in (the kernel's Python and packages, nbgrader's); a change of any of them grades it again."""
    chapter_files = sorted(
        p
        for p in (SOLUTIONS / submission.chapter).rglob("*")
        if p.is_file() and not {"__pycache__", ".ipynb_checkpoints"} & set(p.parts)
    )
    code = digest(submission.path, *chapter_files, code=("tinyformer", "grader"))
    return hashlib.sha256(f"{code} {json.dumps(environment, sort_keys=True)}".encode()).hexdigest()


def grading_environment(chapters: set[str], hide: list[Path] | None, limits: Limits) -> dict:
    """Check that the grading kernel imports what these chapters' notebooks import, this course's tinyformer
    among them (CourseError, saying how to fix it, if not); return the versions it grades with."""
    from importlib.metadata import version

    from .autograde import guard_config

    modules = {"tinyformer", "tinyformer.testing", "ipykernel", "IPython"}  # IPython: the guard builds on it
    for chapter in chapters:
        modules |= {module for _, module, _ in guard_config(source_notebook(chapter))["bindings"]}
    kernel = check_kernel_environment(sorted(modules), hide, limits, sandbox_uid(0))
    return {
        "kernel": {"python": kernel["python"], "versions": kernel["versions"]},
        "grader": {name: version(name) for name in ("nbgrader", "nbclient", "nbconvert", "jupyter_client")},
    }


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise CourseError(f"--shard takes i/N, e.g. 0/4; got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise CourseError(f"--shard {text}: need 0 <= i < N")
    return index, count


def _run_worker(
    submission: Submission,
    out: Path,
    work: Path,
    hide: list[Path],
    sandbox: bool,
    limits: Limits,
    slots: "queue.Queue[int]",
    key: str,
) -> dict:
    """Grade one submission in a worker process; return its result (a zero with a reason on any failure).

    ``slots`` hands out one uid per concurrent worker, so per-user limits (processes) of one submission
    never touch another's; what a submission left running as that uid ends before the next one starts."""
    slot = slots.get()
    try:
        return _grade_in_worker(submission, out, work, hide, sandbox, limits, sandbox_uid(slot), key)
    finally:
        release_uid(sandbox_uid(slot))
        slots.put(slot)


def _grade_in_worker(
    submission: Submission, out: Path, work: Path, hide: list[Path], sandbox: bool, limits: Limits, uid: int, key: str
) -> dict:
    name = f"{submission.chapter}/{submission.student}"
    result_path = out / "results" / f"{name}.json"
    request = {
        "chapter": submission.chapter,
        "student": submission.student,
        "notebook": str(submission.path),
        "work": str(work / submission.chapter / submission.student),
        "result": str(result_path),
        "feedback": str(out / "feedback" / submission.student / f"{submission.chapter}.html"),
        "hide": [str(p) for p in hide],
        "sandbox": sandbox,
        "limits": asdict(limits),
        "template": str(work / "templates" / submission.chapter),
        "uid": uid,
        # the cells stop here, so that the notebook is graded (and gets feedback) before the wall-time limit
        "deadline": time.time() + limits.notebook_seconds - finishing_seconds(limits),
    }
    request_path = work / f"{submission.chapter}-{submission.student}.request.json"
    request_path.write_text(json.dumps(request))
    result_path.unlink(missing_ok=True)

    def limit_memory():  # runs in the worker before it starts: bounds what a flood of output can cost
        resource.setrlimit(
            resource.RLIMIT_AS, (limits.output_bytes + limits.memory_bytes, limits.output_bytes + limits.memory_bytes)
        )

    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.worker", str(request_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=limit_memory,
    )
    try:
        _, stderr = process.communicate(timeout=limits.notebook_seconds)
        reason = None if process.returncode == 0 else f"the grader process failed ({_last_line(stderr)})"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        reason = f"grading took longer than {limits.notebook_seconds} s (an endless loop?)"
    seconds = time.perf_counter() - start
    _keep_graded_notebook(work / submission.chapter / submission.student / "course", out, submission)
    shutil.rmtree(work / submission.chapter / submission.student, ignore_errors=True)
    if reason is None and result_path.exists():
        answer = json.loads(result_path.read_text())
    else:
        answer = {"status": "error", "reason": reason or "the grader process wrote no result"}
    answer["seconds"] = round(seconds, 2)
    answer["key"] = key
    answer["notebook_sha256"] = digest(submission.path, code=())  # the notebook alone: did the student change it?
    answer["lms"] = submission.lms  # the LMS's id of the student, for the grade exports (grader/export.py)
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(answer))
    return answer


def finishing_seconds(limits: Limits) -> int:
    """Of a submission's wall time, what is kept for what follows its last cell: nbgrader's scoring, the feedback."""
    return max(20, limits.notebook_seconds // 5)


def _keep_graded_notebook(course: Path, out: Path, submission: Submission) -> None:
    """OUT is the course folder formgrader reads: move the graded notebook to OUT/autograded/<student>/<chapter>/
    (nbgrader's layout). Only that notebook, and only a plain file: the rest of its folder was the kernel's to
    write. A submission that could not be graded leaves no stale graded notebook behind."""
    name = f"{submission.chapter}.ipynb"
    graded = course / "autograded" / submission.student / submission.chapter / name
    kept = out / "autograded" / submission.student / submission.chapter / name
    kept.unlink(missing_ok=True)
    if graded.is_file() and not graded.is_symlink():
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(graded, kept)


def write_formgrader_config(out: Path, db_url: str) -> Path:
    """OUT/nbgrader_config.py: the course's nbgrader configuration with OUT as the course folder and this
    gradebook, so that formgrader (a Jupyter server started in OUT) and nbgrader's commands run in OUT
    (generate_feedback, export) work on the graded class."""
    from .course import CONFIG_FILE

    path = out / "nbgrader_config.py"
    path.write_text(
        '"""Written by `python -m grader autograde`: formgrader and nbgrader\'s commands, run from this folder,\n'
        'work on the class graded here (the graded notebooks are in autograded/, the marks in the gradebook)."""\n\n'
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({CONFIG_FILE.name!r}, path={str(CONFIG_FILE.parent)!r})  # noqa: F821 (the course's configuration)\n"
        f"c.CourseDirectory.root = {str(out.resolve())!r}\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n"
        f"c.CourseDirectory.source_directory = {str(SOLUTIONS)!r}\n"
        f"c.CourseDirectory.release_directory = {str(ROOT / 'chapters')!r}\n"
        "# nbgrader generate_feedback: without the hidden tests (nbgrader #1363)\n"
        "c.GenerateFeedback.preprocessors = ['nbgrader.preprocessors.GetGrades', 'nbgrader.preprocessors.ClearHiddenTests',\n"
        "                                    'nbconvert.preprocessors.CSSHTMLHeaderPreprocessor']\n"
    )
    path.chmod(0o600)  # a server gradebook's URL may hold its password
    return path


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "no message")[:200]


def _max_score(chapter: str) -> float:
    nb = json.loads(source_notebook(chapter).read_text())
    metas = [c.get("metadata", {}).get("nbgrader", {}) for c in nb["cells"]]
    return sum(m.get("points", 0) for m in metas if m.get("grade") and not m.get("solution"))


def _write_gradebook(db_url: str, submission: Submission, answer: dict, new_notebook: bool) -> None:
    """Record one submission's autograded scores in the class gradebook (failed ones: 0 on every test).

    What the instructor entered by hand (written answers' marks, comments) stays; only when the student's
    notebook is a new one are its written answers' marks cleared, so formgrader asks for them again."""
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings(), Gradebook(db_url) as gradebook:
        warnings.simplefilter("ignore", SAWarning)
        gradebook.update_or_create_student(submission.student)
        try:
            notebook = gradebook.find_submission_notebook(submission.chapter, submission.chapter, submission.student)
        except MissingEntry:
            gradebook.add_submission(submission.chapter, submission.student)
            notebook = gradebook.find_submission_notebook(submission.chapter, submission.chapter, submission.student)
        scores = {c["grade_id"]: c for c in answer.get("cells", [])}
        for grade in notebook.grades:
            cell = scores.get(grade.name)
            if grade.cell.cell_type == "markdown" or (cell and cell["manual"]):
                if new_notebook and grade.manual_score is not None:  # a mark for an answer that has changed
                    grade.manual_score = None
                    print(
                        f"  {submission.chapter}  {submission.student}: a new notebook; its written answer "
                        f"{grade.name} needs marking again",
                        flush=True,
                    )
                grade.needs_manual_grade = grade.manual_score is None  # written answers wait for the instructor
                continue
            grade.auto_score = cell["score"] if cell else 0.0
            grade.needs_manual_grade = False  # formgrader asks a person for the written answers only
        copied = set(answer.get("matches_reference", []))
        for comment in notebook.comments:
            if comment.name in copied:
                comment.auto_comment = MATCHES_REFERENCE
            elif comment.auto_comment == MATCHES_REFERENCE:
                comment.auto_comment = None
        if copied:
            notebook.flagged = True  # formgrader's flag: a person should look (the grader never clears a flag)
        gradebook.db.commit()


@contextmanager
def _gradebook_lock(db_url: str):
    """Shards on several machines share one server gradebook; nbgrader creates its tables and types on first use,
    and two shards doing so at once collide. On PostgreSQL a session advisory lock makes them take turns."""
    if not db_url.startswith("postgresql"):
        yield  # SQLite locks the file itself; one batch writes from one thread
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
    finally:
        engine.dispose()


_LOCK_KEY = 7_358_101  # any fixed number: the lock of this course's gradebook set-up


def _register_chapters(db_url: str, chapters: set[str]) -> None:
    """Make the gradebook know each chapter's notebooks and test cells (nbgrader generate_assignment)."""
    with _gradebook_lock(db_url), tempfile.TemporaryDirectory(prefix="grader-register-") as scratch:
        for chapter in sorted(chapters):
            shutil.copytree(SOLUTIONS / chapter, Path(scratch) / "solutions" / chapter)
            generate(chapter, Path(scratch), db_url)


def absolute_db_url(db_url: str) -> str:
    """The URL with a relative SQLite file made absolute (from the current folder): nbgrader opens the gradebook
    after changing directory, where ``sqlite:///grades.db`` would name another file. Other URLs are unchanged."""
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError

    try:
        url = sqlalchemy.engine.make_url(db_url)
    except (ArgumentError, ValueError):
        return db_url  # check_gradebook_url says what is wrong with it
    if (
        not url.drivername.startswith("sqlite")
        or url.database in (None, "", ":memory:")
        or url.database.startswith("file:")
        or Path(url.database).is_absolute()
    ):
        return db_url
    return url.set(database=str(Path(url.database).resolve())).render_as_string(hide_password=False)


def check_gradebook_url(db_url: str) -> None:
    """Open the gradebook's database once, so that a wrong URL, a missing driver or a server that does not
    answer is one clear line before anything is graded."""
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    try:
        url = sqlalchemy.engine.make_url(db_url)
        shown = url.render_as_string(hide_password=True)
        engine = sqlalchemy.create_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        raise CourseError(
            f"--db-url {db_url!r} is not a database URL the grader can use ({error}); "
            "e.g. sqlite:////path/gradebook.db or postgresql://user@host/course"
        ) from None
    except ImportError as error:
        raise CourseError(f"no driver for the gradebook {shown}: {error}") from None
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error).splitlines()[0]
        raise CourseError(f"cannot open the gradebook {shown}: {reason}") from None
    finally:
        engine.dispose()


def run_batch(
    where: Path,
    out: Path,
    db_url: str | None,
    jobs: int,
    shard: str | None,
    sandbox: bool,
    limits: Limits,
    chapters: list[str] | None = None,
    regrade: bool = False,
) -> list[dict]:
    """Grade every submission under ``where``; write OUT/grades.csv, OUT/feedback/ and the gradebook."""
    started = time.perf_counter()
    if sandbox:
        require_bwrap()
    index, count = parse_shard(shard)
    # nbgrader changes directory before it opens a gradebook: every path the user gave becomes absolute first
    where, out = Path(where).resolve(), Path(out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ".writable").touch()
        (out / ".writable").unlink()
    except OSError as error:
        raise CourseError(f"cannot write the results to {out}: {error.strerror or error}") from None
    db_url = absolute_db_url(db_url) if db_url else f"sqlite:///{out / 'gradebook.db'}"
    check_gradebook_url(db_url)
    write_formgrader_config(out, db_url)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="grader-batch-", dir=out) as scratch:
        work = Path(scratch)
        submissions = collect(where.resolve(), work, chapters)
        gradable = [s for s in submissions if s.chapter and not s.problem]
        mine = [s for i, s in enumerate(gradable) if i % count == index]
        hide = [where.resolve(), out.resolve()]
        with ThreadPoolExecutor(max_workers=1) as probe:  # the kernel's check runs (a sandboxed Python) meanwhile
            checked = (
                probe.submit(grading_environment, {s.chapter for s in mine}, hide if sandbox else None, limits)
                if mine
                else None
            )
            _register_chapters(db_url, {s.chapter for s in mine})
            for chapter in {s.chapter for s in mine}:  # one scratch course per chapter, copied for each submission
                prepare_course(chapter, work / "templates" / chapter)
            environment = checked.result() if checked else {}
        keys = {id(s): _key(s, environment) for s in mine}
        todo, done, graded_before = [], {}, {}
        for submission in mine:
            cached = out / "results" / submission.chapter / f"{submission.student}.json"
            if cached.exists():
                answer = json.loads(cached.read_text())
                graded_before[id(submission)] = answer.get("notebook_sha256")
                if answer.get("key") == keys[id(submission)] and not regrade:
                    done[id(submission)] = answer
                    continue
            todo.append(submission)
        print(
            f"{len(mine)} submissions to grade ({len(done)} already graded, shard {index}/{count}), "
            f"{jobs} at a time, {'in the sandbox' if sandbox else 'WITHOUT a sandbox'}",
            flush=True,
        )
        grading_started = time.perf_counter()
        slots: queue.Queue[int] = queue.Queue()
        for slot in range(max(1, jobs)):
            slots.put(slot)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {
                pool.submit(_run_worker, s, out, work, hide, sandbox, limits, slots, keys[id(s)]): s for s in todo
            }
            for future in as_completed(futures):
                submission = futures[future]
                done[id(submission)] = future.result()
                _report(submission, done[id(submission)])
        grading_seconds = time.perf_counter() - grading_started
        for submission in mine:  # gradebook writes: here only, one at a time, in a fixed order
            before = graded_before.get(id(submission))
            _write_gradebook(
                db_url,
                submission,
                done[id(submission)],
                new_notebook=before is not None and before != done[id(submission)].get("notebook_sha256"),
            )
            rows.append(_row(submission, done[id(submission)]))
        for submission in submissions:
            if submission.problem and index == 0:  # refused files are reported once, by shard 0
                print(f"  refused: {submission.path.name}: {submission.problem}", flush=True)
                rows.append(
                    {
                        "student": submission.student,
                        "chapter": submission.chapter or "",
                        "score": 0,
                        "max_score": _max_score(submission.chapter) if submission.chapter else "",
                        "status": "refused",
                        "reason": submission.problem,
                        "file": submission.path.name,
                    }
                )
    csv_path = out / ("grades.csv" if count == 1 else f"grades-shard{index}of{count}.csv")
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (r["chapter"], r["student"], r["status"])))
    times = [done[id(s)]["seconds"] for s in mine if "seconds" in done[id(s)]]
    if times:
        print(f"grading time per submission: median {statistics.median(times):.1f} s, max {max(times):.1f} s")
    print(
        f"wall time {time.perf_counter() - started:.1f} s: set-up {grading_started - started:.1f} s (the class read, "
        f"the chapters registered, the kernel checked), grading {grading_seconds:.1f} s ({len(todo)} submissions, "
        f"{jobs} at a time), then the gradebook and grades.csv"
    )
    print(f"wrote {csv_path} and {out / 'feedback'}/; gradebook: {db_url}")
    print(f"written answers: mark them in formgrader (cd {out} && jupyter lab, then Nbgrader > Formgrader)")
    return rows


def _row(submission: Submission, answer: dict) -> dict:
    cells = [c for c in answer.get("cells", []) if not c["manual"]]
    graded = answer.get("status") == "graded"
    return {
        "student": submission.student,
        "chapter": submission.chapter,
        "score": sum(c["score"] for c in cells) if graded else 0,
        "max_score": _max_score(submission.chapter),
        "status": "graded" if graded else "zero",
        "reason": _lost_cells(answer) if graded else answer.get("reason", ""),
        "file": submission.path.name,
        "review": _review(answer),
    }


def _lost_cells(answer: dict) -> str:
    """A graded submission's cells that cost the kernel (interrupted, killed it, not run), for grades.csv's reason."""
    return "; ".join(answer.get("lost_cells", []))


def _review(answer: dict) -> str:
    """What a person should look at in this submission (grades.csv's review column); empty when nothing."""
    copied = answer.get("matches_reference", [])
    return f"matches the reference: {', '.join(copied)}" if copied else ""


def _report(submission: Submission, answer: dict) -> None:
    row = _row(submission, answer)
    tail = f"  ({row['reason']})" if row["reason"] else ""
    print(
        f"  {submission.chapter}  {submission.student:<20} {row['score']:g} / {row['max_score']:g}"
        f"  {answer.get('seconds', 0):.1f} s{tail}",
        flush=True,
    )

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the grader package lives at the repository root


def later_round_trips() -> set[str]:
    """The graded round trips of every graded chapter but the first (grader/chapters.toml's tests.grading)."""
    from grader.course import CourseError, chapter_manifest

    try:
        round_trips = [chapter.grading_test for chapter in chapter_manifest() if chapter.graded]
    except CourseError:  # tests/test_manifest.py says what is wrong with the manifest
        return set()
    return set(round_trips[1:])


# `make test-fast` (pytest -m "not slow") leaves these modules out: the website and its browser test, the
# sandboxed class gradings, the documentation's commands run as written, the PostgreSQL gradebook, the grading
# round trips of chapters 02 on (chapter 01's stays: one chapter's round trip), the capstone, the benchmarks, and
# SLOW_TESTS.
SLOW_MODULES = {
    "test_website",
    "test_browser",
    "test_solutions",
    "test_docs_commands",
    "test_batch",
    "test_grading_workflow",
    "test_gradebook_postgres",
    "test_capstone",
    "test_pieces",
    "test_bench",
    *later_round_trips(),
}
SLOW_TESTS = {  # and these, each a notebook graded end to end or a training run of a minute's order
    "test_a_chinese_notebook_is_graded_as_the_english_one_with_its_messages_in_chinese",
    "test_the_self_check_withholds_the_reference_as_the_instructors_grading_does",
    "test_compile_gives_the_plain_numbers",
    "test_two_ddp_processes_on_cpu_end_with_the_same_weights",
    "test_a_downloaded_untouched_notebook_is_checked_as_in_the_clone",  # the installed grader's self-check, twice
    "test_a_downloaded_solved_chinese_notebook_gets_full_marks_in_chinese",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        slow_module = module in SLOW_MODULES or any(module.startswith(name + "_") for name in SLOW_MODULES)
        if slow_module or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    # The tests that read the website go last: its build (the site fixture's `make book`, minutes on both cores)
    # starts in the background as soon as the tests are chosen (pytest_collection_finish), and the rest, mostly
    # one process at a time, run meanwhile. Their relative order is kept.
    items[:] = [item for item in items if "site" not in item.fixturenames] + [
        item for item in items if "site" in item.fixturenames
    ]


# The site's build, started in the background once the tests are chosen; the site fixture waits for it
_site_build: dict = {}


def _start_site_build() -> None:
    """README.md's command, as written, from the repository's root, its output to a file (read when it ends)."""
    import subprocess
    import tempfile

    from tests.test_docs_commands import environment

    log = tempfile.TemporaryFile(mode="w+")  # (not under pytest's temporary folders: they are not made yet)
    _site_build["log"] = log
    _site_build["process"] = subprocess.Popen(
        ["bash", "-c", SITE_COMMAND], cwd=ROOT, env=environment(), stdout=log, stderr=subprocess.STDOUT, text=True
    )


def pytest_collection_finish(session):
    if any("site" in item.fixturenames for item in session.items) and not session.config.option.collectonly:
        _start_site_build()


def pytest_sessionfinish(session):
    process = _site_build.get("process")
    if process is not None and process.poll() is None:  # a run stopped before the build ended (-x, Ctrl-C)
        process.terminate()
        process.wait()


# The repository the test site's buttons point at: the placeholder README.md's command spells out
SITE_REPOSITORY = "https://github.com/OWNER/REPO"
SITE_COMMAND = f"COURSE_REPOSITORY_URL={SITE_REPOSITORY} make book"


@pytest.fixture(scope="session")
def site():
    """The student edition of the website, built once per test session by README.md's command, as written,
    from the repository's root: `make book` with the repository's URL, so with repository and launch buttons. It
    is built in the background while the tests that do not need it run (they go first).
    The solutions it executes are cached in _build/executed/, which tests/test_solutions.py reads."""
    if "process" not in _site_build:  # (the build starts when the tests are chosen; here if it was not)
        _start_site_build()
    process, log = _site_build["process"], _site_build["log"]
    returncode = process.wait(timeout=1800)
    log.seek(0)
    output = log.read()
    assert returncode == 0, f"{SITE_COMMAND} failed:\n{output[-6000:]}"
    return ROOT / "_build" / "html"

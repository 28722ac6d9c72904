import os
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


# `make test` runs the tests on every CPU (pytest-xdist, `--numprocesses logical`). pytest-xdist hands a worker one
# group at a time, and the tests of a group run on that worker one after another (CourseScheduling below):
# - "site": the website's build (the `site` fixture, `make book`) and every test that reads it, executes the solutions
#   (tests/test_solutions.py reads the build's execution cache) or writes the site's pages (`make book-instructor`,
#   `python -m grader website`). It is scheduled first: it is the longest;
# - every other module is a group, so a module-scoped set-up (a class graded in the sandbox) runs once.
# (pytest-xdist's own `--dist loadgroup` cannot be used: under pytest 9.2 its marks are silently ignored,
# pytest-dev/pytest-xdist#1386.)
SITE_FILES = {"tests/test_website.py", "tests/test_browser.py", "tests/test_solutions.py"}
SITE_TESTS = {"tests/test_docs_commands.py::test_the_docs_command_works_as_written[python -m grader website]"}


def worker_group(nodeid: str) -> str:
    """The group of a test, from its id alone (all a scheduler sees): "site", or its module's file."""
    module = nodeid.split("::", 1)[0]
    return "site" if module in SITE_FILES or nodeid in SITE_TESTS else module


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # A worker has one core's share: torch (here, and in the notebooks and commands the tests start) runs on
        # one thread. Two threads on a core that another worker also uses wait for each other at every parallel
        # step (the capstone's 64 s on 2 idle cores took over 9 minutes beside the other worker). Every
        # notebook's claims hold on 1 thread and on 2 (`make experiments`); a test that runs 2 says so.
        os.environ["OMP_NUM_THREADS"] = os.environ["TINYFORMER_THREADS"] = "1"
        # And a command that a test runs on 2 threads lets a waiting thread sleep instead of spinning on the core
        # its partner needs: chapter 01's `grader experiments --threads 2` takes 26 s on idle cores and, beside
        # two busy processes, 39 s so, against more than 120 s with OpenMP's default (and 315 s in `make test`).
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        import torch

        torch.set_num_threads(1)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") not in ("load", "loadscope"):
        return None  # a scheduling asked for by name (`--dist each`, ...) is pytest-xdist's
    from xdist.scheduler import LoadScopeScheduling

    class CourseScheduling(LoadScopeScheduling):
        """pytest-xdist's scheduling by scope, with worker_group's groups as the scopes, in collection order."""

        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    config.option.loadscopereorder = False  # the order of collection: the site first
    return CourseScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    misplaced = [item.nodeid for item in items if "site" in item.fixturenames and worker_group(item.nodeid) != "site"]
    if misplaced:
        raise pytest.UsageError(
            "these tests read the website but are not in tests/conftest.py's site group (SITE_FILES, SITE_TESTS), "
            "so another worker would build it again, at the same time: " + ", ".join(misplaced)
        )
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        slow_module = module in SLOW_MODULES or any(module.startswith(name + "_") for name in SLOW_MODULES)
        if slow_module or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: worker_group(item.nodeid) != "site")  # (a stable sort: the rest keep their order)


SCREENSHOT_FOLDERS: set[str] = set()  # tests/test_browser.py's, from the reports of the tests that saved some


def pytest_runtest_logreport(report):  # (under pytest-xdist, called in the main process with each worker's reports)
    SCREENSHOT_FOLDERS.update(value for name, value in report.user_properties if name == "screenshots")


def pytest_terminal_summary(terminalreporter):
    for folder in sorted(SCREENSHOT_FOLDERS):
        terminalreporter.write_line(f"screenshots of the website: {folder}")


# The repository the test site's buttons point at: the placeholder README.md's command spells out
SITE_REPOSITORY = "https://github.com/OWNER/REPO"
SITE_COMMAND = f"COURSE_REPOSITORY_URL={SITE_REPOSITORY} make book"


@pytest.fixture(scope="session")
def site():
    """The student edition of the website, built once per test session by README.md's command, as written,
    from the repository's root: `make book` with the repository's URL, so with repository and launch buttons.
    The solutions it executes are cached in _build/executed/, which tests/test_solutions.py reads."""
    from tests.test_docs_commands import run_as_written

    done = run_as_written(SITE_COMMAND)
    assert done.returncode == 0, f"{SITE_COMMAND} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return ROOT / "_build" / "html"

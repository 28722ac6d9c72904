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


# `make test` runs the tests on every core (pytest-xdist: `-n auto --dist loadgroup`). The tests of one group run
# on one worker, one after another:
# - "site": the website's build (the `site` fixture, `make book`) and every test that reads it, executes the solutions
#   (tests/test_solutions.py reads the build's execution cache) or writes the site's pages (`make book-instructor`,
#   `python -m grader website`);
# - a module with a module-scoped fixture is its own group, so its expensive set-up runs once, not on each worker.
SITE_GROUP_MODULES = {"test_website", "test_browser", "test_solutions"}
SITE_GROUP_COMMANDS = {"python -m grader website"}  # tests/test_docs_commands.py's commands that write the site's pages


def xdist_group(item) -> str | None:
    module = item.module.__name__.rsplit(".", 1)[-1]
    command = getattr(item, "callspec", None) and item.callspec.params.get("command")
    if module in SITE_GROUP_MODULES or "site" in item.fixturenames or command in SITE_GROUP_COMMANDS:
        return "site"
    # (pytest has no public API for the scopes of a test's fixtures: _fixtureinfo is read, pytest being pinned)
    scopes = {definitions[-1].scope for definitions in item._fixtureinfo.name2fixturedefs.values()}
    return module if scopes & {"module", "package", "class"} else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        slow_module = module in SLOW_MODULES or any(module.startswith(name + "_") for name in SLOW_MODULES)
        if slow_module or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        group = xdist_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


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

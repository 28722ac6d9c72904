import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the grader package lives at the repository root


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

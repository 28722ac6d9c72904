import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the grader package lives at the repository root


# The repository the test site's buttons point at (the site is built as `make book` builds it on GitHub)
SITE_REPOSITORY = "https://github.com/example/tinyformer"


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The student edition of the website, built once per test session into a scratch folder, as
    `make book` builds it when the repository's URL is known: with repository and launch buttons."""
    from grader.website import site_config

    out = tmp_path_factory.mktemp("site")
    config, note = site_config(out / "_config.site.yml", env={"COURSE_REPOSITORY_URL": SITE_REPOSITORY})
    assert note is None, note
    steps = [
        [sys.executable, "-m", "grader", "website"],
        [str(Path(sys.executable).with_name("jupyter-book")), "build", ".", "--config", str(config),
         "--path-output", str(out), "--warningiserror", "--keep-going"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(step[-5:])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out / "_build" / "html"

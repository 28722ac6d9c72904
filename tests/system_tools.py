"""What some tests need from the system, outside pip: bubblewrap (the grading sandbox) and Chromium (the website
as a reader sees it). `make install` installs both as root with apt. Without one, its tests are skipped with the
reason on a contributor's machine, and fail under CI=true (GitHub Actions sets it; so does .ci/run): CI must
never pass by skipping them."""

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require(found: object, message: str) -> None:
    """Skip the test (fail it under CI=true) with ``message`` when ``found`` is None."""
    if found is not None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: a missing tool fails the test instead of skipping it)")
    pytest.skip(message)


def require_bwrap() -> None:
    require(
        shutil.which("bwrap"),
        "bubblewrap is not installed: `make install` installs it as root (apt-get install bubblewrap)",
    )


def require_chromium() -> None:
    require(CHROMIUM, "Chromium is not installed: `make install` installs it as root (apt-get install chromium)")

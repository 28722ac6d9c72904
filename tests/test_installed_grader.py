"""The grader installed without a clone (issue 23): `pip install git+...`, what the Colab install runs, builds a
wheel of the repository and installs that, not the clone. In a folder that holds only a downloaded student notebook,
`python -m grader check` grades it with the visible tests of the student edition the package ships, and reports as
the self-check in the clone does; the commands that need the clone (hidden tests, sources) say so, with no traceback.
Inside a clone, the installed grader works on that clone, found from the working directory as nbgrader finds its
course.

The wheel is built from the repository's files (tracked and untracked, as git lists them) copied to a scratch
folder, and installed with --no-deps into a fresh venv that sees this environment's packages through a .pth file:
nothing is downloaded, and the package it imports is the wheel's (its own site-packages comes first)."""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.submissions import completed, save, student_edition

CHAPTER = "01-rnn-limits"


def _repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the wheel, the venv's Python, the environment to run it in)."""
    scratch = tmp_path_factory.mktemp("installed")
    source = scratch / "repository"
    for name in _repository_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(scratch / "wheel"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (scratch / "wheel").glob("tinyformer-*.whl")
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # this environment's packages (nbgrader, torch, ...) after the venv's own: the wheel's grader and tinyformer win
    Path(purelib, "course-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "NBGRADER_EXECUTION", "TINYFORMER_LANGUAGE")
    }
    # the venv's scripts, then this environment's (nbgrader runs alembic by name), as one install would have them
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")])
    return wheel, python, env


def grader(installed, folder: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m grader ARGS` with the installed package's Python, in ``folder``."""
    _, python, env = installed
    return subprocess.run(
        [str(python), "-m", "grader", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_wheel_holds_the_student_editions_and_neither_solutions_nor_hidden_tests(installed):
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        texts = {name: archive.read(name).decode("utf-8", "replace") for name in names}
    from grader.course import chapter_ids

    assert {f"grader/student_editions/{c}/{c}.ipynb" for c in chapter_ids()} <= names
    assert {
        "grader/chapters.toml",
        "grader/nbgrader_config.py",
        "grader/guard.py",
        "grader/typeset_maths.js",
        "tinyformer/locale/zh_CN/LC_MESSAGES/tinyformer.po",
    } <= names
    notebooks = {name for name in names if name.endswith(".ipynb")}
    assert notebooks == {f"grader/student_editions/{c}/{c}.ipynb" for c in chapter_ids()}, "only the English editions"
    for name in notebooks:
        assert texts[name] == (ROOT / "chapters" / name.removeprefix("grader/student_editions/")).read_text()
        assert "BEGIN HIDDEN TESTS" not in texts[name] and "BEGIN SOLUTION" not in texts[name], name
    assert not any("solutions/" in name for name in names), "the instructor sources are not in the package"


def test_the_installed_grader_finds_the_clone_from_the_working_directory(installed, tmp_path):
    """In a folder inside a clone (here, chapters/ of this one) the installed grader works on that clone; in a folder
    outside any clone, on what the package holds."""
    show = "import grader.course as c; print(c.__file__); print(c.CHECKOUT); print(c.SOLUTIONS)"
    _, python, env = installed
    inside, outside = (
        subprocess.run(
            [str(python), "-c", show], cwd=cwd, env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        for cwd in (ROOT / "chapters", tmp_path)
    )
    package = Path(inside[0]).parent
    assert package != ROOT / "grader" and Path(outside[0]).parent == package, "not the installed package"
    assert inside[1:] == [str(ROOT), str(ROOT / "solutions")]
    assert outside[1:] == ["None", str(package / "student_editions")]


def test_find_course_looks_up_from_the_working_directory(tmp_path):
    from grader.course import PACKAGE, find_course

    course = tmp_path / "course"
    (course / "grader").mkdir(parents=True)
    (course / "grader" / "chapters.toml").write_text("")
    (course / "solutions").mkdir()
    (course / "chapters" / CHAPTER).mkdir(parents=True)
    assert find_course(course) == find_course(course / "chapters" / CHAPTER) == course
    assert find_course(tmp_path) == PACKAGE.parent == ROOT, "outside a clone: the clone this package is in"


def _report(done: subprocess.CompletedProcess) -> list[str]:
    """The self-check's lines, from its first to its score."""
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Self-check of "))
    end = next(i for i, line in enumerate(lines) if line.startswith("Autograded score: "))
    return lines[start : end + 1]


NOTE = "Outside a clone of the course, this self-check ran the notebook's visible tests only"


def test_a_downloaded_untouched_notebook_is_checked_as_in_the_clone(installed, tmp_path):
    """The student edition as downloaded, alone in a folder: 0 points, every test saying it is not done, exit 1,
    line for line what the clone's self-check prints, and a note that the hidden tests did not run."""
    shutil.copy(ROOT / "chapters" / CHAPTER / f"{CHAPTER}.ipynb", tmp_path)
    done = grader(installed, tmp_path, "check", f"{CHAPTER}.ipynb")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    report = _report(done)
    assert report[-1] == "Autograded score: 0 / 9", report
    tests = [line for line in report[1:-1] if "written answer" not in line]
    assert len(tests) == 6 and all(
        re.search(r" 0 / \d +not done yet: replace `raise NotImplementedError", line) for line in tests
    ), report
    assert NOTE in done.stdout.split(report[-1])[1], done.stdout[-2000:]
    clone = subprocess.run(
        [sys.executable, "-m", "grader", "check", f"{CHAPTER}.ipynb"],
        cwd=tmp_path,  # the clone's
        env={**installed[2], "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert clone.returncode == 1 and _report(clone) == report, clone.stdout[-3000:] + clone.stderr[-3000:]
    assert NOTE not in clone.stdout


def test_a_downloaded_solved_chinese_notebook_gets_full_marks_in_chinese(installed, tmp_path):
    """A solved notebook of the Chinese edition (the package ships only the English ones; the Chinese edition has
    the same graded cells): every visible test passes, exit 0, the report in Chinese."""
    from grader.translation import translate_notebook
    from tinyformer.i18n import gettext

    save(translate_notebook(completed(CHAPTER), CHAPTER), tmp_path / f"{CHAPTER}.zh.ipynb")
    done = grader(installed, tmp_path, "check", f"{CHAPTER}.zh.ipynb")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    score = gettext("Autograded score: {score} / {max_score}", "zh_CN").format(score="9", max_score="9")
    assert re.search(r"[\u4e00-\u9fff]", score) and score in done.stdout, done.stdout[-3000:]
    tests = [line for line in done.stdout.splitlines() if line.startswith("  test_")]
    assert len(tests) == 6 and all(line.rstrip().endswith("ok") for line in tests), done.stdout[-3000:]
    import polib

    catalogue = polib.pofile(str(ROOT / "tinyformer" / "locale" / "zh_CN" / "LC_MESSAGES" / "tinyformer.po"))
    (chinese_note,) = [entry.msgstr for entry in catalogue if entry.msgid.startswith(NOTE)]
    assert chinese_note and chinese_note in done.stdout and NOTE not in done.stdout, done.stdout[-3000:]


def test_what_needs_the_clone_says_so_outside_one(installed, tmp_path):
    """Autograding (hidden tests) and the website (sources) need the clone: one line that says so, exit 2."""
    save(student_edition(CHAPTER), tmp_path / "class" / "ada.ipynb")
    for args in (["autograde", "class", "--unsafe-no-sandbox"], ["website"], ["lint"]):
        done = grader(installed, tmp_path, *args, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
        assert done.stderr.startswith(f"error: `python -m grader {args[0]}` needs a clone of the course"), done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "grading").exists()


def test_a_missing_grader_package_is_named_with_the_install_command(installed, tmp_path):
    """Colab's install gives the course's package without the [grader] extra (nbgrader): the self-check says what
    is missing and how to install it, instead of failing with ModuleNotFoundError."""
    _, python, env = installed
    save(student_edition(CHAPTER), tmp_path / f"{CHAPTER}.ipynb")
    without = (
        "import sys; sys.modules['nbgrader'] = None; from grader.__main__ import main; "
        f"sys.exit(main(['check', '{CHAPTER}.ipynb']))"
    )
    done = subprocess.run(
        [str(python), "-c", without], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.startswith("error: `python -m grader check` needs the module nbgrader"), done.stderr
    assert 'pip install "tinyformer[grader] @ git+URL"` with the address of the course' in done.stderr, done.stderr
    # installed from the course's repository (pip records where, PEP 610): the command names it
    where = subprocess.run(
        [str(python), "-c", "import tinyformer; print(tinyformer.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    purelib = Path(where).parent.parent
    (record,) = (folder / "direct_url.json" for folder in purelib.glob("tinyformer-*.dist-info"))
    before = record.read_text() if record.exists() else None
    try:
        record.write_text(
            '{"url": "https://github.com/course/tinyformer", "vcs_info": {"vcs": "git", '
            '"requested_revision": "spring", "commit_id": "' + "0" * 40 + '"}}'
        )
        done = subprocess.run(
            [str(python), "-c", without], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        if before is None:
            record.unlink()
        else:
            record.write_text(before)
    assert done.returncode == 2, done.stderr[-3000:]
    assert '`pip install "tinyformer[grader] @ git+https://github.com/course/tinyformer@spring"`' in done.stderr, (
        done.stderr
    )

"""Every shell command that README.md and book/*.md show is run as written.

A command is taken from the docs' ```bash blocks exactly (its trailing comment dropped) and run with
bash from the folder the docs imply (the repository's root, or the clone that book/setup.md makes),
with the course's environment first on PATH, as after `source .venv/bin/activate`. A command that a
test here cannot run is listed in NOT_RUN with the reason, or in RUN_ELSEWHERE with the test that runs
it; a new command in the docs fails `test_every_command_in_the_docs_is_accounted_for` until it is one
of the three.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.submissions import completed, mutate, save, student_edition

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]
BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.S)


def doc_commands() -> list[tuple[str, str]]:
    """(file, command) for every command line of every shell block of the docs."""
    found = []
    for path in DOCS:
        for block in BLOCK.finditer(path.read_text()):
            for line in block.group(1).splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
                if command and not command.startswith("#"):
                    found.append((str(path.relative_to(ROOT)), command))
    return found


def environment() -> dict:
    """The shell of a learner who ran `source .venv/bin/activate`: the course's Python first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    env.pop("NBGRADER_EXECUTION", None)
    return env


def run_as_written(command: str, cwd: Path = ROOT, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run one command of the docs with bash, exactly as written, in ``cwd``."""
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=environment(), capture_output=True, text=True, timeout=timeout
    )


def _ok(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback (most recent call last)" not in done.stdout + done.stderr, done.stderr[-3000:]


# ---- commands run here, each by a function of its own


def _self_check(command: str, tmp_path: Path) -> None:
    done = run_as_written(command)
    # the untouched student edition: it runs, scores 0 and says so (exit 1: not every point earned)
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert "Traceback (most recent call last)" not in done.stdout + done.stderr
    assert re.search(r"\b0(\.0)? / \d+", done.stdout), done.stdout[-2000:]


def _succeeds(command: str, tmp_path: Path) -> None:
    _ok(run_as_written(command))


def _jupyter_lab(command: str, tmp_path: Path) -> None:
    """Start it as written; it must serve chapters/ (its log names the URL), then stop it."""
    env = environment()
    env["BROWSER"] = "true"  # no browser to open here
    if os.geteuid() == 0:  # CI runs as root, which Jupyter refuses without --allow-root: allow it by configuration,
        config = tmp_path / "jupyter-config"  # so that the command itself stays as the docs write it
        config.mkdir()
        (config / "jupyter_server_config.json").write_text('{"ServerApp": {"allow_root": true}}')
        env["JUPYTER_CONFIG_DIR"] = str(config)
    log_file = tmp_path / "jupyter.log"
    url = re.compile(r"http://(localhost|127\.0\.0\.1):\d+/lab")
    with log_file.open("w") as log:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None and not url.search(log_file.read_text()):
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    text = log_file.read_text()
    assert url.search(text), text[-3000:]
    assert "chapters" in text, f"jupyter lab should serve chapters/:\n{text[-3000:]}"


def _clone(command: str, tmp_path: Path) -> None:
    """book/setup.md's `git clone <this repository> tinyformer-course`, with this repository for the placeholder."""
    done = run_as_written(command.replace("<this repository>", str(ROOT)), cwd=tmp_path)
    _ok(done)
    assert (tmp_path / "tinyformer-course" / "Makefile").exists()


def _cd_clone(command: str, tmp_path: Path) -> None:
    (tmp_path / "tinyformer-course").mkdir()
    _ok(run_as_written(command, cwd=tmp_path))


def _train(command: str, tmp_path: Path) -> None:
    done = run_as_written(command)
    _ok(done)
    assert re.search(r"loss", done.stdout + done.stderr), done.stdout[-2000:]


def _experiments(command: str, tmp_path: Path) -> None:
    """One chapter under a seed and a thread count CI's own run (seed 0, 1 thread) does not use."""
    done = run_as_written(command)
    _ok(done)
    assert "| chapter | claim | check |" in done.stdout and " FAIL" not in done.stdout, done.stdout[-3000:]
    assert re.search(r"\| 05-positions \| 1 \| 2 \| \d+", done.stdout), done.stdout[-3000:]


def _autograde(command: str, tmp_path: Path) -> None:
    """The instructor's command, from a folder holding the LMS's submissions.zip (a small Canvas class of chapter
    01), with its default --out: relative paths, as an instructor types them."""
    from grader.translation import translate_notebook

    chapter = "01-rnn-limits"
    class_folder = tmp_path / "export"
    save(completed(chapter), class_folder / f"lovelaceada_101_9001_{chapter}.ipynb")
    save(student_edition(chapter), class_folder / f"babbagecharles_102_9002_{chapter}.ipynb")
    # the same wrong answer in the English and in the Chinese edition: the same score, messages in each language
    no_tanh = {"rnn_forward": mutate(chapter, "rnn_forward", ("torch.tanh(", "("))}
    save(completed(chapter, no_tanh), class_folder / f"noethemmy_104_9004_{chapter}.ipynb")
    save(
        translate_notebook(completed(chapter, no_tanh), chapter),
        class_folder / f"wangxiaoming_103_9003_{chapter}.zh.ipynb",
    )
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as archive:
        for path in sorted(class_folder.iterdir()):
            archive.write(path, path.name)
    done = run_as_written(command, cwd=tmp_path)
    _ok(done)
    with open(tmp_path / "grading" / "grades.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    wrong = float(rows["noethemmy_104"]["score"])
    assert {s: (float(r["score"]), r["status"]) for s, r in rows.items()} == {
        "lovelaceada_101": (9.0, "graded"),
        "babbagecharles_102": (0.0, "graded"),
        "noethemmy_104": (wrong, "graded"),
        "wangxiaoming_103": (wrong, "graded"),
    }, rows
    assert 0 < wrong < 9
    assert (tmp_path / "grading" / "feedback" / "lovelaceada_101" / f"{chapter}.html").exists()
    english, chinese = (
        (tmp_path / "grading" / "feedback" / who / f"{chapter}.html").read_text()
        for who in ("noethemmy_104", "wangxiaoming_103")
    )
    from tinyformer.i18n import translate

    hint = translate("did you forget the tanh?", "zh_CN")  # (the page shows the tests' code: English there)
    assert re.search(r"[\u4e00-\u9fff]", hint) and 'lang="zh-CN"' in chinese and 'lang="zh-CN"' not in english
    assert hint in chinese and hint not in english, "the test's hint should be in the notebook's language"
    assert (tmp_path / "grading" / "gradebook.db").exists()


RUN_HERE = {
    "python -m grader autograde submissions.zip --jobs 2": _autograde,
    "python -m grader experiments 05 --seeds 1 --threads 2": _experiments,
    "make install && source .venv/bin/activate": _succeeds,
    "source .venv/bin/activate": _succeeds,
    "jupyter lab chapters/": _jupyter_lab,
    "python -m grader check chapters/01-rnn-limits/01-rnn-limits.ipynb": _self_check,
    "make chapters": _succeeds,
    "python -m grader lint": _succeeds,
    "python -m grader website": _succeeds,
    "python -m grader translations": _succeeds,
    "python -m tinyformer.train --model gpt --steps 100": _train,
    "git clone <this repository> tinyformer-course": _clone,
    "cd tinyformer-course": _cd_clone,
}

# ---- commands another test runs as written (the test is named; it must exist)
RUN_ELSEWHERE = {
    "COURSE_REPOSITORY_URL=https://github.com/OWNER/REPO make book": "tests/conftest.py::site (the site every website and browser test reads)",
    "make bench": "tests/test_bench.py::test_quick_benchmark_prints_its_tables",
    "make book-instructor": "tests/test_website.py::test_instructor_edition_shows_solutions_folded_and_student_pages_come_back",
}

# ---- commands no test here can run, and why
NOT_RUN = {
    "make test": "it is the command that runs this test; CI runs it (.ci/run) on a fresh clone",
    "make book": "the site fixture runs the same target with COURSE_REPOSITORY_URL set (as the docs also show); a "
    "second full build would only repeat it without the launch buttons, which "
    "tests/test_website.py checks through site_config",
    "python -m grader autograde class.zip --jobs 2 --shard 0/2 --db-url postgresql://grader@db.example.org/course": "it names a database server on another machine; tests/test_gradebook_postgres.py grades two shards at once "
    "into a real PostgreSQL server on this one",
    "make experiments": "every chapter six times in full (about an hour on 2 cores); tests/test_solutions.py runs "
    "each chapter once in full, and tests/test_docs_commands.py runs `python -m grader experiments` "
    "for one chapter",
    "python -m tinyformer.train --preset gpt2-124m --data random --compile": "a GPU command: 124M parameters take hours on 2 CPU cores; tests/test_train.py runs the same switches "
    "(--compile included) on a small shape",
    "torchrun --nproc_per_node 8 -m tinyformer.train --preset gpt2-124m": "needs 8 GPUs; tests/test_train.py runs two DistributedDataParallel processes on the CPU",
}


def _known(command: str) -> bool:
    return command in RUN_HERE or command in RUN_ELSEWHERE or command in NOT_RUN


def test_every_command_in_the_docs_is_accounted_for():
    unknown = [f"{where}: {command}" for where, command in doc_commands() if not _known(command)]
    assert not unknown, (
        "the docs show commands no test runs; add each to RUN_HERE (run it), RUN_ELSEWHERE "
        "(name the test) or NOT_RUN (say why):\n" + "\n".join(unknown)
    )


def test_the_tests_named_for_other_commands_exist():
    for command, where in RUN_ELSEWHERE.items():
        path, _, name = where.split(" ")[0].partition("::")
        assert re.search(rf"def {re.escape(name)}\b", (ROOT / path).read_text()), f"{command}: {where} not found"


@pytest.mark.parametrize("command", sorted({command for _, command in doc_commands() if command in RUN_HERE}))
def test_the_docs_command_works_as_written(command, tmp_path):
    RUN_HERE[command](command, tmp_path)

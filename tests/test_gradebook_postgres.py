"""A class graded by two shards at once (two machines, say) into one PostgreSQL gradebook: `--db-url`.

The PostgreSQL server is a real one (16.x, from the `pgserver` wheel), started in a temporary folder."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.course import ROOT
from tests.submissions import completed, save, student_edition

CHAPTER = "01-rnn-limits"
WRONG_CAUSAL_AVERAGE = "def causal_average(x):\n    return x.cumsum(1)\n"  # a sum, not an average


@pytest.fixture(scope="module")
def postgres_url():
    import pgserver  # installed by requirements.txt

    data = Path(tempfile.mkdtemp(prefix="grader-postgres-"))
    data.chmod(0o755)  # run as root, pgserver starts the server as its own unprivileged user
    server = pgserver.get_server(data, cleanup_mode="stop")
    yield server.get_uri()  # postgresql://..., as the instructor guide writes it
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def test_two_shards_fill_one_postgres_gradebook(postgres_url, tmp_path):
    folder = tmp_path / "class"
    save(completed(CHAPTER), folder / "ada.ipynb")
    save(completed(CHAPTER), folder / "bob.ipynb")
    save(student_edition(CHAPTER), folder / "cyd.ipynb")
    save(completed(CHAPTER, {"causal_average": WRONG_CAUSAL_AVERAGE}), folder / "dee.ipynb")
    shards = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader",
                "autograde",
                str(folder),
                "--db-url",
                postgres_url,
                "--shard",
                f"{i}/2",
                "--out",
                str(tmp_path / f"out{i}"),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (0, 1)
    ]
    outputs = [shard.communicate(timeout=600)[0] for shard in shards]
    assert [shard.returncode for shard in shards] == [0, 0], "\n".join(outputs)[-4000:]

    from nbgrader.api import Gradebook

    with Gradebook(postgres_url) as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions(CHAPTER)}
        assert gradebook.find_assignment(CHAPTER).max_code_score == 9  # + 2 points of written answers
    assert scores["ada"] == scores["bob"] == 9 and scores["cyd"] == 0 and 0 < scores["dee"] < 9
    graded_by = [
        set(
            line.split(",")[0]
            for line in (tmp_path / f"out{i}" / f"grades-shard{i}of2.csv").read_text().splitlines()[1:]
        )
        for i in (0, 1)
    ]
    assert graded_by[0] | graded_by[1] == {"ada", "bob", "cyd", "dee"} and not graded_by[0] & graded_by[1]

"""nbgrader's workflow after autograding, with the real parts: a class handed in through Canvas and Moodle is
graded in the sandbox; formgrader (a Jupyter server with nbgrader's extension, on loopback) shows the graded
notebooks and asks a person for the written answers only; a mark entered there reaches the Canvas and Moodle
grade-import files. The grading kernel cannot import the reference of the graded chapter or of a later one;
an answer that is the reference up to names and formatting keeps its points and is flagged for review."""

import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from grader.batch import MATCHES_REFERENCE, run_batch
from grader.export import CANVAS_COLUMNS, MOODLE_COLUMNS, export_grades
from grader.sandbox import Limits
from tests.submissions import completed, save
from tests.system_tools import require_bwrap
from tests.test_batch import CHEAT_IF

RNN, MHA = "01-rnn-limits", "04-multi-head"
WRITTEN = "written_lstm_vs_parallel"
OWN_RNN = '''def rnn_forward(x, W_xh, W_hh, b_h, h0=None):
    """My own loop: inputs projected once, then the recurrence."""
    batch, steps, _ = x.shape
    state = torch.zeros(batch, W_hh.shape[0], dtype=x.dtype, device=x.device) if h0 is None else h0
    projected = x @ W_xh.T + b_h
    states = []
    for step in range(steps):
        state = torch.tanh(projected[:, step, :] + state @ W_hh.T)
        states.append(state)
    hs = torch.stack(states, dim=1)
    return hs, hs[:, -1]
'''
RENAMED_REFERENCE = """def rnn_forward(inputs, A, B, c, start=None):
    # the reference with other names and layout, no docstring, no annotations
    n, length, _ = inputs.shape
    state = (inputs.new_zeros(n, B.shape[0])
             if start is None else start)
    collected = []
    for i in range(length):
        state = torch.tanh(inputs[:, i] @ A.T + state @ B.T + c)
        collected.append(state)
    all_states = torch.stack(collected, dim=1)
    return all_states, state
"""
# Canvas: <name>_<user id>_<submission id>_<file>.ipynb; Moodle: <Full Name>_<participant id>_assignsubmission_file_/
CLASS = {  # file -> (chapter, answers as in tests.submissions.completed)
    "adareference_101_1001_rnn.ipynb": (RNN, {}),
    "bobimports_102_1002_rnn.ipynb": (
        RNN,
        {name: f"from tinyformer.rnn import {name}\n" for name in ["rnn_forward", "jacobian_norms", "causal_average"]},
    ),
    "carolrenamed_103_1003_rnn.ipynb": (RNN, {"rnn_forward": RENAMED_REFERENCE}),
    "daveown_104_1004_rnn.ipynb": (RNN, {"rnn_forward": OWN_RNN}),
    "Eve Later_201_assignsubmission_file_/rnn.ipynb": (
        RNN,
        {"rnn_forward": CHEAT_IF.format(probe="from tinyformer.attention import scaled_dot_product_attention")},
    ),
    "Finn Reload_202_assignsubmission_file_/rnn.ipynb": (
        RNN,
        {
            "rnn_forward": CHEAT_IF.format(
                probe="import sys; [sys.modules.pop(m) for m in list(sys.modules) if m.startswith('tinyformer')]; "
                "from tinyformer.rnn import rnn_forward as _r"
            )
        },
    ),
    "hanaearlier_105_1005_mha.ipynb": (
        MHA,
        {
            "split_heads": "from tinyformer.attention import scaled_dot_product_attention "
            "as earlier_piece\n{split_heads}"
        },
    ),
    "ivanimports_106_1006_mha.ipynb": (
        MHA,
        {
            "split_heads": "from tinyformer.multihead import split_heads\n",
            "merge_heads": "from tinyformer.multihead import merge_heads\n",
            "multi_head_attention": "from tinyformer.multihead import MultiHeadAttention\n",
        },
    ),
}
EXPECTED = {  # student -> (score, review)
    "adareference_101": (9, "matches the reference: rnn_forward, jacobian_norms, causal_average"),
    "bobimports_102": (0, ""),
    "carolrenamed_103": (9, "matches the reference: rnn_forward, jacobian_norms, causal_average"),
    "daveown_104": (9, "matches the reference: jacobian_norms, causal_average"),
    "Eve-Later_201": (6, "matches the reference: jacobian_norms, causal_average"),
    "Finn-Reload_202": (6, "matches the reference: jacobian_norms, causal_average"),
    "hanaearlier_105": (
        14,
        "matches the reference: split_heads, merge_heads, multi_head_attention, mha_parameter_count",
    ),
    "ivanimports_106": (2, "matches the reference: mha_parameter_count"),  # only the parameter count is written
}


def _solution(chapter: str, grade_id: str) -> str:
    import nbformat

    from grader.course import source_notebook

    cell = next(
        c
        for c in nbformat.read(source_notebook(chapter), as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )
    return "\n".join(line for line in cell.source.splitlines() if "### " not in line)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    require_bwrap()
    folder, out = tmp_path_factory.mktemp("lms-class"), tmp_path_factory.mktemp("grading")
    for name, (chapter, answers) in CLASS.items():
        answers = {
            k: v.replace("{split_heads}", _solution(chapter, k)) if "{split_heads}" in v else v
            for k, v in answers.items()
        }
        save(completed(chapter, answers), folder / name)
    rows = run_batch(folder, out, None, 2, None, True, Limits(cell_seconds=60, notebook_seconds=240))
    return out, {row["student"]: row for row in rows}


def test_reference_pieces_are_withheld_and_copies_flagged(graded):
    _, rows = graded
    got = {student: (float(row["score"]), row["review"]) for student, row in rows.items()}
    assert got == {student: (float(score), review) for student, (score, review) in EXPECTED.items()}
    assert all(row["status"] == "graded" for row in rows.values())


def test_the_learner_is_told_why_the_import_failed(graded):
    out, _ = graded
    result = json.loads((out / "results" / RNN / "bobimports_102.json").read_text())
    message = next(c["message"] for c in result["cells"] if c["grade_id"] == "test_rnn_forward_values")
    assert "NameError" in message  # rnn_forward never got defined: its cell failed on the import
    graded_notebook = (out / "autograded" / "bobimports_102" / RNN / f"{RNN}.ipynb").read_text()
    assert "rnn_forward is the course's reference of the chapter being graded" in graded_notebook
    page = (out / "feedback" / "carolrenamed_103" / f"{RNN}.html").read_text()
    assert "To be reviewed" in page and "matches the reference" in page
    assert "To be reviewed" not in (out / "feedback" / "bobimports_102" / f"{RNN}.html").read_text()


def test_gradebook_flags_only_written_answers_and_copies(graded):
    from nbgrader.api import Gradebook

    out, _ = graded
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(RNN, RNN, "daveown_104")
        flagged = {grade.name for grade in notebook.grades if grade.needs_manual_grade}
        assert flagged == {WRITTEN}, f"formgrader would ask a person to mark {sorted(flagged)}"
        assert notebook.flagged
        comments = {comment.name: comment.auto_comment for comment in notebook.comments}
        assert comments["jacobian_norms"] == MATCHES_REFERENCE and comments["rnn_forward"] is None
        assert not gradebook.find_submission_notebook(RNN, RNN, "bobimports_102").flagged


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Formgrader:
    """A Jupyter server with nbgrader's formgrader, started in a graded class's folder, on loopback, with a token;
    it stops by itself (`timeout`, and the server's own idle shutdown) if the test cannot stop it."""

    def __init__(self, course: Path, home: Path) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        jupyter = Path(sys.executable).with_name("jupyter")
        env = {
            **os.environ,
            "HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_DATA_DIR": str(home / "data"),
        }
        self.log = open(home / "server.log", "w")
        self.process = subprocess.Popen(
            [
                "timeout",
                "300",
                str(jupyter),
                "server",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={course}",
                "--ServerApp.open_browser=False",
                "--ServerApp.shutdown_no_activity_timeout=120",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            cwd=course,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                self.get("/api/status")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"formgrader did not start:\n{(home / 'server.log').read_text()[-3000:]}"
                    ) from None
                time.sleep(0.5)

    def request(self, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get(self, path: str) -> str:
        status, text = self.request(path)
        assert status == 200, f"GET {path}: HTTP {status}"
        return text

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture()
def formgrader(graded, tmp_path):
    server = Formgrader(graded[0], tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_formgrader_shows_graded_notebooks_and_asks_only_for_written_answers(graded, formgrader):
    out, _ = graded
    submissions = json.loads(formgrader.get(f"/formgrader/api/submitted_notebooks/{RNN}/{RNN}"))
    by_student = {s["student"]: s for s in submissions}
    assert set(by_student) == set(EXPECTED) - {"hanaearlier_105", "ivanimports_106"}  # chapter 01's class
    ada = by_student["adareference_101"]
    assert ada["needs_manual_grade"] and ada["flagged"]
    grades = json.loads(formgrader.get(f"/formgrader/api/grades?submission_id={ada['id']}"))
    assert {g["name"] for g in grades if g["needs_manual_grade"]} == {WRITTEN}
    assert {g["name"] for g in grades if g["auto_score"] is not None} >= {
        "test_rnn_forward_values",
        "test_causal_average_batch",
    }

    page = formgrader.get(f"/formgrader/submissions/{ada['id']}/")  # the graded notebook, rendered for marking
    assert WRITTEN in page and "rnn_forward" in page
    status, _ = formgrader.request(f"/formgrader/submissions/{by_student['daveown_104']['id']}/")
    assert status == 200, "formgrader cannot show a graded submission"
    comments = json.loads(formgrader.get(f"/formgrader/api/comments?submission_id={ada['id']}"))
    assert {c["name"] for c in comments if c["auto_comment"] == MATCHES_REFERENCE} == {
        "rnn_forward",
        "jacobian_norms",
        "causal_average",
    }

    written = next(g for g in grades if g["name"] == WRITTEN)  # a person marks the written answer
    status, text = formgrader.request(f"/formgrader/api/grade/{written['id']}", "PUT", {"manual_score": 1.5})
    assert status == 200, f"formgrader refused the mark: HTTP {status} {text[:200]}"
    assert not json.loads(formgrader.get(f"/formgrader/api/grade/{written['id']}"))["needs_manual_grade"]

    (canvas,) = export_grades(out, "canvas")
    with open(canvas, newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == CANVAS_COLUMNS + [RNN, MHA]
    assert table[1][0].strip() == "Points Possible" and table[1][5:] == ["11", "16"]
    scores = {row[1]: row[5:] for row in table[2:]}
    assert scores["101"] == ["10.5", ""], "the mark entered in formgrader is not in the Canvas file"
    assert scores["102"] == ["0", ""] and scores["105"] == ["", "14"]
    assert "201" not in scores  # a Moodle student

    (moodle,) = export_grades(out, "moodle")
    assert moodle.name == f"moodle-{RNN}.csv"
    with open(moodle, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == MOODLE_COLUMNS
    assert [(r["Identifier"], r["Full name"], r["Grade"], r["Maximum Grade"]) for r in rows] == [
        ("Participant 201", "Eve Later", "6", "11"),
        ("Participant 202", "Finn Reload", "6", "11"),
    ]
    assert all(time.strptime(r["Last modified (grade)"], "%Y-%m-%d %H:%M:%S") for r in rows)

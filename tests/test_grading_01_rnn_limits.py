"""Autograde round trip through nbgrader in a scratch course: full marks for the reference solution,
0 for the untouched student edition, exact partial scores for a partly wrong notebook."""

import shutil
import subprocess
import sys

import pytest

from grader.course import CHAPTERS
from tests.submissions import grade_class

CHAPTER = "01-rnn-limits"
TRANSPOSED_RNN = '''def rnn_forward(x, W_xh, W_hh, b_h, h0=None):
    h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0
    states = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh + b_h)  # W_hh not transposed
        states.append(h)
    return torch.stack(states, dim=1), h
'''
OFF_BY_ONE_AVERAGE = '''def causal_average(x):
    seq = x.shape[1]
    weights = torch.ones(seq, seq, dtype=x.dtype).tril() / torch.arange(0, seq, dtype=x.dtype).clamp(min=1)[:, None]
    return weights @ x
'''


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    partial = {"rnn_forward": TRANSPOSED_RNN, "causal_average": OFF_BY_ONE_AVERAGE}
    return grade_class(CHAPTER, {"partial": partial}, tmp_path_factory.mktemp("submissions"))


def scores(result):
    return {c.grade_id: c.score for c in result.cells if not c.manual}


def test_reference_solution_gets_full_marks(results):
    result = results["reference"]
    assert result.max_score == 9
    assert result.score == result.max_score, [(c.grade_id, c.score, c.message) for c in result.cells]


def test_untouched_student_edition_scores_zero(results):
    result = results["untouched"]
    assert result.max_score == 9 and result.score == 0
    assert all("NotImplementedError" in c.message for c in result.cells if not c.manual)


def test_written_answer_is_left_for_manual_grading(results):
    assert [c.grade_id for c in results["reference"].cells if c.manual] == ["written_lstm_vs_parallel"]


def test_partly_wrong_notebook_gets_exact_partial_score_and_teaching_messages(results):
    result = results["partial"]
    assert scores(result) == {
        "test_rnn_forward_shapes": 1, "test_rnn_forward_values": 0,
        "test_jacobian_norms_shape": 1, "test_jacobian_norms_values": 2,
        "test_causal_average_small": 0, "test_causal_average_batch": 0,
    }
    messages = {c.grade_id: c.message for c in result.cells}
    assert "recurrent weight is transposed" in messages["test_rnn_forward_values"]
    assert "off by one" in messages["test_causal_average_small"]


def test_self_check_prints_the_score_and_fails_below_full_marks(tmp_path):
    notebook = tmp_path / "my copy.ipynb"  # renamed, as learners do: the chapter is read from its cells
    shutil.copy(CHAPTERS / CHAPTER / f"{CHAPTER}.ipynb", notebook)
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(notebook)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"({CHAPTER})" in done.stdout and "Autograded score: 0 / 9" in done.stdout
    assert "not done yet" in done.stdout
    assert "written answer, not answered yet" in done.stdout
    assert "BEGIN HIDDEN TESTS" not in done.stdout
    wrong = subprocess.run([sys.executable, "-m", "grader", "check", str(notebook), "--chapter", "3"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, wrong.stderr
    assert f"holds the exercises of {CHAPTER}, not 03-attention" in wrong.stderr

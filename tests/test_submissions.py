"""tests/submissions.py's packing of a class's answers into fewer notebooks, and the reading back of each answer's
result: answers share a notebook only when they cannot hide each other's losses, and a notebook graded otherwise
than its answers graded alone fails."""

import pytest

from grader.autograde import CellResult, NotebookResult
from tests.submissions import pack_answers, unpacked

ANSWERS = {
    "valid": {"a": "..."},
    "wrong_a": {"a": "..."},
    "wrong_b": {"b": "..."},
    "wrong_a_again": {"a": "..."},
    "wrong_c_loses_b": {"c": "..."},
}
FULL = {"test_a": [2.0, 2.0, None], "test_b": [1.0, 1.0, None], "test_c": [1.0, 1.0, None]}
ALONE = {
    "valid": FULL,
    "wrong_a": {**FULL, "test_a": [0.0, 2.0, "a is wrong"]},
    "wrong_b": {**FULL, "test_b": [0.0, 1.0, "b is wrong"]},
    "wrong_a_again": {**FULL, "test_a": [0.0, 2.0, "a is wrong again"]},
    "wrong_c_loses_b": {**FULL, "test_b": [0.0, 1.0, "c broke b"]},
}


def test_answers_share_a_notebook_only_with_other_cells_and_other_lost_tests():
    assert pack_answers(ANSWERS, ALONE) == {
        "valid": ["valid"],  # a valid answer is graded in a notebook of its own
        "packed01": ["wrong_a", "wrong_b"],
        "packed02": ["wrong_a_again", "wrong_c_loses_b"],  # not with wrong_b: both lose test_b
    }


def notebook(scores: dict[str, float]) -> NotebookResult:
    cells = [
        CellResult(gid, scores.get(gid, top), top, message="lost" if gid in scores else None)
        for gid, (_, top, _) in FULL.items()
    ]
    return NotebookResult("99-chapter", "packed01", cells + [CellResult("written", 0.0, 1.0, manual=True)])


def test_each_answer_is_read_back_with_its_own_losses_only():
    alone = {s: ALONE[s] for s in ["wrong_a", "wrong_b"]}
    results = unpacked(notebook({"test_a": 0.0, "test_b": 0.0}), alone)
    assert {s: r.score for s, r in results.items()} == {"wrong_a": 2.0, "wrong_b": 3.0}
    assert [c.grade_id for c in results["wrong_a"].cells if c.message] == ["test_a"]
    assert results["wrong_b"].student == "wrong_b" and len(results["wrong_b"].cells) == 4


@pytest.mark.parametrize("scores", [{"test_a": 0.0}, {"test_a": 0.0, "test_b": 0.0, "test_c": 0.0}])
def test_a_notebook_graded_otherwise_than_its_answers_alone_fails(scores):
    alone = {s: ALONE[s] for s in ["wrong_a", "wrong_b"]}
    with pytest.raises(AssertionError, match="through nbgrader"):
        unpacked(notebook(scores), alone)

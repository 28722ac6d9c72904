"""Every reference notebook runs top to bottom in full mode, its "Reproduced" claims included.

The execution is the website's (grader.website.executed, cached in _build/executed/ by a hash of the
notebook and the course's code), so the site fixture and these tests share one run of each chapter.
"""

import pytest

from grader.course import chapter_ids
from grader.experiments import BUDGET_SECONDS


@pytest.mark.parametrize("chapter", chapter_ids())
def test_the_solution_executes_and_reproduces_its_claims(chapter):
    from grader.website import executed

    nb, seconds = executed([chapter])[chapter]  # raises CourseError naming the cell when one fails
    errors = [
        i for i, cell in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    ]
    assert not errors, f"{chapter}: cells {errors} raised"
    printed = "".join(
        o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    )
    assert "Reproduced: all" in printed, f"{chapter}: no cell reported that its claims were reproduced"
    if seconds is not None:
        print(f"{chapter}: executed in {seconds:.0f} s (budget {BUDGET_SECONDS} s on 2 idle cores)")

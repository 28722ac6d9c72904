"""grader/references.py without the sandbox: the package the grading kernel imports withholds exactly the graded
chapter's and later chapters' pieces; the reference's code is recognised up to names and formatting, and only it."""

import ast
import json
import subprocess
import sys

import pytest

from grader.course import ROOT, chapter_ids, graded_chapter_ids, source_notebook
from grader.references import (
    MIN_NODES,
    _solution_definitions,
    normalised,
    normalised_tree,
    reference_matches,
    withheld_pieces,
    withholding_package,
)
from tests.submissions import completed, save, student_edition

# In one Python: each chapter's package on sys.path in turn; every module imports, and each name either imports
# or fails with the grader's message. Prints {chapter: {"broken": [...], "importable": [...], "refused": {...}}}.
PROBE = r"""
import importlib, json, pkgutil, sys
found = {}
for chapter, folder in json.loads(sys.argv[1]).items():
    for name in [m for m in sys.modules if m == "tinyformer" or m.startswith("tinyformer.")]:
        del sys.modules[name]
    sys.path.insert(0, folder)
    import tinyformer
    assert tinyformer.__file__.startswith(folder), tinyformer.__file__
    report = found[chapter] = {"broken": [], "importable": [], "refused": {}}
    for info in pkgutil.iter_modules(tinyformer.__path__):
        try:
            module = importlib.import_module("tinyformer." + info.name)
        except Exception as error:
            report["broken"].append(f"{info.name}: {type(error).__name__}: {error}")
            continue
        for name in json.loads(sys.argv[2]):
            try:
                getattr(module, name)
                report["importable"].append(f"{info.name}.{name}")
            except ImportError as error:
                report["refused"][f"{info.name}.{name}"] = str(error)
            except AttributeError:
                pass
    sys.path.remove(folder)
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    folders = {}
    for chapter in chapter_ids():
        folder = tmp_path_factory.mktemp(chapter)
        withholding_package(chapter, folder / "tinyformer")
        folders[chapter] = str(folder)
    names = sorted(withheld_pieces(chapter_ids()[0]))  # every piece of every chapter
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(folders), json.dumps(names)],
        capture_output=True,
        text=True,
        cwd=tmp_path_factory.mktemp("elsewhere"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_every_module_still_imports(packages):
    assert {chapter: report["broken"] for chapter, report in packages.items() if report["broken"]} == {}


@pytest.mark.parametrize("chapter", chapter_ids())
def test_only_this_and_later_chapters_pieces_are_withheld(packages, chapter):
    report = packages[chapter]
    withheld = withheld_pieces(chapter)
    for qualified, message in report["refused"].items():
        name = qualified.split(".")[1]
        assert name in withheld, f"{qualified} is withheld while grading {chapter}, but it is an earlier chapter's"
        assert f"while {chapter} is graded" in message and name in message
    refused = {q.split(".")[1] for q in report["refused"]}
    assert refused == set(withheld), f"importable while grading {chapter}: {sorted(set(withheld) - refused)}"
    earlier = set(withheld_pieces(chapter_ids()[0])) - set(withheld)
    assert {q.split(".")[1] for q in report["importable"]} >= earlier


def test_the_grading_helpers_are_untouched(tmp_path):
    withholding_package(chapter_ids()[0], tmp_path / "tinyformer")
    for helper in ["testing.py", "data.py", "corpus.py", "runtime.py"]:
        assert ast.dump(ast.parse((tmp_path / "tinyformer" / helper).read_text())) == ast.dump(
            ast.parse((ROOT / "tinyformer" / helper).read_text())
        ), f"tinyformer/{helper} was changed"


def _shape(source: str) -> str:
    return normalised(ast.parse(source).body[0])


REFERENCE = '''def rnn_forward(x, W_xh, W_hh, b_h, h0=None):
    """Doc."""
    h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0  # a comment
    out: list = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T + b_h)
        out.append(h)
    return torch.stack(out, 1), h
'''
RENAMED = """def step_through(inp, A: "Tensor", B, c, start=None) -> tuple:
    state = (inp.new_zeros(inp.shape[0], B.shape[0])
             if start is None else start)
    states = []
    for i in range(inp.shape[1]):
        state = torch.tanh(inp[:, i] @ A.T + state @ B.T + c)
        states.append(state)
    return (torch.stack(states, 1), state)
"""


def test_names_comments_docstrings_and_layout_do_not_count():
    assert _shape(REFERENCE) == _shape(RENAMED)


@pytest.mark.parametrize(
    "change",
    [
        ("torch.tanh", "torch.sigmoid"),
        ("range(inp.shape[1])", "range(inp.shape[0])"),
        ("state @ B.T", "state @ B"),
        ("torch.stack(states, 1)", "torch.stack(states, 0)"),
    ],
)
def test_a_different_computation_is_not_the_reference(change):
    assert _shape(REFERENCE) != _shape(RENAMED.replace(*change))


@pytest.mark.parametrize("chapter", graded_chapter_ids())
def test_the_reference_is_recognised_and_the_student_edition_is_not(chapter, tmp_path):
    source = source_notebook(chapter)
    large = {
        grade_id
        for grade_id, node in _solution_definitions(source)
        if sum(1 for _ in ast.walk(normalised_tree(node))) >= MIN_NODES
    }
    assert large, f"{chapter}: no piece large enough to compare"
    assert set(reference_matches(save(completed(chapter), tmp_path / "reference.ipynb"), source)) == large
    assert reference_matches(save(student_edition(chapter), tmp_path / "untouched.ipynb"), source) == []


def test_a_broken_notebook_matches_nothing(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{ not json")
    assert reference_matches(tmp_path / "broken.ipynb", source_notebook(chapter_ids()[0])) == []


def test_the_self_check_withholds_the_reference_as_the_instructors_grading_does(tmp_path):
    """Without the sandbox (the learner's self-check, --unsafe-no-sandbox) the kernel imports the same package as
    in it: an answer that only imports the reference scores what the instructor's grading gives it, not full marks."""
    from grader.autograde import autograde

    chapter = "01-rnn-limits"
    cheat = save(
        completed(chapter, {"rnn_forward": "from tinyformer.rnn import rnn_forward"}), tmp_path / "cheat.ipynb"
    )
    honest = save(completed(chapter), tmp_path / "honest.ipynb")
    results = autograde(chapter, {"cheat": cheat, "honest": honest})
    lost = {c.grade_id for c in results["cheat"].auto_cells if c.score < c.max_score}
    assert lost == {"test_rnn_forward_shapes", "test_rnn_forward_values"}, lost
    assert results["honest"].score == results["honest"].max_score
    # the locale data travels with the package copy: a Chinese notebook's messages are Chinese there too
    assert (withholding_package(chapter, tmp_path / "copy" / "tinyformer") / "locale" / "zh_CN").is_dir()

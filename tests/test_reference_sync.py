"""Each piece is written once, in its chapter's solution notebook: a definition that tinyformer also needs is, in
its tinyformer module, a region generated from the notebook (grader/reference_code.py, `python -m grader
reference`). These tests fail when a region differs from its notebook, when a piece is written by hand in
tinyformer too, and show that an edited copy is caught."""

import importlib
import inspect
import pkgutil
import shutil

import pytest

import tinyformer
from grader import reference_code
from grader.__main__ import main
from grader.course import ROOT, graded_chapter_ids, source_notebook
from grader.reference_code import COMMAND, notebook_definitions, run


def tinyformer_definitions() -> dict[str, tuple[str, str]]:
    """name -> (module, source) of every top-level function and class in tinyformer."""
    found = {}
    for info in pkgutil.iter_modules(tinyformer.__path__):
        module = importlib.import_module(f"tinyformer.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
                found[name] = (module.__name__, inspect.getsource(obj))
    return found


def test_every_region_is_its_notebooks_definition_and_nothing_is_written_twice_by_hand():
    report = run()
    assert report.regions, "tinyformer has no generated region: where are the reference pieces?"
    assert report.problems == [], "\n".join(report.problems)


@pytest.mark.parametrize("chapter", graded_chapter_ids())
def test_every_piece_tinyformer_shares_with_a_notebook_is_generated_from_it(chapter):
    """Found apart from grader/reference_code.py's own search: by importing tinyformer."""
    reference = tinyformer_definitions()
    shared = sorted(set(notebook_definitions(source_notebook(chapter))) & set(reference))
    assert shared, f"{chapter} defines none of tinyformer's pieces: is its reference missing from tinyformer?"
    generated = {region.piece: region for region in run([chapter]).regions}
    for name in shared:
        assert name in generated, f"{reference[name][0]}.{name} is not generated from solutions/{chapter}"
        assert generated[name].module.stem == reference[name][0].split(".")[-1]


def test_the_command_checks_the_course(capsys):
    assert main(["reference", "--check"]) == 0
    assert "generated regions are their solution notebooks' definitions" in capsys.readouterr().out


# An edited copy is caught: a scratch course with tinyformer's modules and chapter 03's notebook.
CHAPTER = "03-attention"
SCALE = "scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))"
WRONG_SCALE = "scores = q @ k.transpose(-2, -1) / q.size(-1)"


@pytest.fixture
def course(tmp_path):
    shutil.copytree(ROOT / "tinyformer", tmp_path / "tinyformer", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "solutions" / CHAPTER).mkdir(parents=True)
    shutil.copy(source_notebook(CHAPTER), source_notebook(CHAPTER, tmp_path / "solutions"))
    return tmp_path


def test_an_edited_copy_is_reported_with_its_first_differing_line_and_regenerated(course):
    module = course / "tinyformer" / "attention.py"
    original = module.read_text()
    assert original.count(SCALE) == 1
    module.write_text(original.replace(SCALE, WRONG_SCALE))
    line, text = next((n, text) for n, text in enumerate(module.read_text().splitlines(), 1) if WRONG_SCALE in text)

    report = run([CHAPTER], root=course)
    assert [region.piece for region in report.stale] == ["scaled_dot_product_attention"]
    assert report.problems == [
        f"tinyformer/attention.py:{line}: scaled_dot_product_attention is out of date with "
        f"solutions/{CHAPTER}/{CHAPTER}.ipynb: the notebook has `{text.strip().replace(WRONG_SCALE, SCALE)}`, the "
        f"module `{text.strip()}`; run `{COMMAND}`"
    ]

    written = run([CHAPTER], write=True, root=course)
    assert written.written == [module] and written.problems == []
    assert module.read_text() == original
    assert run([CHAPTER], root=course).problems == []


def test_an_edit_in_the_notebook_reaches_tinyformer(course):
    notebook = source_notebook(CHAPTER, course / "solutions")
    text = notebook.read_text()
    assert text.count("# (..., q_len, k_len)") >= 1
    notebook.write_text(text.replace("# (..., q_len, k_len)", "# (..., q_len, k_len): one score per query-key pair", 1))
    stale = run([CHAPTER], root=course)
    assert len(stale.stale) == 1 and "one score per query-key pair" in stale.problems[0]
    run([CHAPTER], write=True, root=course)
    assert "one score per query-key pair" in (course / "tinyformer" / "attention.py").read_text()
    assert run([CHAPTER], root=course).problems == []


def test_a_piece_written_by_hand_or_a_broken_region_is_reported(course):
    module = course / "tinyformer" / "attention.py"
    original = module.read_text()
    start = reference_code.opening(f"solutions/{CHAPTER}/{CHAPTER}.ipynb", "SelfAttention")
    end = reference_code.closing("SelfAttention")
    module.write_text(original.replace(start + "\n", "").replace(end + "\n", ""))
    [problem] = run([CHAPTER], root=course).problems
    assert problem.startswith("tinyformer/attention.py:") and "SelfAttention is written here by hand" in problem

    module.write_text(original.replace(end + "\n", ""))
    problems = run([CHAPTER], root=course).problems
    assert any("the region of SelfAttention has no closing line" in p for p in problems), problems
    assert any("SelfAttention is written here by hand" in p for p in problems), problems
    assert run([CHAPTER], write=True, root=course).problems  # nothing to regenerate it from: still an error


def test_a_piece_its_notebook_no_longer_defines_is_reported(course):
    module = course / "tinyformer" / "attention.py"
    old = f"solutions/{CHAPTER}/{CHAPTER}.ipynb (SelfAttention)"
    module.write_text(
        module.read_text()
        .replace(old, f"solutions/{CHAPTER}/{CHAPTER}.ipynb (SelfAttn)")
        .replace(reference_code.closing("SelfAttention"), reference_code.closing("SelfAttn"))
    )
    problems = run([CHAPTER], root=course).problems
    assert any(f"solutions/{CHAPTER}/{CHAPTER}.ipynb does not define SelfAttn" in p for p in problems), problems


def test_a_new_piece_is_two_comment_lines_that_the_command_fills_in(course):
    module = course / "tinyformer" / "attention.py"
    original = module.read_text()
    start = reference_code.opening(f"solutions/{CHAPTER}/{CHAPTER}.ipynb", "SelfAttention")
    end = reference_code.closing("SelfAttention")
    before, rest = original.split(start + "\n")
    module.write_text(before + start + "\n" + end + "\n" + rest.split(end + "\n", 1)[1])
    assert "class SelfAttention" not in module.read_text()
    assert run([CHAPTER], write=True, root=course).problems == []
    assert module.read_text() == original

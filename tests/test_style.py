"""The tree is as pre-commit leaves it (.pre-commit-config.yaml): ruff's lint and format clean (the Python files at
pyproject.toml's line-length, the solution notebooks at the website's code width), every code line of the notebooks
within that width, and no notebook with outputs or execution counts committed. The tools are the locked ones in
.venv, run as a contributor runs them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True)


def _hooks() -> dict[str, dict]:
    return {
        hook["id"]: hook
        for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
        for hook in repo["hooks"]
    }


def notebook_line_length() -> int:
    """The width of the notebooks' code: the website's code column, in characters. Written in one place, the
    --line-length of pre-commit's ruff-format-notebooks hook."""
    args = _hooks()["ruff-format-notebooks"].get("args", [])
    widths = [int(arg.split("=", 1)[1]) for arg in args if re.fullmatch(r"--line-length=\d+", arg)]
    assert len(widths) == 1, f"the ruff-format-notebooks hook should have one --line-length=N argument, has {args}"
    return widths[0]


def _notebooks(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).glob("*/*.ipynb"))


def long_code_lines(notebooks: list[Path], width: int) -> list[str]:
    """Each code line of these notebooks longer than ``width``: notebook, cell id, line number, length, text."""
    found = []
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for number, line in enumerate(source.splitlines(), 1):
                if len(line) > width:
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    found.append(f"{where}, cell {cell.get('id')}, line {number} ({len(line)} characters): {line}")
    return found


def test_ruff_finds_nothing_to_fix():
    done = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert done.returncode == 0, (
        f"`ruff check .` (pre-commit's first hook) found:\n{done.stdout[-3000:]}{done.stderr[-1000:]}"
    )


def test_the_python_files_are_formatted():
    done = _run("ruff", "format", "--no-cache", "--check", ".")
    assert done.returncode == 0, f"`ruff format .` would reformat:\n{done.stdout[-3000:]}{done.stderr[-1000:]}"


def test_the_solution_notebooks_are_formatted_at_the_website_width():
    width = notebook_line_length()
    notebooks = [str(p.relative_to(ROOT)) for p in _notebooks("solutions")]
    done = _run("ruff", "format", "--no-cache", "--check", f"--line-length={width}", *notebooks)
    assert done.returncode == 0, (
        f"`ruff format --line-length={width}` (pre-commit's ruff-format-notebooks hook) would reformat:\n"
        f"{done.stdout[-3000:]}{done.stderr[-1000:]}"
    )


def test_every_code_line_fits_the_website_code_column():
    """ruff format leaves long strings and comments as they are: split those by hand (adjacent string pieces inside
    the brackets, comments rewrapped), in solutions/, then run `python -m grader chapters`."""
    width = notebook_line_length()
    found = long_code_lines(_notebooks("solutions", "chapters"), width)
    assert not found, f"{len(found)} code lines are longer than {width} characters:\n" + "\n".join(found[:40])


def test_committed_notebooks_hold_no_outputs():
    notebooks = sorted(
        str(p.relative_to(ROOT)) for folder in ("solutions", "chapters") for p in (ROOT / folder).glob("*/*.ipynb")
    )
    done = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--keep-id", "--verify", *notebooks],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"`nbstripout --keep-id` would strip outputs from:\n{done.stdout[-3000:]}"


def test_pre_commit_runs_these_checks():
    hooks = _hooks()
    assert {"ruff-check", "ruff-format", "ruff-format-notebooks", "nbstripout"} <= set(hooks)
    assert "--keep-id" in hooks["nbstripout"]["entry"], (
        "the translations are keyed by cell id: nbstripout must keep them"
    )
    # the notebooks are formatted once, at their own width: not by the Python files' hook (line-length 120)
    python, notebooks = hooks["ruff-format"], hooks["ruff-format-notebooks"]
    assert "jupyter" not in python.get("types", []) + python.get("types_or", [])
    assert notebooks["entry"] == "ruff format" and notebooks.get("types") == ["jupyter"]
    selected = re.compile(notebooks["files"])
    assert all(selected.search(str(p.relative_to(ROOT))) for p in _notebooks("solutions"))
    assert not any(selected.search(str(p.relative_to(ROOT))) for p in _notebooks("chapters")), (
        "chapters/ is generated from solutions/: formatting it would leave it out of step with a fresh generation"
    )
    assert 60 <= notebook_line_length() <= 120
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("tool", ["ruff", "nbstripout", "notebook format", "line length"])
def test_the_style_check_sees_a_fault(tool, tmp_path):
    """The checks above can fail: an unused import, a notebook with an output, a notebook's code laid out wider
    than the website's code column, a code line one character too long (a string ruff would not split)."""
    width = notebook_line_length()
    if tool == "line length":
        import nbformat

        fits, too_long = "x = '" + "a" * (width - 6) + "'", "y = '" + "b" * (width - 5) + "'"
        assert (len(fits), len(too_long)) == (width, width + 1)
        nb = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_markdown_cell("prose " * width),  # markdown is not code: any length
                nbformat.v4.new_code_cell(f"{fits}\n{too_long}\n{fits}"),
            ]
        )
        nbformat.write(nb, tmp_path / "bad.ipynb")
        found = long_code_lines([tmp_path / "bad.ipynb"], width)
        assert len(found) == 1 and f"cell {nb.cells[1].id}, line 2 ({width + 1} characters)" in found[0], found
        return
    if tool == "notebook format":
        import nbformat

        call = "f(" + ", ".join(["argument"] * (width // 10 + 1)) + ")"  # fits in 120, not in the website width
        assert width < len(call) <= 120
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(call)]), tmp_path / "bad.ipynb")
        (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--no-cache", "--check", f"--line-length={width}", "bad.ipynb"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode != 0, done.stdout + done.stderr
        return
    if tool == "ruff":
        (tmp_path / "bad.py").write_text("import os\n")
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", str(tmp_path / "bad.py")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
    else:
        import nbformat

        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=1)])
        nbformat.write(nb, tmp_path / "bad.ipynb")
        done = subprocess.run(
            [sys.executable, "-m", "nbstripout", "--keep-id", "--verify", str(tmp_path / "bad.ipynb")],
            capture_output=True,
            text=True,
        )
    assert done.returncode != 0

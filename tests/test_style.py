"""The tree is as pre-commit leaves it (.pre-commit-config.yaml): ruff's lint and format clean, and no notebook
with outputs or execution counts committed. The tools are the locked ones in .venv, run as a contributor runs them."""

import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing_to_fix():
    done = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert done.returncode == 0, (
        f"`ruff check .` (pre-commit's first hook) found:\n{done.stdout[-3000:]}{done.stderr[-1000:]}"
    )


def test_the_python_files_are_formatted():
    done = _run("ruff", "format", "--no-cache", "--check", ".")
    assert done.returncode == 0, f"`ruff format .` would reformat:\n{done.stdout[-3000:]}{done.stderr[-1000:]}"


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
    hooks = {
        hook["id"]: hook
        for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
        for hook in repo["hooks"]
    }
    assert {"ruff-check", "ruff-format", "nbstripout"} <= set(hooks)
    assert "--keep-id" in hooks["nbstripout"]["entry"], (
        "the translations are keyed by cell id: nbstripout must keep them"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("tool", ["ruff", "nbstripout"])
def test_the_style_check_sees_a_fault(tool, tmp_path):
    """The checks above can fail: an unused import, and a notebook with an output."""
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

"""A kernel that dies as it starts is started again, by the grader's notebook client and the website's."""

import sys

import nbformat
import pytest

from grader.autograde import _guarded_execute
from grader.sandbox import write_kernelspec
from grader.website import execute

# Exits before it answers the first time only: what a kernel does whose port another process took meanwhile
# ("Address already in use")
DIES_AT_ITS_FIRST_START = """import os, sys
marker = sys.argv.pop(1)
if not os.path.exists(marker):
    open(marker, "w").close()
    os._exit(1)
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


def grade(path):
    nb = nbformat.read(path, as_version=4)
    return _guarded_execute()(timeout=60).preprocess(nb, {"metadata": {"path": str(path.parent)}})[0]


@pytest.mark.parametrize("run", [grade, execute], ids=["grader", "website"])
def test_a_kernel_that_dies_as_it_starts_is_started_again(run, tmp_path, monkeypatch):
    marker = tmp_path / "started once"
    launcher = tmp_path / "launcher.py"
    launcher.write_text(DIES_AT_ITS_FIRST_START)
    argv = [sys.executable, str(launcher), str(marker), "-f", "{connection_file}"]
    write_kernelspec(tmp_path / "jupyter", argv, {}, tmp_path / "guard.json", "dies once")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "dies once", "language": "python"}
    nbformat.write(nb, tmp_path / "six-sevens.ipynb")
    executed = run(tmp_path / "six-sevens.ipynb")
    assert marker.exists(), "the kernel's first start did not die: this test tests nothing"
    assert executed.cells[0].outputs[0]["text"] == "42\n"

"""The instructors' batch: an adversarial class graded in the sandbox, each submission with its expected
outcome; the batch never stops, a rerun regrades nothing and changes nothing, no hidden test leaks."""

import csv
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from grader.batch import run_batch
from grader.course import ROOT
from grader.sandbox import Limits
from tests.submissions import completed, save, student_edition
from tests.system_tools import require_bwrap

CHAPTER = "01-rnn-limits"
SOLUTION_FILE = ROOT / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"

# A probe defines a correct rnn_forward only if it got what the sandbox must deny: a pass of the
# 3 points of rnn_forward's tests would show the breach. Denied, the class scores 6 / 9.
CHEAT = """def _cheat():
    import torch
    def rnn_forward(x, W_xh, W_hh, b_h, h0=None):
        h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0
        out = []
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T + b_h)
            out.append(h)
        return torch.stack(out, 1), h
    globals()["rnn_forward"] = rnn_forward
"""
CHEAT_IF = (
    CHEAT
    + """try:
    {probe}
    _cheat()
except Exception as error:
    print("denied:", type(error).__name__)
"""
)
# A copy of the solutions elsewhere on disk (another checkout), removed after grading. Not under pytest's /tmp:
# the sandbox gives each kernel a private /tmp, so only a path outside it tests what the sandbox shows of the disk.
ELSEWHERE = Path("/var/tmp/grader-test-copy/solutions.ipynb")
PROBES = {
    "network": "import socket; socket.create_connection(('1.1.1.1', 80), 3)",
    "loopback": "import socket; socket.create_connection(('127.0.0.1', 22), 3)",
    "reads_hidden_tests": f"assert 'BEGIN HIDDEN TESTS' in open({str(SOLUTION_FILE)!r}).read()",
    "reads_repository": f"open({str(ROOT / 'README.md')!r}).read()",
    "reads_a_copy_elsewhere": f"assert 'BEGIN HIDDEN TESTS' in open({str(ELSEWHERE)!r}).read()",  # another checkout
    "writes_outside": f"open({str(ROOT / 'pwned.txt')!r}, 'w').write('x')",
    "reads_other_submission": "import glob; assert glob.glob('/tmp/**/reference*.ipynb', recursive=True) or open(__import__('os').environ['CLASS_FOLDER'] + '/reference.ipynb').read()",
    "memory_bomb": "x = bytearray(40 * 2**30); x[-1] = 1",
}
# Every probe in one notebook (one kernel, not eight): each runs in turn, its outcome printed in the graded notebook
# ("denied: NAME ERROR"), and rnn_forward is defined if any got through. The memory bomb comes last: a kernel it
# killed would lose only the probes after it.
EVERY_PROBE = """breached = []
for name, probe in PROBES.items():
    try:
        exec(probe, {})
        breached.append(name)
    except Exception as error:
        print("denied:", name, type(error).__name__)
if breached:
    print("breached:", breached)
    _cheat()
"""
ALLOWED = {  # what the sandbox must still allow: the notebook that does all of these gets full marks
    "writes_own_folder": "open('scratch.txt', 'w').write('a learner may write files next to the notebook')",
    "writes_tmp": "open('/tmp/scratch.txt', 'w').write('and in a private /tmp')",
}
WRONG_RNN_ZEROS = "def rnn_forward(x, W_xh, W_hh, b_h, h0=None):\n    hs = x.new_zeros(x.shape[0], x.shape[1], W_hh.shape[0])\n    return hs, hs[:, -1]\n"
# Ways to fake the 2 points of rnn_forward's value tests from inside the notebook (each works in a plain
# kernel; the autograder's kernel, grader/guard.py, defeats them): with the wrong rnn_forward, 7 / 9.
TAMPERING = {
    "rebinds_check_tensor": "check_tensor = lambda *args, **kwargs: None\n",
    "patches_testing_module": "import tinyformer.testing\ntinyformer.testing.check_tensor = lambda *a, **k: None\n"
    "tinyformer.testing._allclose = lambda *a, **k: True\n",
    "input_transformer": "get_ipython().input_transformers_post.append(\n"
    "    lambda lines: [] if any('check_tensor' in line for line in lines) else lines)\n",
    "ast_transformer": "import ast\nclass Blank(ast.NodeTransformer):\n    def visit_Module(self, node):\n"
    "        return ast.Module([], []) if 'check_tensor' in ast.unparse(node) else node\n"
    "get_ipython().ast_transformers.append(Blank())\n",
    "pre_run_cell_hook": "def _hook(info):\n    get_ipython().user_ns['check_tensor'] = lambda *a, **k: None\n"
    "get_ipython().events.register('pre_run_cell', _hook)\n",
    # from inside the function the test calls: rebind the helper in the test's own namespace, mid-test
    "rebinds_from_the_call": WRONG_RNN_ZEROS.replace(
        "    return hs",
        "    import inspect\n    inspect.currentframe().f_back.f_globals['check_tensor'] = lambda *a, **k: None\n"
        "    return hs",
    ),
}
EXPECTED = {  # student -> (score out of 9, status)
    "reference": (9, "graded"),
    "untouched": (0, "graded"),
    "partial": (4, "graded"),
    "renamed_my_homework_FINAL-2": (9, "graded"),  # a plain file: the student is its (cleaned) name
    "sys_exit": (6, "graded"),
    "monkeypatched_allclose": (7, "graded"),
    "eq_always_true": (6, "graded"),
    "edited_test_cell": (7, "graded"),
    "deleted_test_cell": (7, "graded"),
    "deleted_test_cell_right_answer": (9, "graded"),  # the deleted test is put back, and passes
    "duplicated_test_cell": (7, "graded"),
    "retyped_test_cell": (7, "graded"),
    "duplicated_solution_cell": (9, "graded"),
    "huge_output": (0, "zero"),  # 1 GiB: stopped at 100 MB
    "long_output": (9, "graded"),  # 5 MB: kept up to 1 MB a cell
    **{f"tampers_{name}": (7, "graded") for name in TAMPERING},
    # its rnn_forward rebinds check_tensor in its caller's globals, which are tinyformer.testing's (the tests call
    # learner code through tinyformer.testing.call): the guard catches it in the shapes test too, so 6 / 9
    "tampers_rebinds_from_the_call": (6, "graded"),
    "probes": (6, "graded"),
    "allowed": (9, "graded"),
}


def build_class(folder: Path) -> None:
    save(completed(CHAPTER), folder / "reference.ipynb")
    save(student_edition(CHAPTER), folder / "untouched.ipynb")
    save(
        completed(
            CHAPTER,
            {
                "rnn_forward": "def rnn_forward(x, W_xh, W_hh, b_h, h0=None):\n    h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0\n    out = []\n    for t in range(x.shape[1]):\n        h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh + b_h)\n        out.append(h)\n    return torch.stack(out, 1), h\n",
                "causal_average": "def causal_average(x):\n    seq = x.shape[1]\n    return torch.ones(seq, seq, dtype=x.dtype).tril() / torch.arange(0, seq, dtype=x.dtype).clamp(min=1)[:, None] @ x\n",
            },
        ),
        folder / "partial.ipynb",
    )
    save(completed(CHAPTER), folder / "renamed_my_homework_FINAL (2).ipynb")
    save(completed(CHAPTER, {"rnn_forward": "import sys\nsys.exit(0)\n"}), folder / "sys_exit.ipynb")
    save(
        completed(
            CHAPTER,
            {
                "rnn_forward": "torch.allclose = lambda *a, **k: True\nimport numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
                + WRONG_RNN_ZEROS
            },
        ),
        folder / "monkeypatched_allclose.ipynb",
    )
    save(
        completed(
            CHAPTER,
            {
                "rnn_forward": "class Yes:\n    shape = None\n    def __eq__(self, other):\n        return True\n    def __getitem__(self, i):\n        return self\ndef rnn_forward(*args, **kwargs):\n    return Yes(), Yes()\n"
            },
        ),
        folder / "eq_always_true.ipynb",
    )
    for name in ["edited_test_cell", "deleted_test_cell", "duplicated_test_cell", "retyped_test_cell"]:
        nb = completed(CHAPTER, {"rnn_forward": WRONG_RNN_ZEROS})
        index = next(
            i
            for i, c in enumerate(nb.cells)
            if c.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_forward_values"
        )
        if name == "edited_test_cell":
            nb.cells[index].source = "print('all good')"
        elif name == "deleted_test_cell":
            del nb.cells[index]
        elif name == "duplicated_test_cell":
            copy = nbformat.from_dict(dict(nb.cells[index]))
            copy.source = "print('all good')"
            nb.cells.insert(index, copy)
        else:  # the test cell turned into a markdown cell, so it would not run
            nb.cells[index] = nbformat.v4.new_markdown_cell(nb.cells[index].source, metadata=nb.cells[index].metadata)
        save(nb, folder / f"{name}.ipynb")
    nb = completed(CHAPTER)
    del nb.cells[
        next(
            i
            for i, c in enumerate(nb.cells)
            if c.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_forward_values"
        )
    ]
    save(nb, folder / "deleted_test_cell_right_answer.ipynb")
    nb = completed(CHAPTER)  # a solution cell copied (same grade_id): the learner's code still counts
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_forward")
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(nb.cells[index].source, metadata=nb.cells[index].metadata))
    save(nb, folder / "duplicated_solution_cell.ipynb")
    nb = completed(CHAPTER)
    nb.cells.insert(2, nbformat.v4.new_code_cell("for _ in range(1024):  # 1 GiB\n    print('x' * 2**20)"))
    save(nb, folder / "huge_output.ipynb")
    nb = completed(CHAPTER)
    nb.cells.insert(2, nbformat.v4.new_code_cell("for _ in range(5000):\n    print('x' * 1000)"))
    save(nb, folder / "long_output.ipynb")
    probes = CHEAT + f"PROBES = {PROBES!r}\n" + EVERY_PROBE
    save(completed(CHAPTER, {"rnn_forward": probes}), folder / "probes.ipynb")
    save(
        completed(CHAPTER, {"rnn_forward": CHEAT_IF.format(probe="; ".join(ALLOWED.values()))}),
        folder / "allowed.ipynb",
    )
    for name, code in TAMPERING.items():
        answer = code if name == "rebinds_from_the_call" else code + WRONG_RNN_ZEROS
        save(completed(CHAPTER, {"rnn_forward": answer}), folder / f"tampers_{name}.ipynb")
    (folder / "not_json.ipynb").write_text("{ this is not json")
    (folder / "empty.ipynb").write_text("")
    save(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('chapter 99')")]),
        folder / "wrong_chapter.ipynb",
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    require_bwrap()
    folder = tmp_path_factory.mktemp("class")
    build_class(folder)
    out = tmp_path_factory.mktemp("grading")
    limits = Limits(cell_seconds=30, notebook_seconds=120)  # 2 jobs on 2 cores: generous, an endless loop still ends
    ELSEWHERE.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOLUTION_FILE, ELSEWHERE)
    os.environ["CLASS_FOLDER"] = str(folder)  # the kernels inherit it: a probe knows where the class lies
    try:
        rows = run_batch(folder, out, None, 2, None, True, limits)
    finally:
        del os.environ["CLASS_FOLDER"]
        shutil.rmtree(ELSEWHERE.parent, ignore_errors=True)
    return folder, out, limits, rows


def read_csv(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_every_submission_gets_its_expected_score(graded):
    _, out, _, _ = graded
    rows = read_csv(out)
    got = {student: (float(rows[student]["score"]), rows[student]["status"]) for student in EXPECTED if student in rows}
    assert got == {s: (float(score), status) for s, (score, status) in EXPECTED.items()}


def test_every_probe_was_denied(graded):
    _, out, _, _ = graded
    nb = nbformat.read(out / "autograded" / "probes" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_forward")
    printed = "".join(output.get("text", "") for output in cell.outputs)
    assert "breached" not in printed, f"the sandbox let a probe through: {printed}"
    assert [name for name in PROBES if f"denied: {name} " not in printed] == [], printed


def test_failures_give_a_one_line_reason(graded):
    rows = read_csv(graded[1])
    assert rows["not_json"]["status"] == "refused" and "not JSON" in rows["not_json"]["reason"]
    assert rows["empty"]["status"] == "refused" and "empty" in rows["empty"]["reason"]
    assert rows["wrong_chapter"]["status"] == "refused" and "not a notebook of" in rows["wrong_chapter"]["reason"]
    assert all("\n" not in row["reason"] for row in rows.values())


def test_output_is_cut_and_a_flood_stopped(graded):
    _, out, _, _ = graded
    assert "printed more than 100 MB of output" in read_csv(out)["huge_output"]["reason"]
    page = next(p for p in (out / "feedback").rglob("*.html") if "long_output" in str(p))
    assert page.stat().st_size < 3 * 2**20, f"{page} keeps {page.stat().st_size:,} bytes of 5 MB of output"
    assert "output truncated by the grader" in page.read_text()


def test_nothing_was_written_outside_the_sandbox(graded):
    assert not (ROOT / "pwned.txt").exists()


def test_gradebook_holds_the_scores(graded):
    from nbgrader.api import Gradebook

    _, out, _, _ = graded
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission(CHAPTER, "reference").score == 9
        assert gradebook.find_submission(CHAPTER, "partial").score == 4
        assert gradebook.find_submission(CHAPTER, "untouched").score == 0


def test_feedback_shows_no_hidden_test(graded):
    _, out, _, _ = graded
    hidden = ["### BEGIN HIDDEN TESTS", "_norms_by_loop", "hs with a given h0"]
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        text = page.read_text()
        assert "Autograded score" in text
        for line in hidden:
            assert line not in text, f"{page}: hidden test text {line!r} in the feedback"


def test_a_rerun_regrades_nothing_and_changes_nothing(graded, capsys):
    folder, out, limits, _ = graded
    before = (out / "grades.csv").read_text()
    run_batch(folder, out, None, 2, None, True, limits)
    assert "(%d already graded" % sum(1 for s in EXPECTED) in capsys.readouterr().out
    assert (out / "grades.csv").read_text() == before


def test_shards_split_the_class(graded, tmp_path, capsys):
    """Two shards of a class of three, each its own output folder, one gradebook. What is tested is the split and the
    shared gradebook, not the grading (the class's own test): each shard starts from the class's results, the
    cache a rerun reads, so that it grades nothing again."""
    folder, out, limits, _ = graded
    small = tmp_path / "small"
    small.mkdir()
    for name in ["reference.ipynb", "untouched.ipynb", "partial.ipynb"]:
        shutil.copy(folder / name, small / name)
    for shard in "ab":
        shutil.copytree(out / "results", tmp_path / shard / "results")
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    first = run_batch(small, tmp_path / "a", db, 1, "0/2", True, limits)
    second = run_batch(small, tmp_path / "b", db, 1, "1/2", True, limits)
    said = capsys.readouterr().out
    assert "2 submissions to grade (2 already graded, shard 0/2)" in said, said
    assert "1 submissions to grade (1 already graded, shard 1/2)" in said, said
    assert sorted(r["student"] for r in first + second) == ["partial", "reference", "untouched"]
    assert {r["student"]: float(r["score"]) for r in first + second} == {
        s: float(EXPECTED[s][0]) for s in ["partial", "reference", "untouched"]
    }
    from nbgrader.api import Gradebook

    with Gradebook(db) as gradebook:
        assert sorted(s.student.id for s in gradebook.assignment_submissions(CHAPTER)) == [
            "partial",
            "reference",
            "untouched",
        ]


def test_a_rerun_keeps_hand_marks_until_the_notebook_changes(graded, tmp_path, capsys):
    """The first grading comes from the class's results (the cache a rerun reads): what is tested is what the
    regrade of the same notebook, and the grading of a changed one, do to the instructor's marks."""
    from nbgrader.api import Gradebook

    folder, class_out, limits, _ = graded
    small, out, written = tmp_path / "small", tmp_path / "out", "written_lstm_vs_parallel"
    small.mkdir()
    shutil.copy(folder / "reference.ipynb", small / "reference.ipynb")
    shutil.copytree(class_out / "results", out / "results")
    run_batch(small, out, None, 1, None, True, limits)
    assert "(1 already graded" in capsys.readouterr().out
    db = f"sqlite:///{out / 'gradebook.db'}"
    with Gradebook(db) as gradebook:  # the instructor marks the written answer in formgrader
        gradebook.find_grade(written, CHAPTER, CHAPTER, "reference").manual_score = 1.5
        gradebook.find_comment(written, CHAPTER, CHAPTER, "reference").manual_comment = "clear and right"
        gradebook.db.commit()

    def marks():
        with Gradebook(db) as gradebook:
            return (
                gradebook.find_grade(written, CHAPTER, CHAPTER, "reference").manual_score,
                gradebook.find_comment(written, CHAPTER, CHAPTER, "reference").manual_comment,
                gradebook.find_submission(CHAPTER, "reference").code_score,
            )

    run_batch(small, out, None, 1, None, True, limits, regrade=True)
    assert marks() == (1.5, "clear and right", 9), "regrading the same notebook lost the hand marks"
    nb = nbformat.read(small / "reference.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == written)
    cell.source += "\n\nEdited after the deadline."
    nbformat.write(nb, small / "reference.ipynb")
    capsys.readouterr()
    run_batch(small, out, None, 1, None, True, limits)
    assert marks() == (None, "clear and right", 9), "a changed written answer kept its old mark"
    assert f"written answer {written} needs marking again" in capsys.readouterr().out


def test_a_message_in_the_feedback_table_is_plain_text():
    from nbconvert.filters.markdown import markdown2html  # what the feedback page's Markdown goes through

    from grader.worker import _as_text

    message = "FeedForward.__init__() got <script>alert(1)</script> | *not* a `cell`"
    page = markdown2html(f"| a |\n| --- |\n| {_as_text(message)} |\n")
    assert "<td>FeedForward.__init__() got &lt;script&gt;alert(1)&lt;/script&gt; | *not* a `cell`</td>" in page


# One bad cell costs that cell's points (the rest of the notebook runs, the feedback names the cell): an endless
# causal_average costs its 3 points, a kernel killed in rnn_forward's cell costs rnn_forward's 3.
# The endless loop spins, as a learner's does. The loop deaf to the interrupt waits instead (as a loop on a lock or a
# socket does): the grader's limit is wall time and its interrupt a signal, the same for both, and spinning, the
# three cells it loses would keep a core busy for about a minute beside the other tests.
ENDLESS = "def causal_average(x):\n    while True:\n        pass\n"
DEAF = (
    "def causal_average(x):\n    import time\n    while True:  # deaf to the interrupt: the grader restarts the kernel\n"
    "        try:\n            while True:\n                time.sleep(1)\n        except KeyboardInterrupt:\n            pass\n"
)
DIES_WHEN_RUN_AGAIN = "import os\nif os.path.exists('ran_once'):\n    os._exit(1)\nopen('ran_once', 'w').close()"
LOSES_ONE_CELL = {  # student -> (answers, score out of 9, what grades.csv's reason says, the cells it names)
    "endless_loop": (
        {"causal_average": ENDLESS},
        6,
        "interrupted at the time limit",
        ["test_causal_average_small", "test_causal_average_batch"],
    ),
    "deaf_to_interrupt": ({"causal_average": DEAF}, 6, "the kernel died or hung", ["test_causal_average_small"]),
    "os_exit": ({"rnn_forward": "import os\nos._exit(0)\n"}, 6, "the kernel died or hung", ["rnn_forward"]),
    "segfault": (
        {"rnn_forward": "import faulthandler\nfaulthandler._sigsegv()\n"},
        6,
        "the kernel died or hung",
        ["rnn_forward"],
    ),
    "cannot_restart": (
        {"rnn_forward": "import os\nos._exit(0)\n"},
        0,
        "could not be started again after rnn_forward",
        ["cell 3 (import os)", "test_rnn_forward_shapes"],
    ),
}


# a cell's limit: 5-10 times chapter 01's longest cell in grading mode on 2 busy cores; the endless loops wait it out
LOSSY_CELL_SECONDS = 15


@pytest.fixture(scope="module")
def lossy(tmp_path_factory):
    """A class whose notebooks each lose one cell to an endless loop or a dead kernel, graded in the sandbox."""
    require_bwrap()
    folder, out = tmp_path_factory.mktemp("lossy"), tmp_path_factory.mktemp("lossy-grading")
    for student, (answers, *_) in LOSES_ONE_CELL.items():
        nb = completed(CHAPTER, answers)
        if student == "cannot_restart":  # a cell of its own that kills the kernel when the grader runs it again
            nb.cells.insert(2, nbformat.v4.new_code_cell(DIES_WHEN_RUN_AGAIN))
        save(nb, folder / f"{student}.ipynb")
    run_batch(folder, out, None, 2, None, True, Limits(cell_seconds=LOSSY_CELL_SECONDS, notebook_seconds=300))
    return out


def test_one_bad_cell_costs_only_its_own_points(lossy):
    rows = read_csv(lossy)
    assert {s: (float(rows[s]["score"]), rows[s]["status"]) for s in LOSES_ONE_CELL} == {
        s: (float(score), "graded") for s, (_, score, *_) in LOSES_ONE_CELL.items()
    }
    for student, (_, _, reason, cells) in LOSES_ONE_CELL.items():
        assert reason in rows[student]["reason"] and all(c in rows[student]["reason"] for c in cells), rows[student]
        assert "\n" not in rows[student]["reason"]


def test_a_lost_cell_is_named_in_the_feedback(lossy):
    endless = (lossy / "feedback" / "endless_loop" / f"{CHAPTER}.html").read_text()
    assert f"this cell was interrupted: it ran longer than the limit of {LOSSY_CELL_SECONDS} s" in endless
    died = (lossy / "feedback" / "os_exit" / f"{CHAPTER}.html").read_text()
    assert "the kernel died while running this cell" in died
    stopped = (lossy / "feedback" / "cannot_restart" / f"{CHAPTER}.html").read_text()
    assert "not run: the kernel could not be started again after rnn_forward" in stopped


def test_a_kernel_that_cannot_import_the_course_stops_the_batch_with_one_line(tmp_path):
    """The sandboxed kernel imports torch and the course before anything is graded: where it cannot (here, too
    little memory for torch), the batch stops and says why, instead of scoring correct notebooks 0."""
    from grader.course import CourseError

    save(completed(CHAPTER), tmp_path / "class" / "ada.ipynb")
    with pytest.raises(CourseError) as error:
        run_batch(tmp_path / "class", tmp_path / "out", None, 1, None, True, Limits(memory_bytes=300 * 2**20))
    message = str(error.value)
    assert "\n" not in message and message.startswith("cannot grade: inside the sandbox, `import "), message
    assert "` fails: ImportError: " in message, message
    assert "--memory-gb" in message, message
    assert not (tmp_path / "out" / "grades.csv").exists() and not (tmp_path / "out" / "results").exists()


def test_the_grader_of_another_checkout_refuses_a_kernel_without_its_tinyformer(tmp_path):
    """An instructor's private copy of the course, graded with the Python whose editable install is this checkout:
    the kernel would grade with this checkout's tinyformer (or fail to import it, if the sandbox hides it), while
    results are keyed on the copy's. The command stops with one line that says how to fix it."""
    import subprocess
    import sys

    copy = tmp_path / "private-course"
    for folder in ("grader", "tinyformer", "solutions", "chapters"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    save(completed(CHAPTER), tmp_path / "class" / "ada.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "autograde", str(tmp_path / "class"), "--out", str(tmp_path / "out")],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: cannot grade: ") and f"-m pip install -e {copy}" in done.stderr, done.stderr


def test_the_result_cache_keys_on_the_course_code_and_the_environment(tmp_path, monkeypatch):
    """A result is reused only while the notebook, the chapter's source (hidden tests included), the course's code
    and the grading environment are what they were: a change of any of them grades the notebook again."""
    import grader.batch
    import grader.course
    from grader.batch import _key
    from grader.intake import Submission

    course = tmp_path / "course"
    for folder in ("tinyformer", "grader"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions" / CHAPTER, course / "solutions" / CHAPTER)
    monkeypatch.setattr(grader.course, "ROOT", course)
    monkeypatch.setattr(grader.batch, "SOLUTIONS", course / "solutions")
    submission = Submission("ada", CHAPTER, save(completed(CHAPTER), tmp_path / "ada.ipynb"))
    environment = {"kernel": {"python": "3.11.7", "versions": {"torch": "2.13.0"}}, "grader": {"nbgrader": "0.9.6"}}
    keys = [_key(submission, environment)]
    assert _key(submission, environment) == keys[0], "the same inputs must give the same key"
    with open(course / "tinyformer" / "rnn.py", "a") as handle:
        handle.write("\n# a fix in the course's code\n")
    keys.append(_key(submission, environment))
    source = course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"
    source.write_text(source.read_text().replace("BEGIN HIDDEN TESTS", "BEGIN HIDDEN TESTS ", 1))
    keys.append(_key(submission, environment))
    (course / "solutions" / CHAPTER / "data.txt").write_text("data the chapter reads")
    keys.append(_key(submission, environment))
    keys.append(_key(submission, {**environment, "kernel": {"python": "3.11.7", "versions": {"torch": "2.12.1"}}}))
    keys.append(_key(submission, {**environment, "grader": {"nbgrader": "0.9.5"}}))
    assert len(set(keys)) == len(keys), keys


def test_a_fork_bomb_costs_its_cell_and_leaves_nothing_for_the_next_submission(tmp_path):
    """A fork bomb in rnn_forward's cell hits the process limit and hangs or kills its kernel: that cell is lost
    (named in the reason), the kernel is started again for the rest. The next submission graded in the same
    worker slot (as the same uid, when grading as root) starts under its own process limit: what the bomb left
    is ended first (before, its kernel sometimes could not start)."""
    folder = tmp_path / "class"
    save(completed(CHAPTER, {"rnn_forward": "import os\nwhile True:\n    os.fork()\n"}), folder / "a_fork_bomb.ipynb")
    save(completed(CHAPTER), folder / "b_after_the_bomb.ipynb")
    run_batch(folder, tmp_path / "out", None, 1, None, True, Limits(cell_seconds=20, notebook_seconds=240))
    rows = read_csv(tmp_path / "out")
    assert (float(rows["a_fork_bomb"]["score"]), rows["a_fork_bomb"]["status"]) == (6.0, "graded"), rows["a_fork_bomb"]
    assert "rnn_forward" in rows["a_fork_bomb"]["reason"], rows["a_fork_bomb"]
    assert (float(rows["b_after_the_bomb"]["score"]), rows["b_after_the_bomb"]["status"]) == (9.0, "graded"), rows

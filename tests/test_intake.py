"""grader.intake: who handed in what, from the layouts LMSs export (no grading here, so it is fast)."""

import subprocess
import sys
import zipfile

import pytest

from grader.course import ROOT, CourseError
from grader.intake import collect
from tests.submissions import completed, save, student_edition

CHAPTER, OTHER = "03-attention", "06-encoder"


def found(folder, chapters=None):
    submissions = collect(folder, folder.parent / "scratch", chapters)
    graded = {(s.student, s.chapter): s.path.name for s in submissions if not s.problem}
    refused = {s.path.name: s.problem for s in submissions if s.problem}
    return graded, refused


def test_canvas_keeps_the_user_id_and_grades_the_latest_hand_in(tmp_path):
    folder = tmp_path / "canvas"
    save(student_edition(CHAPTER), folder / "leeanna_777_9999_03-attention.ipynb")
    save(completed(CHAPTER), folder / "leeanna_777_10000_03-attention-1.ipynb")  # resubmitted: a higher id
    save(completed(CHAPTER), folder / "smithjohn_LATE_42_10001_homework.ipynb")
    graded, refused = found(folder)
    assert graded == {
        ("leeanna_777", CHAPTER): "leeanna_777_10000_03-attention-1.ipynb",
        ("smithjohn_42", CHAPTER): "smithjohn_LATE_42_10001_homework.ipynb",
    }
    assert "leeanna_777_10000_03-attention-1.ipynb is graded instead" in refused["leeanna_777_9999_03-attention.ipynb"]


def test_moodle_students_of_the_same_name_stay_two(tmp_path):
    folder = tmp_path / "moodle"
    save(completed(CHAPTER), folder / "John Smith_501_assignsubmission_file_" / "03-attention.ipynb")
    save(student_edition(CHAPTER), folder / "John Smith_502_assignsubmission_file_" / "03-attention.ipynb")
    (folder / "John Smith_501_assignsubmission_onlinetext_").mkdir()
    (folder / "John Smith_501_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>see file</p>")
    graded, refused = found(folder)
    assert set(graded) == {("John-Smith_501", CHAPTER), ("John-Smith_502", CHAPTER)} and refused == {}


def test_nbgrader_layout_a_zip_and_upper_case_names(tmp_path):
    folder = tmp_path / "submitted"
    save(completed(CHAPTER), folder / "ada" / CHAPTER / f"{CHAPTER}.ipynb")
    (folder / "ada" / CHAPTER / "timestamp.txt").write_text("2026-11-23 10:00:00")
    save(completed(OTHER), folder / "ada" / OTHER / "mine.IPYNB")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.rglob("*"):
            zf.write(path, path.relative_to(tmp_path))
    expected = {("ada", CHAPTER): f"{CHAPTER}.ipynb", ("ada", OTHER): "mine.IPYNB"}
    assert found(folder) == (expected, {})
    assert collect(archive, tmp_path / "scratch")[0].student == "ada"


def test_a_student_with_no_notebook_is_reported_not_dropped(tmp_path):
    folder = tmp_path / "plain"
    save(completed(CHAPTER), folder / "ada.ipynb")
    (folder / "bob.py").write_text("def scaled_dot_product_attention(q, k, v): ...")
    graded, refused = found(folder)
    assert graded == {("ada", CHAPTER): "ada.ipynb"}
    assert refused == {"bob.py": "not a Jupyter notebook (.py file): hand in the chapter's .ipynb"}


def test_other_chapters_are_left_out_when_chapters_are_named(tmp_path):
    folder = tmp_path / "mixed"
    save(completed(CHAPTER), folder / "ada.ipynb")
    save(completed(OTHER), folder / "bob.ipynb")
    assert found(folder, [OTHER]) == ({("bob", OTHER): "bob.ipynb"}, {})


def test_nothing_to_grade_is_an_error_not_an_empty_grade_sheet(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CourseError, match="no notebooks"):
        collect(tmp_path / "empty", tmp_path / "scratch")
    save(completed(CHAPTER), tmp_path / "only03" / "ada.ipynb")
    with pytest.raises(CourseError, match=f"no notebooks .* of {OTHER}"):
        collect(tmp_path / "only03", tmp_path / "scratch", [OTHER])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--db-url", "bogus://x"], "is not a database URL the grader can use"),
        (
            ["--db-url", "postgresql://grader@127.0.0.1:1/course"],
            "cannot open the gradebook postgresql://grader@127.0.0.1:1/course",
        ),
        (["--jobs", "0"], "--jobs, --timeout and --cell-timeout must be at least 1"),
        (["--memory-gb", "0.5"], "--memory-gb 0.5 is too little"),
        (["--chapter", "6"], "no notebooks (.ipynb) to grade of 06-encoder"),
    ],
)
def test_bad_input_is_one_line_and_the_last_grades_stay(tmp_path, arguments, message):
    save(completed(CHAPTER), tmp_path / "class" / "ada.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.csv").write_text("student,chapter,score\nada,03-attention,13\n")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "autograde", str(tmp_path / "class"), "--out", str(out), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert (out / "grades.csv").read_text() == "student,chapter,score\nada,03-attention,13\n"

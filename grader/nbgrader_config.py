"""nbgrader configuration of the course. The `grader` package loads this file; nbgrader run from
this folder (`cd grader && nbgrader ...`) reads it too.

Layout (see README): solutions/<chapter>/ are nbgrader's "source", chapters/<chapter>/ its "release".
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "tinyformer-course"


def _course_root() -> str:
    """The clone of the course: the working directory or the nearest folder above it holding grader/chapters.toml
    and solutions/ (grader/course.py, find_course, says the same), else the clone this file is in, else the
    working directory (nbgrader's own default: an installed copy of this file, outside a clone)."""

    def is_course(folder):
        return os.path.isfile(os.path.join(folder, "grader", "chapters.toml")) and os.path.isdir(
            os.path.join(folder, "solutions")
        )

    folder = os.getcwd()
    while True:
        if is_course(folder):
            return folder
        if os.path.dirname(folder) == folder:
            break
        folder = os.path.dirname(folder)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return here if is_course(here) else os.getcwd()


c.CourseDirectory.root = _course_root()
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "chapters"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading runs each notebook with NBGRADER_EXECUTION set; chapters shrink their experiments then.
c.ExecutePreprocessor.timeout = 120
c.Execute.timeout = 120
# A cell over the limit stops the notebook ("a cell ran longer than the time limit"): the learner's self-check
# says so at once, rather than every later cell that calls the same endless function waiting out the limit
# again. The class batch (python -m grader autograde) interrupts such a cell instead and grades the rest, within
# the submission's own time limit (grader/autograde.py, _guarded_execute).
c.Execute.interrupt_on_timeout = False

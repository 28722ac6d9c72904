"""nbgrader configuration of the course. The `grader` package loads this file; nbgrader run from
this folder (`cd grader && nbgrader ...`) reads it too.

Layout (see README): solutions/<chapter>/ are nbgrader's "source", chapters/<chapter>/ its "release".
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "tinyformer-course"
c.CourseDirectory.root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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

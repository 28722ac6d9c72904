"""The course's tooling around nbgrader: authoring checks, student editions, website notebooks, grading.

Run ``python -m grader --help``.
"""

import os as _os
import sys as _sys

# nbgrader runs helper programs (alembic) by name: make the ones installed beside this Python findable
# even when it was started as .venv/bin/python without activating the environment.
_bin = _os.path.dirname(_sys.executable)
if _bin not in _os.environ.get("PATH", "").split(_os.pathsep):
    _os.environ["PATH"] = _bin + _os.pathsep + _os.environ.get("PATH", "")

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

# nbformat imports jsonschema, whose format checkers import rfc3987_syntax when it is installed (jupyter-events
# installs it), and rfc3987_syntax builds some 35 Earley parsers as it is imported: a second of every grader
# process's start, every graded submission's included, for an "iri" format no notebook schema uses
# (python-jsonschema/jsonschema#1428). Marked as absent, jsonschema skips that one format.
_sys.modules.setdefault("rfc3987_syntax", None)

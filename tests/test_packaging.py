"""pyproject.toml says what the packages need: every third-party module that tinyformer/ and grader/ import is a
dependency (tinyformer's own, for what tinyformer imports) or in the [grader] extra (for the grader), and the
version is written once (tinyformer.__version__). requirements.lock, what `make install` installs, is
requirements.txt resolved: every package pinned, with hashes, the top-level pins the same."""

import ast
import sys
from importlib.metadata import packages_distributions, version

import tomllib
from packaging.requirements import Requirement

from tests.conftest import ROOT


def optional(tree: ast.AST) -> set[int]:
    """ids of the import statements in a ``try:`` that catches ImportError (used when present, e.g. IPython)."""
    found = set()
    for node in ast.walk(tree):
        catches = {h.type.id for h in getattr(node, "handlers", []) if isinstance(h.type, ast.Name)}
        if isinstance(node, ast.Try) and catches & {"ImportError", "ModuleNotFoundError"}:
            found |= {id(n) for statement in node.body for n in ast.walk(statement)}
    return found


def imported_modules(package: str) -> set[str]:
    """The top-level modules that package's files import (at the top or inside functions), optional ones aside."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        skip = optional(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"tinyformer", "grader", "__future__"}


def distributions(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def missing(package: str, listed: set[str]) -> list[str]:
    to_dist = packages_distributions()
    return sorted(
        m for m in imported_modules(package) if not {d.lower().replace("_", "-") for d in to_dist.get(m, [m])} & listed
    )


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_tinyformer_needs_only_its_dependencies():
    assert not missing("tinyformer", distributions(PROJECT["dependencies"])), (
        "tinyformer imports these, which pyproject.toml's dependencies do not list"
    )


def test_the_grader_needs_only_the_grader_extra():
    listed = distributions(PROJECT["dependencies"]) | distributions(PROJECT["optional-dependencies"]["grader"])
    assert not missing("grader", listed), "grader imports these, which pyproject.toml's [grader] extra does not list"


def test_the_check_sees_a_missing_dependency():
    assert missing("grader", distributions(PROJECT["dependencies"])), "the grader imports nbgrader, not in the core"


def test_the_version_is_written_once():
    import tinyformer

    assert "version" in PROJECT["dynamic"] and "version" not in PROJECT
    assert version("tinyformer") == tinyformer.__version__


def pins(text: str) -> dict[str, str]:
    """name -> version of each `name==version` line (a trailing comment or backslash aside)."""
    found = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip().rstrip("\\").strip()
        if "==" in line and not line.startswith("-"):
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue  # e.g. tomli on Python < 3.11: not in this Python's lock
            found[requirement.name.lower().replace("_", "-")] = str(requirement.specifier).removeprefix("==")
    return found


def test_the_lock_file_pins_requirements_txt_with_hashes():
    lock_text = (ROOT / "requirements.lock").read_text()
    top, lock = pins((ROOT / "requirements.txt").read_text()), pins(lock_text)
    assert top, "requirements.txt pins nothing?"
    differ = {
        name: (wanted, lock.get(name)) for name, wanted in top.items() if lock.get(name, "").split("+")[0] != wanted
    }  # torch 2.13.0 is 2.13.0+cpu here
    assert not differ, (
        f"requirements.lock does not pin requirements.txt's versions {differ}: regenerate it "
        "with the pip-compile command at its top"
    )
    entries = lock_text.split("\n    # via")
    assert len(lock) > 2 * len(top) and all("--hash=sha256:" in entry for entry in entries[:-1]), (
        "every locked package needs its hashes (pip-compile --generate-hashes)"
    )

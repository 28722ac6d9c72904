"""The test suite's own switches: which tests `make test-fast` leaves out, and what a missing system tool does."""

import ast

import pytest

from tests.conftest import ROOT, SLOW_MODULES, SLOW_TESTS
from tests.system_tools import require


def test_every_slow_name_is_a_test_module_or_function_that_exists():
    modules = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    missing = {
        name for name in SLOW_MODULES if name not in modules and not any(m.startswith(name + "_") for m in modules)
    }
    assert not missing, f"SLOW_MODULES names modules that do not exist (renamed?): {sorted(missing)}"
    functions = {
        node.name
        for p in (ROOT / "tests").glob("test_*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    gone = sorted(SLOW_TESTS - functions)
    assert not gone, f"SLOW_TESTS names tests that do not exist (renamed?): {gone}"


def test_the_fast_suite_keeps_one_chapters_grading_round_trip(pytestconfig):
    assert "test_grading_01_rnn_limits" not in SLOW_MODULES
    assert "test_authoring" not in SLOW_MODULES and "test_translations" not in SLOW_MODULES


def test_a_missing_tool_skips_on_a_contributors_machine_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="bubblewrap is not installed"):
        require(None, "bubblewrap is not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require(None, "bubblewrap is not installed")
    require("/usr/bin/bwrap", "found: nothing happens")

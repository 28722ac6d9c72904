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


def test_the_site_group_names_files_and_tests_that_exist_and_the_rest_go_by_module():
    from tests.conftest import SITE_FILES, SITE_TESTS, worker_group

    for path in SITE_FILES:
        assert (ROOT / path).is_file(), f"SITE_FILES names {path}, which does not exist (renamed?)"
        assert worker_group(f"{path}::test_x") == "site"
    for nodeid in SITE_TESTS:
        path, _, rest = nodeid.partition("::")
        assert f"def {rest.split('[')[0]}(" in (ROOT / path).read_text(), f"SITE_TESTS: {nodeid} not found"
        assert worker_group(nodeid) == "site"
    assert worker_group("tests/test_batch.py::test_shards_split_the_class") == "tests/test_batch.py"
    docs = "tests/test_docs_commands.py::test_the_docs_command_works_as_written[make chapters]"
    assert worker_group(docs) == "tests/test_docs_commands.py"


def test_a_test_that_reads_the_site_outside_its_group_stops_the_run(tmp_path):
    """Two workers building the website at once in one clone would break both builds: collection refuses."""
    import subprocess
    import sys

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "tests" / "test_elsewhere.py").write_text("def test_reads_it(site):\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "not in tests/conftest.py's site group" in done.stdout + done.stderr, done.stdout
    assert "tests/test_elsewhere.py::test_reads_it" in done.stdout + done.stderr

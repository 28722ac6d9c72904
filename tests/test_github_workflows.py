"""The GitHub Actions workflows (.github/workflows/): each is one GitHub accepts, checked offline against GitHub's
workflow schema (SchemaStore's, which check-jsonschema ships), every job has a time limit, the test workflow runs
what the course's CI runs (.ci/run: `make test` with CI=true), and a workflow that installs the lock can reach its
torch build. GitHub itself is not reachable from here: this is what can be checked without it."""

import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TEST_WORKFLOW = ROOT / ".github" / "workflows" / "test.yml"


def schema_errors(schema: str, *files) -> str:
    """What check-jsonschema reports for ``files`` against its built-in ``schema``; '' when they pass."""
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
    )
    return "" if done.returncode == 0 else (done.stdout + done.stderr).strip()


def steps(workflow) -> list[dict]:
    return [step for job in yaml.safe_load(workflow.read_text())["jobs"].values() for step in job.get("steps", [])]


def test_there_are_workflows_to_check():
    assert {w.name for w in WORKFLOWS} >= {"test.yml", "pages.yml"}, WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_the_workflow_is_one_github_accepts(workflow):
    errors = schema_errors("vendor.github-workflows", workflow)
    assert not errors, f"{workflow.name} is not a valid GitHub workflow:\n{errors}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_every_job_has_a_time_limit(workflow):
    errors = schema_errors("custom.github-workflows-require-timeout", workflow)
    assert not errors, f"{workflow.name}: give every job a timeout-minutes (GitHub's default is 6 hours):\n{errors}"


def test_the_checks_can_fail(tmp_path):
    """The test workflow with `runs-on` misspelt fails the schema, and without its time limit fails the other."""
    text = TEST_WORKFLOW.read_text()
    misspelt = tmp_path / "misspelt.yml"
    misspelt.write_text(text.replace("runs-on:", "run-on:", 1))
    assert "run-on" in schema_errors("vendor.github-workflows", misspelt)
    no_limit = tmp_path / "no_limit.yml"
    no_limit.write_text(re.sub(r"^\s*timeout-minutes:.*\n", "", text, flags=re.M))
    assert schema_errors("custom.github-workflows-require-timeout", no_limit)


def test_the_test_workflow_runs_what_the_course_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M) and re.search(r"^export CI=true\b", ci, re.M), ci
    runs = [step for step in steps(TEST_WORKFLOW) if step.get("run") == "make test"]
    assert runs, "test.yml has no step that runs `make test`, the command .ci/run runs"
    assert str(runs[0].get("env", {}).get("CI")).lower() == "true", (
        "test.yml runs `make test` without CI=true: a missing sandbox or browser would skip its tests, not fail them"
    )
    on = yaml.safe_load(TEST_WORKFLOW.read_text())[True]  # YAML 1.1 reads `on:` as True
    assert "pull_request" in on, "the tests must run on every pull request"


def test_every_workflow_that_installs_can_reach_the_locked_torch_build():
    """A local version (torch 2.13.0+cpu) is on PyTorch's index, not PyPI: a GitHub workflow running `make`
    (which installs requirements.lock) must add that index, or pip finds no torch to install."""
    local = re.search(r"^torch==[^\s]+\+(\w+)", (ROOT / "requirements.lock").read_text(), re.M)
    if local is None:
        pytest.skip("the lock pins a PyPI torch build")
    for workflow in WORKFLOWS:
        for step in steps(workflow):
            if re.search(r"\bmake\b", step.get("run", "")):
                index = str(step.get("env", {}).get("PIP_EXTRA_INDEX_URL", ""))
                assert index.rstrip("/").endswith(f"download.pytorch.org/whl/{local.group(1)}"), (
                    f"{workflow.name}: the step {step.get('name')!r} installs requirements.lock (torch "
                    f"...+{local.group(1)}) without PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/"
                    f"{local.group(1)}"
                )

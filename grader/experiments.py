"""python -m grader experiments: does every result the chapters state hold on another machine?

Each chapter's solution notebook is executed in full (as the website shows it) under each run seed
($TINYFORMER_SEED, read by tinyformer.runtime.seed_everything) and each CPU thread count
($TINYFORMER_THREADS, read by tinyformer.runtime.set_threads). A seed stands in for another CPU's
rounding. The notebook's "Reproduced" cell (tinyformer.runtime.Reproduced) records each claim it
checks; the command prints, for every claim, its value in every run and the smallest margin to the
check's bound, and each run's time. It exits 1 when a claim fails in any run.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .course import ROOT, CourseError, source_notebook

BUDGET_SECONDS = 120  # every chapter's full run on 2 cores (book/setup.md)


@dataclass
class Run:
    chapter: str
    seed: int
    threads: int
    seconds: float
    claims: list[dict] = field(default_factory=list)
    error: str = ""
    slowest: list[tuple[int, float]] = field(default_factory=list)  # (cell index, seconds), slowest first


def cell_seconds(nb) -> list[tuple[int, float]]:
    """(index, seconds) of each executed code cell, from the timings nbclient records, slowest first."""
    from datetime import datetime

    times = []
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            seconds = (
                datetime.fromisoformat(end.replace("Z", "+00:00"))
                - datetime.fromisoformat(start.replace("Z", "+00:00"))
            ).total_seconds()
            times.append((index, seconds))
    return sorted(times, key=lambda pair: -pair[1])


def run_chapter(chapter: str, seed: int, threads: int) -> Run:
    """Execute one chapter's solution notebook in full under one seed and thread count."""
    from .website import execute

    with tempfile.TemporaryDirectory() as scratch:
        claims_file = Path(scratch) / "claims.jsonl"
        saved = {name: os.environ.get(name) for name in ("TINYFORMER_SEED", "TINYFORMER_THREADS", "TINYFORMER_CLAIMS")}
        os.environ.update(
            TINYFORMER_SEED=str(seed), TINYFORMER_THREADS=str(threads), TINYFORMER_CLAIMS=str(claims_file)
        )
        start, error, slowest = time.perf_counter(), "", []
        try:
            slowest = cell_seconds(execute(source_notebook(chapter)))[:3]
        except CourseError as failure:
            error = str(failure).replace(str(ROOT) + "/", "")
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        seconds = time.perf_counter() - start
        claims = [json.loads(line) for line in claims_file.read_text().splitlines()] if claims_file.exists() else []
    return Run(chapter, seed, threads, seconds, claims, error, slowest)


def claims_table(runs: list[Run]) -> str:
    """A Markdown table: chapter, claim, bound, the value in each run, the smallest margin."""
    labels = [f"s{run.seed}/t{run.threads}" for run in runs if run.chapter == runs[0].chapter]
    header = "| chapter | claim | check | " + " | ".join(labels) + " | least margin |"
    lines = [header, "|" + " --- |" * (len(labels) + 4)]
    by_chapter: dict[str, list[Run]] = {}
    for run in runs:
        by_chapter.setdefault(run.chapter, []).append(run)
    for chapter, chapter_runs in by_chapter.items():
        names = list(dict.fromkeys(claim["claim"] for run in chapter_runs for claim in run.claims))
        if not names:
            lines.append(f"| {chapter} | (no claim recorded) | | " + " | ".join("" for _ in chapter_runs) + " | |")
        for name in names:
            found = [next((c for c in run.claims if c["claim"] == name), None) for run in chapter_runs]
            known = [c for c in found if c is not None]
            check = f"{known[0]['direction']} {known[0]['bound']:g}"
            values = [
                "missing" if c is None else f"{c['value']:.3g}" + ("" if c["margin"] >= 0 else " FAIL") for c in found
            ]
            least = min(c["margin"] for c in known) if len(known) == len(found) else float("-inf")
            lines.append(f"| {chapter} | {name} | {check} | " + " | ".join(values) + f" | {least:+.3g} |")
    return "\n".join(lines)


def timing_table(runs: list[Run]) -> str:
    lines = [
        "| chapter | seed | threads | seconds | slowest cells (index: s) | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        over = f" (over the {BUDGET_SECONDS} s budget)" if run.seconds > BUDGET_SECONDS else ""
        slowest = ", ".join(f"{index}: {seconds:.0f}" for index, seconds in run.slowest)
        lines.append(
            f"| {run.chapter} | {run.seed} | {run.threads} | {run.seconds:.0f}{over} | {slowest} | "
            f"{run.error or 'all claims hold'} |"
        )
    return "\n".join(lines)


def failed(runs: list[Run]) -> list[str]:
    """One line per run that did not reproduce its chapter's claims (or recorded none)."""
    out = []
    for run in runs:
        bad = [c["claim"] for c in run.claims if c["margin"] < 0]
        if run.error or bad or not run.claims:
            why = run.error or ("; ".join(bad) if bad else "the notebook recorded no claim")
            out.append(f"{run.chapter} seed {run.seed}, {run.threads} thread(s): {why}")
    return out


def _report(runs: list[Run]) -> str:
    return f"## Claims\n\n{claims_table(runs)}\n\n## Run times (full mode)\n\n{timing_table(runs)}\n"


def run_experiments(
    chapters: list[str], seeds: list[int], threads: list[int], report: Path | None, progress=print
) -> int:
    runs = []
    for chapter in chapters:
        for seed in seeds:
            for count in threads:
                run = run_chapter(chapter, seed, count)
                progress(
                    f"{chapter} seed {seed}, {count} thread(s): {run.seconds:.0f} s, "
                    + (run.error or f"{sum(c['margin'] >= 0 for c in run.claims)}/{len(run.claims)} claims hold")
                )
                runs.append(run)
                if report is not None:  # after every run: a long sweep that is stopped keeps what it measured
                    report.parent.mkdir(parents=True, exist_ok=True)
                    report.write_text(_report(runs))
    print("\n" + _report(runs))
    if report is not None:
        print(f"written to {report}")
    problems = failed(runs)
    for line in problems:
        print(f"not reproduced: {line}")
    return 1 if problems else 0

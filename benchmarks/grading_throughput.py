"""How fast the autograder grades a class: python -m benchmarks.grading_throughput [--students N] [CHAPTER ...]

Builds a class as Canvas exports it (``name_<user id>_<submission id>_file.ipynb``): N learners per chapter,
each handing in the student edition completed with the reference answers, then grades it with the instructor
guide's command, ``python -m grader autograde class --jobs J --out grading``, once with ``--jobs 1`` and once
with ``--jobs 2`` (every run from scratch: a fresh output folder, so nothing comes from the result cache).
Prints, per run, the wall time, its set-up and grading phases, the median and the longest grading time of one
submission (what the command itself prints), and the speed-up of two jobs over one. Run it on an idle machine: the figures are per core.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.course import resolve_chapters  # noqa: E402
from tests.submissions import completed, save  # noqa: E402

MEDIAN = re.compile(r"grading time per submission: median ([0-9.]+) s, max ([0-9.]+) s")
PHASES = re.compile(r"set-up ([0-9.]+) s .*?, grading ([0-9.]+) s")


def build_class(folder: Path, chapters: list[str], students: int) -> int:
    count = 0
    for chapter in chapters:
        for k in range(students):
            user = 1000 + k
            save(completed(chapter), folder / f"learner{k}_{user}_{50000 + count}_{chapter}.ipynb")
            count += 1
    return count


def grade(folder: Path, jobs: int, out: Path) -> dict:
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "grader", "autograde", str(folder), "--jobs", str(jobs), "--out", str(out)],
        cwd=folder.parent,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"the autograde run with --jobs {jobs} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    found, phases = MEDIAN.search(run.stdout), PHASES.search(run.stdout)
    scores = re.findall(r"  ([0-9.]+) / ([0-9.]+)  ", run.stdout)
    full = sum(1 for score, top in scores if float(score) == float(top))
    return {
        "jobs": jobs,
        "wall": wall,
        "median": float(found[1]),
        "max": float(found[2]),
        "setup": float(phases[1]),
        "grading": float(phases[2]),
        "full": full,
        "graded": len(scores),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", nargs="*", default=["01", "03", "05"], help="chapters (default: 01 03 05)")
    parser.add_argument("--students", type=int, default=4, help="learners per chapter (default: 4)")
    args = parser.parse_args(argv)
    chapters = resolve_chapters(args.chapter)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "class"
        count = build_class(folder, chapters, args.students)
        print(f"{count} submissions ({args.students} per chapter of {', '.join(chapters)}), all answers correct")
        runs = [grade(folder, jobs, Path(scratch) / f"grading-jobs{jobs}") for jobs in (1, 2)]
    print(
        f"{'--jobs':>6} | {'wall s':>7} | {'set-up s':>8} | {'grading s':>9} | {'s / submission (wall)':>21} | "
        f"{'median s':>8} | {'max s':>6} | full marks"
    )
    for r in runs:
        print(
            f"{r['jobs']:>6} | {r['wall']:7.1f} | {r['setup']:8.1f} | {r['grading']:9.1f} | {r['wall'] / count:21.1f} | "
            f"{r['median']:8.1f} | {r['max']:6.1f} | {r['full']} / {r['graded']}"
        )
    print(
        f"speed-up of --jobs 2 over --jobs 1: {runs[0]['wall'] / runs[1]['wall']:.2f}x wall time, "
        f"{runs[0]['grading'] / runs[1]['grading']:.2f}x grading (the set-up before it is one process's: reading the "
        "class, registering the chapters, checking the kernel)"
    )
    if any(r["full"] != count for r in runs):
        print("not every correct submission got full marks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

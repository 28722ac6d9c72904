"""python -m grader: the course's command line.

  python -m grader chapters [CHAPTER ...] [--check]   regenerate (or check) the student editions, and README.md's
                                                      chapters table and _toc.yml's chapters from grader/chapters.toml
  python -m grader lint [CHAPTER ...]                 check the instructor sources
  python -m grader website [CHAPTER ...]              execute the solutions into the website's pages
                                                      and write its configuration, _build/_config.site.yml
  python -m grader check NOTEBOOK                     self-check: the score a notebook would get
  python -m grader autograde SUBMISSIONS              grade a class: gradebook, grades.csv, feedback
  python -m grader export canvas|moodle              the graded class's grades as the LMS's import file
  python -m grader experiments [CHAPTER ...]          rerun the experiments under several seeds and thread
                                                      counts: every claim's value and margin, run times
  python -m grader translations [--update] [chapter]  check (or update) the Chinese edition's catalogues
  python -m grader reference [CHAPTER ...] [--check]  regenerate (or check) tinyformer's generated regions from
                                                      the solution notebooks, where each reference piece is written

The course is the clone the working directory is in (or, failing that, the clone this package was imported from).
Installed without a clone (`pip install git+...`, as on Colab), only `check` (with a notebook's visible tests: the
package holds the student editions, not the hidden tests) and `export` work; the other commands say they need a clone.
"""

from __future__ import annotations

import argparse
import sys

from .course import CHECKOUT, CourseError, require_checkout, resolve_chapters

# what these commands read is only in a clone: the solutions, their hidden tests, the book, the catalogues
NEEDS_CLONE = ("chapters", "lint", "website", "autograde", "experiments", "translations", "reference")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser(
        "chapters",
        help="regenerate the student editions in chapters/ from solutions/, and "
        "README.md's chapters table and _toc.yml's chapter pages from grader/chapters.toml",
    )
    p.add_argument("chapter", nargs="*", help="chapters, e.g. 01-rnn-limits or 1 (default: all)")
    p.add_argument(
        "--check",
        action="store_true",
        help="only report chapters whose student edition is out of date "
        "(and README.md's table or _toc.yml if they differ from grader/chapters.toml)",
    )

    p = commands.add_parser("lint", help="check the instructor sources in solutions/")
    p.add_argument("chapter", nargs="*")

    p = commands.add_parser("website", help="execute the solutions into the website's chapter pages")
    p.add_argument("chapter", nargs="*")
    p.add_argument(
        "--instructor", action="store_true", help="pages with solutions and hidden tests (make book-instructor)"
    )

    p = commands.add_parser("check", help="run a notebook as the autograder would and print its score")
    p.add_argument("notebook", help="your notebook, e.g. chapters/01-rnn-limits/01-rnn-limits.ipynb")
    p.add_argument("--chapter", help="the chapter it belongs to, e.g. 01-rnn-limits or 1 (default: from the file name)")

    p = commands.add_parser("autograde", help="grade a folder or zip of submissions (instructors)")
    p.add_argument("submissions", help="nbgrader submitted/ folder, or a folder or .zip exported by an LMS")
    p.add_argument("--out", default="grading", help="where grades.csv, feedback/ and results/ go (default: grading/)")
    p.add_argument("--db-url", help="gradebook as an SQLAlchemy URL (default: sqlite in OUT), e.g. postgresql://...")
    p.add_argument("--chapter", action="append", help="grade only this chapter, e.g. 03-attention or 3 (repeatable)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once, each in its own process")
    p.add_argument(
        "--shard", help="i/N: grade only every N-th submission from the i-th (several machines, one gradebook)"
    )
    p.add_argument("--timeout", type=int, default=300, help="seconds per submission (default 300)")
    p.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (default 60)")
    p.add_argument("--memory-gb", type=float, default=6, help="address space of a submission's kernel (default 6)")
    p.add_argument("--regrade", action="store_true", help="grade again what OUT/results/ already holds")
    p.add_argument(
        "--unsafe-no-sandbox", action="store_true", help="run student code without bubblewrap (trusted code only)"
    )

    p = commands.add_parser("export", help="write the gradebook's grades as a Canvas or Moodle grade-import file")
    p.add_argument("lms", choices=["canvas", "moodle"], help="the LMS the submissions came from")
    p.add_argument("--out", default="grading", help="the graded class: autograde's --out (default: grading/)")
    p.add_argument("--db-url", help="the gradebook, if not OUT/gradebook.db (autograde's --db-url)")

    p = commands.add_parser(
        "experiments", help="rerun each chapter's experiments under several seeds and thread counts"
    )
    p.add_argument("chapter", nargs="*", help="chapters, e.g. 06-encoder or 6 (default: all)")
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="run seeds, $TINYFORMER_SEED (default: 0 1 2)"
    )
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts (default: 1 2)")
    p.add_argument(
        "--report", default="_build/experiments.md", help="where the tables go (default: _build/experiments.md)"
    )

    p = commands.add_parser(
        "translations", help="check that the Chinese edition translates the English text as it is now"
    )
    p.add_argument(
        "chapter",
        nargs="*",
        help="only these chapters' catalogues, e.g. 03-attention or 3 (default: every "
        "catalogue: chapters, pages, the site, README and the messages)",
    )
    p.add_argument(
        "--update",
        action="store_true",
        help="bring locale/ up to date with the English text (new entries "
        "empty, changed ones fuzzy with the old English) and write README.zh.md",
    )

    p = commands.add_parser(
        "reference",
        help="regenerate tinyformer's copies of the reference pieces (its generated "
        "regions) from the solution notebooks, where each piece is written",
    )
    p.add_argument("chapter", nargs="*", help="only these chapters' pieces, e.g. 03-attention or 3 (default: all)")
    p.add_argument(
        "--check",
        action="store_true",
        help="only report the regions that differ from their notebook "
        "(one line each) and the pieces written by hand in tinyformer too",
    )

    args = parser.parse_args(argv)
    try:
        if args.command in NEEDS_CLONE:
            require_checkout(f"`python -m grader {args.command}`")
        return COMMANDS[args.command](args)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in ("grader", "tinyformer"):
            raise
        print(
            f"error: `python -m grader {args.command}` needs the module {error.name}, which this Python "
            f"({sys.executable}) does not have: install the grader's packages, {_install_command()}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _chapters(args) -> int:
    from . import manifest
    from .authoring import generate_student_editions, out_of_sync

    chapters = resolve_chapters(args.chapter)
    if args.check:
        listed = manifest.stale()  # README.md's chapters table and _toc.yml's chapter pages, from grader/chapters.toml
        for problem in listed:
            print(problem, file=sys.stderr)
        stale = out_of_sync(chapters)
        if stale:
            print(f"out of date: {', '.join(stale)}; run `make chapters` and commit chapters/", file=sys.stderr)
        if stale or listed:
            return 1
        print(
            f"student editions up to date: {', '.join(chapters)}; README.md's chapters table and _toc.yml follow "
            "grader/chapters.toml"
        )
        return 0
    for path in manifest.write():
        print(f"wrote {path.name} from grader/chapters.toml")
    for path, changed in generate_student_editions(chapters):
        where = f"{path.relative_to(path.parents[1])}/"
        print(f"{where}: {changed} file{'s' * (changed != 1)} written" if changed else f"{where}: up to date")
    return 0


def _lint(args) -> int:
    from .authoring import check_sources

    chapters = resolve_chapters(args.chapter)
    check_sources(chapters)
    print(f"sources fine: {', '.join(chapters)}")
    return 0


def _website(args) -> int:
    from .website import ROOT, build_pages, site_config

    for chapter, seconds in build_pages(resolve_chapters(args.chapter), args.instructor).items():
        how = "from cache" if seconds is None else f"executed in {seconds:.1f} s"
        print(f"book/chapters/{chapter}.ipynb ({how})")
    config, note = site_config()
    print(f"{config.relative_to(ROOT)} (the site's configuration: _config.yml and the repository's URLs)")
    if note:
        print(note)
    return 0


def _install_command() -> str:
    """The command that installs the course with its [grader] extra, from where this copy was installed."""
    import json
    from importlib.metadata import PackageNotFoundError, distribution

    if CHECKOUT is not None:
        return f"`make install` in {CHECKOUT}"
    try:
        origin = json.loads(distribution("tinyformer").read_text("direct_url.json") or "{}")  # PEP 610, by pip
    except (PackageNotFoundError, ValueError):
        origin = {}
    if "vcs_info" in origin and origin.get("url"):  # pip install git+URL[@REV], as on Colab
        revision = origin["vcs_info"].get("requested_revision")
        return f'`pip install "tinyformer[grader] @ git+{origin["url"]}{f"@{revision}" if revision else ""}"`'
    return '`pip install "tinyformer[grader] @ git+URL"` with the address of the course\'s repository'


def _check(args) -> int:
    from .autograde import self_check

    status = self_check(args.notebook, resolve_chapters([args.chapter], graded=True)[0] if args.chapter else None)
    if CHECKOUT is None:
        from pathlib import Path

        import nbformat

        from tinyformer.i18n import gettext, language_of_path

        from .autograde import notebook_language

        try:  # the note comes in the notebook's language, as the self-check's own report does
            language = notebook_language(nbformat.read(args.notebook, as_version=4), Path(args.notebook))
        except Exception:  # noqa: BLE001 (a notebook the self-check could not read: it said why)
            language = language_of_path(args.notebook)
        print(
            gettext(
                "Outside a clone of the course, this self-check ran the notebook's visible tests only (the installed "
                "package holds the student editions); the autograder adds hidden tests, so its score can be lower. "
                "In a clone of the course, `python -m grader check` runs them too.",
                language,
            )
        )
    return status


def _autograde(args) -> int:
    from pathlib import Path

    from .batch import run_batch
    from .sandbox import Limits

    if args.jobs < 1 or args.timeout < 1 or args.cell_timeout < 1:
        raise CourseError("--jobs, --timeout and --cell-timeout must be at least 1")
    if args.memory_gb < 1:
        raise CourseError(
            f"--memory-gb {args.memory_gb:g} is too little: a kernel needs about 1 GB to import torch "
            "(the default, 6, fits every chapter)"
        )
    limits = Limits(
        cell_seconds=args.cell_timeout, notebook_seconds=args.timeout, memory_bytes=int(args.memory_gb * 2**30)
    )
    chapters = resolve_chapters(args.chapter, graded=True) if args.chapter else None
    run_batch(
        Path(args.submissions),
        Path(args.out),
        args.db_url,
        args.jobs,
        args.shard,
        not args.unsafe_no_sandbox,
        limits,
        chapters,
        args.regrade,
    )
    return 0


def _export(args) -> int:
    from pathlib import Path

    from .export import export_grades

    for path in export_grades(Path(args.out), args.lms, args.db_url):
        print(f"wrote {path}")
    return 0


def _experiments(args) -> int:
    from pathlib import Path

    from .experiments import run_experiments

    if min(args.threads) < 1:
        raise CourseError("--threads must be at least 1")
    return run_experiments(resolve_chapters(args.chapter), args.seeds, args.threads, Path(args.report).resolve())


def _translations(args) -> int:
    from .translation import check_all, update_all

    only = resolve_chapters(args.chapter) if args.chapter else None
    if args.update:
        for line in update_all(only):
            print(line)
    found = check_all(only)
    if found:
        print(f"the Chinese edition is not in sync with the English text ({len(found)} problems):", file=sys.stderr)
        for problem in found:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("the Chinese edition translates all of the English text as it is now")
    return 0


def _reference(args) -> int:
    from .reference_code import COMMAND, run

    chapters = resolve_chapters(args.chapter) if args.chapter else None
    report = run(chapters, write=not args.check)
    for path in report.written:
        print(f"wrote {path.relative_to(path.parents[1])}")
    if report.problems:
        print(
            f"tinyformer's reference code is not generated from the solution notebooks as it should be "
            f"({len(report.problems)} problems):",
            file=sys.stderr,
        )
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        if args.check and report.stale:
            print(
                f"`{COMMAND}` regenerates what is out of date ({len(report.stale)} regions) from the notebooks: a "
                "piece is edited in its notebook, never in tinyformer/",
                file=sys.stderr,
            )
        return 1
    chapters_done = sorted({region.chapter for region in report.regions})
    print(
        f"tinyformer's {len(report.regions)} generated regions are their solution notebooks' definitions "
        f"({', '.join(chapters_done) or 'no chapter has one'})"
    )
    return 0


COMMANDS = {
    "chapters": _chapters,
    "lint": _lint,
    "website": _website,
    "check": _check,
    "autograde": _autograde,
    "experiments": _experiments,
    "export": _export,
    "translations": _translations,
    "reference": _reference,
}

if __name__ == "__main__":
    sys.exit(main())

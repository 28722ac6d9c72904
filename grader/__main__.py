"""python -m grader: the course's command line.

  python -m grader chapters [CHAPTER ...] [--check]   regenerate (or check) the student editions
  python -m grader lint [CHAPTER ...]                 check the instructor sources
  python -m grader website [CHAPTER ...]              execute the solutions into the website's pages
  python -m grader check NOTEBOOK                     self-check: the score a notebook would get
"""

from __future__ import annotations

import argparse
import sys

from .course import CourseError, resolve_chapters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("chapters", help="regenerate the student editions in chapters/ from solutions/")
    p.add_argument("chapter", nargs="*", help="chapter folders, e.g. 01-rnn-limits (default: all)")
    p.add_argument("--check", action="store_true", help="only report chapters whose student edition is out of date")

    p = commands.add_parser("lint", help="check the instructor sources in solutions/")
    p.add_argument("chapter", nargs="*")

    p = commands.add_parser("website", help="execute the solutions into the website's chapter pages")
    p.add_argument("chapter", nargs="*")

    p = commands.add_parser("check", help="run a notebook as the autograder would and print its score")
    p.add_argument("notebook", help="your notebook, e.g. chapters/01-rnn-limits/01-rnn-limits.ipynb")
    p.add_argument("--chapter", help="the chapter it belongs to (default: from the file name)")

    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _chapters(args) -> int:
    from .authoring import generate_student_editions, out_of_sync

    chapters = resolve_chapters(args.chapter)
    if args.check:
        stale = out_of_sync(chapters)
        if stale:
            print(f"out of date: {', '.join(stale)}; run `make chapters` and commit chapters/", file=sys.stderr)
            return 1
        print(f"student editions up to date: {', '.join(chapters)}")
        return 0
    for path in generate_student_editions(chapters):
        print(f"wrote {path.relative_to(path.parents[1])}/")
    return 0


def _lint(args) -> int:
    from .authoring import check_sources

    chapters = resolve_chapters(args.chapter)
    check_sources(chapters)
    print(f"sources fine: {', '.join(chapters)}")
    return 0


def _website(args) -> int:
    from .website import build_pages

    for chapter, seconds in build_pages(resolve_chapters(args.chapter)).items():
        how = "from cache" if seconds is None else f"executed in {seconds:.1f} s"
        print(f"book/chapters/{chapter}.ipynb ({how})")
    return 0


def _check(args) -> int:
    from .autograde import self_check

    return self_check(args.notebook, args.chapter)


COMMANDS = {"chapters": _chapters, "lint": _lint, "website": _website, "check": _check}

if __name__ == "__main__":
    sys.exit(main())

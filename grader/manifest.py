"""What is written from grader/chapters.toml, the chapter list: README.md's chapters table (between its two marker
comments) and the chapter pages of _toc.yml's "Chapters" part (its comments and other parts kept). `python -m
grader chapters` writes both; `python -m grader chapters --check` and tests/test_manifest.py fail while either
differs from the manifest."""

from __future__ import annotations

import re
from pathlib import Path

from .course import ROOT, Chapter, CourseError, chapter_manifest

TABLE_START = "<!-- chapters table: generated from grader/chapters.toml by python -m grader chapters; do not edit -->"
TABLE_END = "<!-- end of chapters table -->"
TABLE_HEADER = "| | chapter | `tinyformer` module | what the learner writes |\n| --- | --- | --- | --- |\n"
TOC_CAPTION = "Chapters"  # the part of _toc.yml whose pages are the chapters, in order


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_table(chapters: list[Chapter]) -> str:
    """README.md's chapters table: number, title ("(not graded)" when not), modules, what the learner writes."""
    rows = []
    for chapter in chapters:
        title = chapter.title if chapter.graded else f"{chapter.title} (not graded)"
        modules = ", ".join(f"`{module}`" for module in chapter.modules)
        rows.append(f"| {chapter.number} | {_cell(title)} | {modules} | {_cell(chapter.writes)} |\n")
    return TABLE_HEADER + "".join(rows)


def with_readme_table(text: str, chapters: list[Chapter]) -> str:
    """README.md's text with the chapters table between the markers written from ``chapters``."""
    starts, ends = text.count(TABLE_START), text.count(TABLE_END)
    if starts != 1 or ends != 1 or text.index(TABLE_START) > text.index(TABLE_END):
        raise CourseError(
            f"README.md needs the chapters table's two marker lines, once each and in this order, where "
            f"the table goes:\n  {TABLE_START}\n  {TABLE_END}"
        )
    before, rest = text.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    return f"{before}{TABLE_START}\n\n{readme_table(chapters)}\n{TABLE_END}{after}"


def toc_files(chapters: list[Chapter]) -> list[str]:
    """The pages of _toc.yml's "Chapters" part: book/chapters/NN-slug, in order."""
    return [f"book/chapters/{chapter.slug}" for chapter in chapters]


def with_toc_chapters(text: str, chapters: list[Chapter]) -> str:
    """_toc.yml's text with the "Chapters" part's pages written from ``chapters``; every other line is kept."""
    lines = text.splitlines(keepends=True)
    captions = [i for i, line in enumerate(lines) if line.lstrip().startswith("- caption:")]
    ours = [i for i in captions if re.fullmatch(rf"\s*- caption: {TOC_CAPTION}\s*", lines[i])]
    listed = None  # the line `chapters:` of that part
    if len(ours) == 1:
        part_end = next((i for i in captions if i > ours[0]), len(lines))
        listed = next((i for i in range(ours[0] + 1, part_end) if re.fullmatch(r"\s*chapters:\s*", lines[i])), None)
    if listed is None:
        raise CourseError(f"_toc.yml needs one part `- caption: {TOC_CAPTION}` with a `chapters:` list: the pages")
    end = listed + 1
    while end < len(lines) and re.fullmatch(r"\s*- file: book/chapters/\S+\s*", lines[end]):
        end += 1
    indent = " " * (len(lines[listed]) - len(lines[listed].lstrip()) + 2)
    pages = [f"{indent}- file: {file}\n" for file in toc_files(chapters)]
    return "".join(lines[: listed + 1] + pages + lines[end:])


def _generated(root: Path, chapters: list[Chapter]) -> dict[Path, str]:
    """README.md and _toc.yml as the manifest makes them."""
    readme, toc = root / "README.md", root / "_toc.yml"
    return {readme: with_readme_table(readme.read_text(), chapters), toc: with_toc_chapters(toc.read_text(), chapters)}


def stale(root: Path = ROOT, manifest: Path | None = None) -> list[str]:
    """What differs from the manifest: one line per file, saying what to run."""
    found = []
    for path, text in _generated(root, chapter_manifest(manifest)).items():
        if path.read_text() != text:
            what = "chapters table" if path.name == "README.md" else f'"{TOC_CAPTION}" part'
            found.append(f"{path.name}'s {what} differs from grader/chapters.toml: run `python -m grader chapters`")
    return found


def write(root: Path = ROOT, manifest: Path | None = None) -> list[Path]:
    """Write README.md's chapters table and _toc.yml's chapter pages from the manifest; the files changed."""
    changed = []
    for path, text in _generated(root, chapter_manifest(manifest)).items():
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed

"""Each reference piece is written once, in its chapter's solution notebook; tinyformer's copy is generated from it.

A function or class that a solution notebook defines and that tinyformer also needs is, in its tinyformer module,
a generated region: the notebook's definition, verbatim but for the nbgrader marker lines (``### BEGIN SOLUTION``,
``### END SOLUTION``), between two comment lines:

    # generated from solutions/03-attention/03-attention.ipynb (scaled_dot_product_attention): edit it there, then python -m grader reference
    # fmt: off
    def scaled_dot_product_attention(q, k, v, mask=None):
        ...
    # fmt: on


    # end of generated scaled_dot_product_attention

(ruff format leaves the definition as the notebook has it; two blank lines before the closing line, as ruff format
puts them). Everything outside the regions is written by
hand: the imports, the helpers no notebook defines, the modules no chapter teaches (train.py, data.py, ...).

`python -m grader reference [CHAPTER ...]` rewrites every region (of those chapters) from its notebook;
`--check` only reports, one line per stale region, and fails. Either fails too, saying what to do, when a region is
broken (an opening line without its closing one, a piece its notebook does not define) or when a tinyformer module
defines by hand a piece that a chapter's notebook defines (grader/chapters.toml's ``pieces.names`` or any other
top-level definition of its code cells): nothing is written twice by hand. tests/test_reference_sync.py runs the
check.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .authoring import marked_lines
from .course import ROOT, CourseError, chapter_manifest, source_notebook

COMMAND = "python -m grader reference"
OPENING = re.compile(
    r"# generated from (?P<notebook>\S+\.ipynb) \((?P<piece>[A-Za-z_]\w*)\): edit it there, "
    rf"then {re.escape(COMMAND)}"
)
CLOSING = re.compile(r"# end of generated (?P<piece>[A-Za-z_]\w*)")


def opening(notebook: str, piece: str) -> str:
    """The comment line that opens a region: where the piece comes from, and what to run after editing it there."""
    return f"# generated from {notebook} ({piece}): edit it there, then {COMMAND}"


def closing(piece: str) -> str:
    return f"# end of generated {piece}"


def region_text(notebook: str, piece: str, definition: str) -> str:
    """A whole region, as written: its two comment lines around the definition (lines joined by newlines, no final
    newline). ``# fmt: off`` / ``# fmt: on`` keep ruff format out of it (the text is the notebook's, laid out for the
    notebook); two blank lines before the closing line, where ruff format puts them."""
    return f"{opening(notebook, piece)}\n# fmt: off\n{definition}\n# fmt: on\n\n\n{closing(piece)}"


@dataclass(frozen=True)
class Region:
    """One generated region of a tinyformer module."""

    module: Path  # tinyformer/attention.py
    piece: str  # scaled_dot_product_attention
    notebook: str  # solutions/03-attention/03-attention.ipynb, as its opening line writes it
    start: int  # the opening line's index in the module's lines (0-based)
    end: int  # the closing line's index

    @property
    def chapter(self) -> str:
        """The chapter the region comes from: the notebook's folder."""
        return Path(self.notebook).parent.name


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def find_regions(module: Path, root: Path = ROOT) -> tuple[list[Region], list[str]]:
    """The regions of one module, and what is wrong with its comment lines (one line each)."""
    lines = module.read_text().splitlines()
    where = _rel(module, root)
    regions, problems, open_at = [], [], None
    for i, line in enumerate(lines):
        if line.startswith("# generated from ") or line.startswith("# end of generated"):
            start, end = OPENING.fullmatch(line), CLOSING.fullmatch(line)
            if start is None and end is None:
                problems.append(
                    f"{where}:{i + 1}: `{line}` is not a region's line; they read "
                    f"`{opening('solutions/NN-slug/NN-slug.ipynb', 'piece')}` and `{closing('piece')}`"
                )
            elif start is not None:
                if open_at is not None:
                    problems.append(
                        f"{where}:{open_at[0] + 1}: the region of {open_at[1]['piece']} has no closing line "
                        f"`{closing(open_at[1]['piece'])}` before the next region opens (line {i + 1})"
                    )
                open_at = (i, start)
            elif open_at is None or open_at[1]["piece"] != end["piece"]:
                problems.append(
                    f"{where}:{i + 1}: `{line}` closes no region of {end['piece']}"
                    + (
                        f" (the open region, line {open_at[0] + 1}, is {open_at[1]['piece']}'s)"
                        if open_at is not None
                        else ""
                    )
                )
                open_at = None
            else:
                regions.append(Region(module, end["piece"], open_at[1]["notebook"], open_at[0], i))
                open_at = None
    if open_at is not None:
        problems.append(
            f"{where}:{open_at[0] + 1}: the region of {open_at[1]['piece']} has no closing line "
            f"`{closing(open_at[1]['piece'])}`"
        )
    return regions, problems


def _cells(notebook: Path) -> list[dict]:
    try:
        return json.loads(notebook.read_text())["cells"]
    except FileNotFoundError:
        raise CourseError(f"{notebook} is missing") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CourseError(f"{notebook} is not a notebook ({error})") from None


def notebook_definitions(notebook: Path) -> dict[str, list[tuple[bool, str]]]:
    """name -> [(in a solution cell, source)] of every top-level function and class of the notebook's code cells,
    each from its first decorator to its last line, the nbgrader marker lines removed (no final newline)."""
    found: dict[str, list[tuple[bool, str]]] = {}
    for cell in _cells(notebook):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines = [line for _, line in marked_lines(source, ("solution",))]  # the marker lines dropped
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:  # an IPython magic: such a cell defines no piece
            continue
        solution = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                found.setdefault(node.name, []).append((solution, "\n".join(lines[first - 1 : node.end_lineno])))
    return found


def definition(definitions: dict[str, list[tuple[bool, str]]], piece: str, notebook: str) -> str:
    """The one definition of ``piece`` in a notebook: its solution cell's (else the one code cell's that has it)."""
    candidates = definitions.get(piece, [])
    chosen = [source for solution, source in candidates if solution] or [source for _, source in candidates]
    if len(chosen) != 1:
        raise CourseError(
            f"{notebook} defines {piece} {len(chosen)} times" if chosen else f"{notebook} does not define {piece}"
        )
    return chosen[0]


def _first_difference(want: list[str], have: list[str]) -> tuple[int, str]:
    """Where two regions' lines first differ (0-based, from the opening line), and how, in words."""

    def shown(line: str | None) -> str:
        if line is None:
            return "nothing (the region ends before)"
        text = line.strip()
        return f"`{text[:120]}{'...' if len(text) > 120 else ''}`"

    n = 0
    while n < len(want) and n < len(have) and want[n] == have[n]:
        n += 1
    notebook, module = (want[n] if n < len(want) else None), (have[n] if n < len(have) else None)
    return n, f"the notebook has {shown(notebook)}, the module {shown(module)}"


@dataclass
class Report:
    """What `python -m grader reference` found: the regions, those out of date, and the problems (one line each,
    a stale region's included)."""

    regions: list[Region]
    stale: list[Region]
    problems: list[str]
    written: list[Path]


def modules(root: Path = ROOT) -> list[Path]:
    """tinyformer's modules: every .py file of the package (not its subpackages' data)."""
    return sorted((root / "tinyformer").glob("*.py"))


def run(chapters: list[str] | None = None, write: bool = False, root: Path = ROOT) -> Report:
    """Check (or, with ``write``, regenerate) the regions of ``chapters`` (all when None) in ``root``'s tinyformer,
    from the notebooks in ``root``'s solutions/ (grader/chapters.toml says which chapter has which modules)."""
    known = {chapter.slug: chapter for chapter in chapter_manifest()}
    wanted = list(known) if chapters is None else chapters
    solutions = root / "solutions"
    definitions = {slug: notebook_definitions(source_notebook(slug, solutions)) for slug in wanted}
    # what each chapter's notebook defines: the manifest's pieces and every top-level definition of its code cells
    pieces = {slug: {*known[slug].pieces, *definitions[slug]} for slug in wanted}

    regions, stale, problems, written = [], [], [], []
    for module in modules(root):
        where = _rel(module, root)
        found, broken = find_regions(module, root)
        problems += broken
        lines = module.read_text().splitlines()
        replaced = {}
        for region in found:
            if region.chapter not in known or region.notebook != f"solutions/{region.chapter}/{region.chapter}.ipynb":
                if chapters is None:  # (a run for some chapters leaves it to the full run, which says it)
                    problems.append(
                        f"{where}:{region.start + 1}: the region of {region.piece} names {region.notebook}, "
                        "which is not a chapter's solution notebook (solutions/NN-slug/NN-slug.ipynb)"
                    )
                continue
            if region.chapter not in wanted:
                continue
            regions.append(region)
            if module.stem not in known[region.chapter].modules:
                problems.append(
                    f"{where}:{region.start + 1}: {region.piece} comes from {region.chapter}, whose modules "
                    f"(grader/chapters.toml) are {', '.join(known[region.chapter].modules)}, not "
                    f"{module.stem}"
                )
            try:
                text = region_text(
                    region.notebook,
                    region.piece,
                    definition(definitions[region.chapter], region.piece, region.notebook),
                )
            except CourseError as error:
                problems.append(f"{where}:{region.start + 1}: the region of {region.piece}: {error}")
                continue
            have, want = lines[region.start : region.end + 1], text.splitlines()
            if have != want:
                stale.append(region)
                replaced[region.start] = (region.end, want)
                if not write:
                    n, how = _first_difference(want, have)
                    problems.append(
                        f"{where}:{region.start + n + 1}: {region.piece} is out of date with "
                        f"{region.notebook}: {how}; run `{COMMAND}`"
                    )
        problems += _hand_written(module, found, pieces, root)
        if write and replaced:
            out, i = [], 0
            while i < len(lines):
                if i in replaced:
                    end, new = replaced[i]
                    out += new
                    i = end + 1
                else:
                    out.append(lines[i])
                    i += 1
            module.write_text("\n".join(out) + "\n")
            written.append(module)
    for region in regions:
        twins = [other for other in regions if other.piece == region.piece and other is not region]
        if twins and region is min([region, *twins], key=lambda r: (str(r.module), r.start)):
            problems.append(
                f"{region.piece} is generated {len(twins) + 1} times: "
                + ", ".join(f"{_rel(r.module, root)}:{r.start + 1}" for r in [region, *twins])
            )
    return Report(regions, stale, problems, written)


def _hand_written(module: Path, found: list[Region], pieces: dict[str, set[str]], root: Path) -> list[str]:
    """A top-level definition outside the module's regions that a chapter's notebook defines too."""
    try:
        tree = ast.parse(module.read_text())
    except SyntaxError as error:
        return [f"{_rel(module, root)}:{error.lineno}: not valid Python ({error.msg})"]
    problems = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1  # 0-based, as Region's
        if any(region.start < first and node.end_lineno - 1 < region.end for region in found):
            continue
        for slug, names in pieces.items():
            if node.name in names:
                notebook = f"solutions/{slug}/{slug}.ipynb"
                problems.append(
                    f"{_rel(module, root)}:{first + 1}: {node.name} is written here by hand, and {notebook} "
                    f"defines it too: put its notebook's definition in a region, between "
                    f"`{opening(notebook, node.name)}` and `{closing(node.name)}`, then run `{COMMAND}`"
                )
    return problems

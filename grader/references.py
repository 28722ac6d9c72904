"""The course's reference pieces, as grading sees them: withheld from the grading kernel, and recognised in answers.

- ``withholding_package(chapter, target)`` writes a copy of `tinyformer` without the pieces of the graded chapter
  and of later chapters (the names their solution cells define); the grading kernel imports that copy in place of
  the package, so ``from tinyformer.rnn import rnn_forward`` in an answer of chapter 01 fails with a message, while
  earlier chapters' pieces, the data, the corpus and `tinyformer.testing` import as always. Removing the code from
  the files the kernel reads keeps this out of the submission's reach (nothing to undo in the kernel).
- ``reference_matches(notebook, source)``: the answer cells whose code is the reference's up to formatting and
  names (syntax trees compared with identifiers renamed in order, docstrings, annotations and string texts left
  out), for a person to look at; such answers keep their points.
"""

from __future__ import annotations

import ast
import builtins
import shutil
from pathlib import Path

import nbformat

from .course import ROOT, chapter_ids, source_notebook

PACKAGE = ROOT / "tinyformer"
MIN_NODES = 35  # a definition smaller than this, normalised (a one-line function), is written alike by chance


def _parse(source: str) -> ast.Module | None:
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _package_definitions() -> dict[str, str]:
    """name -> module file stem, for every top-level function and class of tinyformer."""
    found = {}
    for path in sorted(PACKAGE.glob("*.py")):
        tree = _parse(path.read_text())
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.setdefault(node.name, path.stem)
    return found


def _solution_definitions(source: Path) -> list[tuple[str, ast.AST]]:
    """(grade_id, definition) of every top-level function and class in the solution cells of a source notebook."""
    found = []
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        tree = _parse(cell.source)
        found += [
            (meta.get("grade_id"), node)
            for node in (tree.body if tree else ())
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]
    return found


def chapter_pieces(chapter: str, solutions: Path | None = None) -> set[str]:
    """The reference pieces a chapter's learners write: what its solution cells define that tinyformer defines."""
    source = source_notebook(chapter, solutions) if solutions else source_notebook(chapter)
    return {node.name for _, node in _solution_definitions(source)} & set(_package_definitions())


def withheld_pieces(chapter: str) -> dict[str, str]:
    """name -> the chapter it belongs to, for the pieces of ``chapter`` and of every later chapter."""
    chapters = chapter_ids()
    withheld: dict[str, str] = {}
    for later in chapters[chapters.index(chapter) :]:
        for name in chapter_pieces(later):
            withheld.setdefault(name, later)
    return withheld


def _message(name: str, owner: str, graded: str) -> str:
    whose = "the chapter being graded" if owner == graded else f"a later chapter, {owner}"
    return (
        f"{name} is the course's reference of {whose}: the autograder's kernel cannot import it "
        f"while {graded} is graded; write it yourself in the notebook"
    )


def _free_names(nodes: list[ast.AST]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _evaluated_on_import(node: ast.stmt) -> list[ast.AST]:
    """The parts of a top-level statement that run when the module is imported (not function bodies)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    if isinstance(node, ast.ClassDef):
        body = [s for s in node.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return [
            *node.decorator_list,
            *node.bases,
            *node.keywords,
            *body,
            *(part for method in methods for part in _evaluated_on_import(method)),
        ]
    return [node]


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


def _without(source: str, withheld: dict[str, str], graded: str) -> tuple[str, dict[str, str]]:
    """A module's source without the withheld definitions (and those that cannot be built without them), and
    with a module ``__getattr__`` that says why a removed name is missing. Returns (source, removed name ->
    message)."""
    tree = ast.parse(source)
    removed: dict[str, str] = {}
    body = list(tree.body)
    changed = True
    while changed:  # a definition built on a removed one (a subclass, a default) goes too
        changed = False
        kept = []
        for node in body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinyformer"):
                names = [a for a in node.names if (a.asname or a.name) not in withheld]
                for alias in node.names:
                    if alias not in names:
                        name = alias.asname or alias.name
                        removed.setdefault(name, _message(name, withheld[name], graded))
                if not names:
                    changed = True
                    continue
                node.names = names
                kept.append(node)
                continue
            defined = (
                _defined_names(node)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign))
                else set()
            )
            own = defined & set(withheld)
            needs = _free_names(_evaluated_on_import(node)) & set(removed)
            if own or (needs and defined):
                for name in defined:
                    removed[name] = (
                        _message(name, withheld[name], graded)
                        if name in own
                        else f"{name} is built on {sorted(needs)[0]}, and " + removed[sorted(needs)[0]]
                    )
                changed = True
                continue
            kept.append(node)
        body = kept
    tree.body = body
    return ast.unparse(tree), removed


def withholding_package(chapter: str, target: Path) -> Path:
    """Write ``target`` (a folder named tinyformer): the package, less the pieces of ``chapter`` and later chapters."""
    withheld = withheld_pieces(chapter)
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(PACKAGE.glob("*.py")):
        source, removed = _without(path.read_text(), withheld, chapter)
        if removed:
            source += (
                "\n\n_WITHHELD = " + repr(removed) + "\n\n\ndef __getattr__(name):\n"
                "    if name in _WITHHELD:\n        raise ImportError(_WITHHELD[name])\n"
                "    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')\n"
            )
        (target / path.name).write_text(source)
    if (PACKAGE / "locale").is_dir():  # the learner's messages in Chinese (tinyformer/i18n.py)
        shutil.copytree(PACKAGE / "locale", target / "locale", dirs_exist_ok=True)
    return target


# -- answers equal to the reference -------------------------------------------------------------------------

_KEEP = frozenset(dir(builtins)) | {"self", "cls"}


class _Normalised(ast.NodeTransformer):
    """Rename every identifier (names, arguments, definitions, ``self.`` attributes, import aliases) by order
    of first appearance, drop docstrings and annotations, blank string texts: what is left is the code's shape."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def rename(self, name: str) -> str:
        return name if name in _KEEP else self.names.setdefault(name, f"n{len(self.names)}")

    def _body(self, node):
        if (
            node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(getattr(node.body[0], "value", None), ast.Constant)
            and isinstance(node.body[0].value.value, str)
        ):
            node.body = node.body[1:] or [ast.Pass()]
        return node

    def visit_FunctionDef(self, node):
        node.name, node.returns = self.rename(node.name), None
        return self.generic_visit(self._body(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.name = self.rename(node.name)
        return self.generic_visit(self._body(node))

    def visit_arg(self, node):
        node.arg, node.annotation = self.rename(node.arg), None
        return node

    def visit_Name(self, node):
        node.id = self.rename(node.id)
        return node

    def visit_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            node.attr = self.rename(f"self.{node.attr}")
        return self.generic_visit(node)

    def visit_alias(self, node):
        node.asname = self.rename(node.asname or node.name.split(".")[0])
        return node

    def visit_AnnAssign(self, node):
        if node.value is None:
            return None
        return self.generic_visit(ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno))

    def visit_Constant(self, node):
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node):
        return ast.Constant("")

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None  # a stray string: a comment in disguise
        return self.generic_visit(node)


def normalised_tree(node: ast.AST) -> ast.AST:
    """A copy of a definition with its names and formatting taken out (see _Normalised)."""
    import copy

    return _Normalised().visit(copy.deepcopy(node))


def normalised(node: ast.AST) -> str:
    """The shape of a definition: equal for code that differs only in names and formatting."""
    return ast.dump(normalised_tree(node), annotate_fields=False)


def reference_matches(notebook: Path, source: Path) -> list[str]:
    """The grade_ids of the answer cells of ``notebook`` holding a definition that is one of the reference's
    (from the solution cells of ``source``) up to names and formatting. Never raises on a broken notebook."""
    shapes = [normalised_tree(node) for _, node in _solution_definitions(source)]
    references = {
        ast.dump(tree, annotate_fields=False) for tree in shapes if sum(1 for _ in ast.walk(tree)) >= MIN_NODES
    }
    try:
        cells = nbformat.read(notebook, as_version=4).cells
    except Exception:  # noqa: BLE001 (whatever the file is, there is nothing to compare)
        return []
    matches = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("solution") or not meta.get("grade_id"):
            continue
        tree = _parse(cell.get("source", ""))
        definitions = [
            n
            for n in (tree.body if tree else ())
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]
        try:
            if any(normalised(node) in references for node in definitions):
                matches.append(meta["grade_id"])
        except RecursionError:
            continue
    return matches

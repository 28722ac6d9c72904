"""The learner's own pieces: collect the graded answers of chapters 03-08 and build a GPT (or a BERT) of them.

``learner_pieces("chapters/")`` reads the learner's notebooks of chapters 03-08 in order. For each chapter it
runs, in one namespace, the notebook's first code cell (its imports), the cells that only define things
(helpers such as ``init_weights``), every answer cell and every visible test cell, in the notebook's order:
the same checks, with the same messages, that the learner saw. Before a chapter's answers run, the pieces the
learner wrote in earlier chapters replace the references its imports brought in, so chapter 06's
``EncoderLayer`` is built on the learner's chapter 04 ``MultiHeadAttention``, and the GPT of chapter 08 on all of
them.

A piece that is not answered, does not run, or fails one of its tests falls back to the reference in
``tinyformer`` (rebuilt on the learner's other pieces), with the reason. ``pieces.gpt(config)`` then builds the
learner's ``GPT`` (or the reference's, on the learner's pieces, when theirs fell back) and ``pieces.report()``
says which pieces were whose.

The notebooks run in this process, as they do in Jupyter: this is for a learner's own notebooks, not for
grading other people's (the grader runs those in a sandbox).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import json
import random
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from tinyformer.i18n import _, language_of_path, translate

CHAPTERS = ("03-attention", "04-multi-head", "05-positions", "06-encoder", "07-decoder", "08-bert-vs-gpt")
REFERENCES = {  # where the reference of each chapter's pieces lives
    "03-attention": ("tinyformer.attention",),
    "04-multi-head": ("tinyformer.multihead",),
    "05-positions": ("tinyformer.positions",),
    "06-encoder": ("tinyformer.encoder",),
    "07-decoder": ("tinyformer.decoder",),
    "08-bert-vs-gpt": ("tinyformer.bert", "tinyformer.gpt"),
}
STUB = re.compile(r"# YOUR CODE HERE\s*\n\s*raise NotImplementedError\(\)")  # nbgrader's stub of an answer
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


@dataclass
class Piece:
    """One graded answer: whose it is now (``"yours"`` or ``"reference"``) and, for a fallback, why."""

    chapter: str
    name: str  # the answer cell's grade_id, e.g. "multi_head_attention"
    defines: list[str]  # the names the cell defines, e.g. ["MultiHeadAttention"]
    source: str = "yours"
    reason: str = ""


@dataclass
class LearnerPieces:
    """What ``learner_pieces`` found: every piece with its status, and the objects the model is built from."""

    pieces: list[Piece] = field(default_factory=list)
    objects: dict[str, object] = field(default_factory=dict)  # name -> the learner's object or the fallback
    notebooks: dict[str, Path] = field(default_factory=dict)  # chapter -> the notebook read

    def _build(self, name: str, config):
        return self.objects[name](config)

    def gpt(self, config) -> nn.Module:
        """The GPT of chapter 08 made of these pieces."""
        return self._build("GPT", config)

    def bert(self, config) -> nn.Module:
        """The BERT of chapter 08 made of these pieces."""
        return self._build("BERT", config)

    def yours(self) -> list[Piece]:
        return [piece for piece in self.pieces if piece.source == "yours"]

    def fallbacks(self) -> list[Piece]:
        return [piece for piece in self.pieces if piece.source != "yours"]

    def report(self) -> str:
        """One line per piece: yours, or the reference and why (in the notebook's language)."""
        lines = []
        for piece in self.pieces:
            names = ", ".join(piece.defines) or piece.name
            if piece.source == "yours":
                lines.append(f"  {_('yours'):<10} {piece.chapter:<15} {names}")
            else:
                lines.append(f"  {_('reference'):<10} {piece.chapter:<15} {names}: {piece.reason}")
        head = _("{yours} of {total} pieces are yours:").format(yours=len(self.yours()), total=len(self.pieces))
        return head + "\n" + "\n".join(lines)

    def __repr__(self) -> str:
        return self.report()


def _cells(path: Path) -> list[dict]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [cell for cell in nb["cells"] if isinstance(cell, dict)]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path} is not a notebook that can be read ({error}): open it in Jupyter and save it again"
        ) from None


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _answers(path: Path) -> int:
    """How many answer cells of a notebook are filled in (their stub is gone)."""
    return sum(
        1
        for cell in _cells(path)
        if _nbgrader(cell).get("solution") and cell.get("cell_type") == "code" and not STUB.search(_source(cell))
    )


def chapter_notebook(folder: Path, chapter: str) -> Path | None:
    """The learner's notebook of a chapter in ``folder`` (``folder/NN-slug/NN-slug.ipynb`` or the Chinese
    ``.zh.ipynb``, or either directly in ``folder``): of two, the one with more answers filled in."""
    candidates = [
        place / f"{chapter}{suffix}" for place in (folder / chapter, folder) for suffix in (".ipynb", ".zh.ipynb")
    ]
    found = [path for path in candidates if path.is_file()]
    if not found:
        return None
    return max(found, key=lambda path: (_answers(path), -found.index(path)))


def _defines_only(source: str) -> bool:
    """A cell that only imports and defines (functions, classes, constants): safe and quick to run again."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.AnnAssign)
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if isinstance(node, ast.Assign) and all(
            isinstance(n, (ast.Constant, ast.UnaryOp))
            for n in ast.walk(node.value)
            if not isinstance(n, (ast.Load, ast.USub))
        ):
            continue  # NAME = 3
        if not isinstance(node, allowed):
            return False
    return bool(tree.body)


def _top_level_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]


def _reason(error: BaseException, language: str) -> str:
    if isinstance(error, NotImplementedError):
        return _("not answered yet")
    text = str(error).strip()
    if isinstance(error, AssertionError):
        return translate(text, language) if text else "a test failed"
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    line = f" (line {where.lineno})" if where is not None and where.filename == "<answer>" else ""
    return f"{type(error).__name__}: {text}{line}"


def _reference_module(name: str, overrides: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    """A fresh copy of a reference module whose globals hold the learner's pieces (its classes and functions,
    rebuilt, call the learner's versions of everything they use), and the names it defines itself."""
    path = Path(importlib.import_module(name).__file__)
    source = path.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": name, "__file__": str(path)}
    exec(compile(source, str(path), "exec"), namespace)
    namespace.update(overrides)
    return namespace, _top_level_names(source)


def learner_pieces(folder: str | Path = "chapters", chapters: tuple[str, ...] = CHAPTERS) -> LearnerPieces:
    """Collect the learner's answers of ``chapters`` from their notebooks in ``folder`` (see the module's doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: give the folder that holds your chapters (e.g. 'chapters')")
    threads, torch_state, python_state = torch.get_num_threads(), torch.get_rng_state(), random.getstate()
    try:  # the chapters' first cells set threads and seeds: the caller's are put back after
        return _collect(folder, chapters)
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(torch_state)
        random.setstate(python_state)


def _collect(folder: Path, chapters: tuple[str, ...]) -> LearnerPieces:
    result = LearnerPieces()
    yours: dict[str, object] = {}  # the learner's pieces that passed their tests, by name
    for chapter in chapters:
        earlier = {
            name: result.objects[name] for piece in result.pieces for name in piece.defines if name in result.objects
        }  # the earlier chapters' pieces: the learner's or fallbacks on them
        references = [_reference_module(module, earlier) for module in REFERENCES[chapter]]

        def fallback(name: str, references=references):
            return next((ns[name] for ns, defined in references if name in defined), None)

        path = result.notebooks[chapter] = chapter_notebook(folder, chapter)
        if path is None:
            reason = _("no notebook {notebook} in {folder} or {place}").format(
                notebook=f"{chapter}.ipynb", folder=folder, place=folder / chapter
            )
            result.pieces.append(Piece(chapter, chapter, [], "reference", reason))
        else:
            namespace = _run_chapter(chapter, path, result, fallback, earlier)
            yours.update(
                {
                    name: namespace[name]
                    for piece in result.pieces
                    if piece.chapter == chapter and piece.source == "yours"
                    for name in piece.defines
                    if name in namespace
                }
            )
        for namespace, defined in references:  # this chapter's references call the learner's pieces too
            namespace.update(yours)
            result.objects.update({name: namespace[name] for name in defined})
        result.objects.update(yours)
    return result


def _run_chapter(chapter: str, path: Path, result: LearnerPieces, fallback, earlier: dict) -> dict[str, object]:
    """Run one notebook's imports, definitions, answers and visible tests; record its pieces in ``result``."""
    namespace: dict[str, object] = {"__name__": f"learner_{chapter.replace('-', '_')}"}
    language = language_of_path(path)
    pieces: list[Piece] = []  # this chapter's, in the notebook's order
    code = [cell for cell in _cells(path) if cell.get("cell_type") == "code"]
    for index, cell in enumerate(code):
        meta, source = _nbgrader(cell), HIDDEN_TESTS.sub("", _source(cell))
        answer, test = meta.get("solution"), meta.get("grade") and not meta.get("solution")
        piece = None
        if answer:
            piece = Piece(chapter, meta.get("grade_id", "?"), _top_level_names(source))
            pieces.append(piece)
            result.pieces.append(piece)
            if STUB.search(source):
                _fall_back(piece, _("not answered yet"), namespace, fallback)
                continue
        elif test:  # a test is the last answer's above it whose names it uses (or the last answer's)
            used = _loaded_names(source)
            piece = next((p for p in reversed(pieces) if used & set(p.defines)), pieces[-1] if pieces else None)
            if piece is None or piece.source != "yours":
                continue  # an answer that already fell back is not tested again: the reference is
        elif index > 0 and not _defines_only(source):
            continue  # an experiment, a figure: not needed to build the model
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(source, "<answer>" if answer else f"<{chapter} cell {index + 1}>", "exec"), namespace)
        except Exception as error:  # any failure of an answer or of its tests makes the answer fall back
            if piece is None:
                raise ValueError(
                    f"{path}: code cell {index + 1} failed ({type(error).__name__}: {error}); "
                    "it only imports and defines things: restore it from the course's copy"
                ) from None
            _fall_back(piece, _reason(error, language), namespace, fallback)
        if index == 0:  # the imports: the earlier chapters' pieces replace their references
            namespace.update(earlier)
    return namespace


def _loaded_names(source: str) -> set[str]:
    try:
        return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    except SyntaxError:
        return set()


def _fall_back(piece: Piece, reason: str, namespace: dict, fallback) -> None:
    piece.source, piece.reason = "reference", reason
    for name in piece.defines:
        reference = fallback(name)
        if reference is not None:
            namespace[name] = reference
        else:
            namespace.pop(name, None)

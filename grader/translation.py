"""The Chinese edition: gettext catalogues of the English text, and the Chinese notebooks and pages built from them.

The English source is the only place code lives. Its prose is translated in gettext PO files (read and
written with polib), the English text as msgid:

    locale/zh_CN/LC_MESSAGES/NN-slug.po      one per chapter: each markdown cell of solutions/NN-slug/NN-slug.ipynb,
                                             keyed by the cell's nbformat id (msgctxt)
    locale/zh_CN/LC_MESSAGES/<page>.po       one per front-matter page of book/ (intro, setup, ...), one entry per
                                             Markdown block (paragraph, list, table, admonition; code blocks stay)
    locale/zh_CN/LC_MESSAGES/site.po         the site's title, the table of contents' captions, the language switch
    locale/zh_CN/LC_MESSAGES/README.po       README.md's sections for learners, written to README.zh.md
    tinyformer/locale/zh_CN/LC_MESSAGES/tinyformer.po
                                             what the course says to a learner: tinyformer.testing's and the grader's
                                             messages (``_("...")``) and the messages of the chapters' test cells

The Chinese notebooks swap markdown only: code cells, nbgrader metadata, grade_ids and cell order are those of
the English notebook, so a Chinese notebook is graded by the same tests. ``python -m grader translations``
checks that every catalogue is complete and current (tests/test_translations.py runs it); ``--update``
brings the catalogues up to date with the English text, as gettext's msgmerge does: a changed cell keeps its
old translation marked fuzzy, with the old English as ``#| msgid``, so the translator sees what changed.
"""

from __future__ import annotations

import ast
import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import ROOT, chapter_ids, source_notebook

LANGUAGE = "zh_CN"
LOCALE = ROOT / "locale" / LANGUAGE / "LC_MESSAGES"
MESSAGES = ROOT / "tinyformer" / "locale" / LANGUAGE / "LC_MESSAGES" / "tinyformer.po"
FRONT_MATTER = ("intro", "setup", "using-the-course", "instructor-guide", "references")
README = ROOT / "README.md"
README_ZH = ROOT / "README.zh.md"
README_SECTIONS = (
    "",
    "Two commands",
    "For learners",
    "Chapters",
)  # "" = the title and the text before the first section
ZH_SUFFIX = ".zh.ipynb"
HEADER = {
    "Project-Id-Version": "tinyformer course",
    "Language": LANGUAGE,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}


# ---------------------------------------------------------------------------------------------- the English text


def translatable(cell) -> bool:
    """A markdown cell whose text is the course's prose: not an nbgrader answer or task cell (those keep
    their exact source, which nbgrader checksums)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "markdown" and not any(meta.get(k) for k in ("solution", "grade", "locked", "task"))


def cell_entries(nb) -> list[tuple[str, str]]:
    """(cell id, English text) of every translatable markdown cell of a notebook."""
    return [(cell["id"], _source(cell)) for cell in nb["cells"] if translatable(cell) and _source(cell).strip()]


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


@functools.cache
def _markdown_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = MdParserConfig(enable_extensions={"dollarmath", "amsmath", "colon_fence", "deflist", "substitution"})
    return create_md_parser(config, RendererHTML)


CODE_BLOCK = re.compile(r"^(```|~~~)\s*(bash|sh|shell|console|python|text|yaml|toml|ini|json|)\s*$")
KEEP_BLOCK = re.compile(r"^\((?:[^()]*)\)=\s*$")  # a MyST target, (label)=


def markdown_blocks(text: str) -> list[tuple[str, bool]]:
    """The text cut into its top-level Markdown blocks, with whether each is prose to translate. Joining
    the blocks gives the text back exactly (the blank lines between blocks are blocks that stay)."""
    lines = text.splitlines(keepends=True)
    spans = []
    for token in _markdown_parser().parse(text):
        if token.level == 0 and token.map and token.nesting in (0, 1):
            spans.append(tuple(token.map))
    blocks, at = [], 0
    for start, end in spans:
        if start < at:  # nested in the previous block
            continue
        if start > at:
            blocks.append(("".join(lines[at:start]), False))
        block = "".join(lines[start:end])
        first = block.splitlines()[0].strip() if block.strip() else ""
        prose = (
            bool(block.strip())
            and not CODE_BLOCK.match(first)
            and not KEEP_BLOCK.match(first)
            and not first.startswith("%")
            and not block.strip().startswith("<!--")
        )
        blocks.append((block, prose))
        at = end
    if at < len(lines):
        blocks.append(("".join(lines[at:]), False))
    return blocks


def block_entries(text: str) -> list[str]:
    """The English text of every prose block (without its final newline), in order, once each."""
    seen = []
    for block, prose in markdown_blocks(text):
        key = block.rstrip("\n")
        if prose and key not in seen:
            seen.append(key)
    return seen


def readme_text(text: str | None = None) -> str:
    """README.md's sections for learners (README_SECTIONS), in order."""
    text = README.read_text() if text is None else text
    sections, title, current = [], "", []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            sections.append((title, current))
            title, current = line[3:].strip(), []
        current.append(line)
    sections.append((title, current))
    return "".join("".join(lines) for name, lines in sections if name in README_SECTIONS)


def site_strings() -> list[str]:
    """The site's own words: its title, the captions of the table of contents, the note on the figures, the
    default text of the pages' substitutions (a site built with the repository's URL replaces them)."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    captions = [part["caption"] for part in toc.get("parts", []) if part.get("caption")]
    substitutions = list(((config.get("parse") or {}).get("myst_substitutions") or {}).values())
    return [config["title"], *captions, *SITE_WORDS, *substitutions]


FIGURES_NOTE = "The figures' titles and axis labels are in English in this edition."  # on the Chinese front page
SITE_WORDS = (FIGURES_NOTE,)  # the language switch is labelled in its target's language: "中文", "English"


# --------------------------------------------------------------------------------------- the learner's messages


@dataclass
class Message:
    text: str  # the msgid: a message, or a pattern with {expression} placeholders (python-brace-format)
    where: list[str] = field(default_factory=list)
    pattern: bool = False


def _fstring_pattern(node: ast.JoinedStr, source: str) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
        else:
            parts.append("{" + (ast.get_source_segment(source, value.value) or ast.unparse(value.value)) + "}")
    return "".join(parts)


def _string(node: ast.AST, source: str) -> tuple[str, bool] | None:
    """A message written in code: a string constant, an f-string as a pattern, or a sum of them
    (``"..." + f"..."``) as one; an expression added to a string (``f"..." + hint(x)``) is a placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, False
    if isinstance(node, ast.JoinedStr):
        return _fstring_pattern(node, source), True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string(node.left, source), _string(node.right, source)
        if left is None and right is None:
            return None
        if left is not None and right is not None and not (left[1] or right[1]):
            return left[0] + right[0], False

        def pattern(part: tuple[str, bool] | None, operand: ast.AST) -> str:
            if part is None:  # an expression added to a message (a hint from a helper): a placeholder
                return "{" + (ast.get_source_segment(source, operand) or ast.unparse(operand)) + "}"
            return part[0] if part[1] else part[0].replace("{", "{{").replace("}", "}}")

        return pattern(left, node.left) + pattern(right, node.right), True
    return None


def _prose(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2,}.*\s", text))


def _sentence(text: str) -> bool:
    """A string a learner may be shown wherever it is written (a hint in a variable, a list or a dict of
    messages): three lower-case words or more, outside code (``fast=False``, ``Class(...)``) and placeholders."""
    words = re.findall(r"(?<![\w.=])[a-z]{2,}(?![\w(=])", re.sub(r"\{[^{}]*\}", " ", text))
    return len(words) >= 3 and not re.fullmatch(r"[\w\s,.>-]*->[\w\s,.]*", text)


def test_cell_messages(source: str) -> list[tuple[str, bool]]:
    """The messages a test cell shows a learner: assert messages, AssertionError/CheckFailure arguments,
    ``passed(...)``, ``call(..., hint=...)`` and ``check_tensor``'s name and hints, and any other sentence it
    holds (hints kept in a variable, a list or a dict)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[tuple[str, bool] | None] = []
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    inside_messages: set[int] = set()  # string nodes that are parts of a larger message
    for node in ast.walk(tree):
        if isinstance(node, (ast.JoinedStr, ast.BinOp)):
            inside_messages |= {id(child) for child in ast.walk(node) if child is not node}
    for node in ast.walk(tree):
        # any sentence the test holds (a hint in a variable, a list or a dict of hints): it may be shown
        if (
            isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp))
            and id(node) not in docstrings
            and id(node) not in inside_messages
        ):
            text = _string(node, source)
            if text is not None and _sentence(text[0]):
                found.append(text)
        if isinstance(node, ast.Assert) and node.msg is not None:
            found.append(_string(node.msg, source))
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func).rsplit(".", 1)[-1]
            if name in ("AssertionError", "CheckFailure", "passed") and node.args:
                found.append(_string(node.args[0], source))
            if name == "check_tensor" and len(node.args) >= 3:
                found.append(_string(node.args[2], source))
            for keyword in node.keywords:
                if keyword.arg == "hint":
                    found.append(_string(keyword.value, source))
                elif keyword.arg == "hints" and isinstance(keyword.value, (ast.List, ast.Tuple)):
                    for pair in keyword.value.elts:
                        if isinstance(pair, ast.Tuple) and len(pair.elts) == 2:
                            found.append(_string(pair.elts[1], source))
    unique = list(dict.fromkeys(item for item in found if item is not None and _prose(item[0])))
    return unique


def code_messages(path: Path) -> list[str]:
    """The messages a module marks for translation: the string of every ``_("...")`` and ``N_("...")`` call."""
    tree = ast.parse(path.read_text())
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("_", "N_", "gettext")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def messages() -> list[Message]:
    """Every message the catalogue tinyformer.po must translate, in a stable order."""
    found: dict[str, Message] = {}

    def add(text: str, where: str, pattern: bool) -> None:
        message = found.setdefault(text, Message(text, pattern=pattern))
        if where not in message.where:
            message.where.append(where)

    for package in ("tinyformer", "grader"):
        for path in sorted((ROOT / package).glob("*.py")):
            for text in code_messages(path):
                add(text, str(path.relative_to(ROOT)), "{" in text)
    for chapter in chapter_ids():
        nb = json.loads(source_notebook(chapter).read_text())
        for cell in nb["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
                for text, pattern in test_cell_messages(_source(cell)):
                    add(text, f"solutions/{chapter}/{chapter}.ipynb:{meta.get('grade_id')}", pattern and "{" in text)
    return list(found.values())


# --------------------------------------------------------------------------------------------------- catalogues


@dataclass
class Expected:
    """One entry a catalogue must hold: its key (msgctxt for notebook cells, None elsewhere) and English text."""

    text: str
    context: str | None = None
    where: list[str] = field(default_factory=list)
    pattern: bool = False


@dataclass
class Source:
    """One catalogue and the English text it translates."""

    name: str  # how messages name it: "chapter 03-attention", "book/setup.md", ...
    path: Path
    expected: list[Expected]
    keyed_by_cell: bool = False


def sources() -> list[Source]:
    """Every catalogue of the Chinese edition, with what it must translate now."""
    found = []
    for chapter in chapter_ids():
        nb = json.loads(source_notebook(chapter).read_text())
        where = f"solutions/{chapter}/{chapter}.ipynb"
        found.append(
            Source(
                f"chapter {chapter}",
                LOCALE / f"{chapter}.po",
                [Expected(text, cell_id, [where]) for cell_id, text in cell_entries(nb)],
                keyed_by_cell=True,
            )
        )
    for page in FRONT_MATTER:
        path = ROOT / "book" / f"{page}.md"
        found.append(
            Source(
                f"book/{page}.md",
                LOCALE / f"{page}.po",
                [Expected(text, None, [f"book/{page}.md"]) for text in block_entries(path.read_text())],
            )
        )
    found.append(
        Source(
            "the site's words",
            LOCALE / "site.po",
            [Expected(text, None, ["_config.yml, _toc.yml"]) for text in site_strings()],
        )
    )
    found.append(
        Source(
            "README.md",
            LOCALE / "README.po",
            [Expected(text, None, ["README.md"]) for text in block_entries(readme_text())],
        )
    )
    found.append(
        Source("the learner's messages", MESSAGES, [Expected(m.text, None, m.where, m.pattern) for m in messages()])
    )
    return found


def fields_of(text: str) -> list[str]:
    from tinyformer.i18n import fields

    return fields(text)


def load(path: Path):
    import polib

    if path.exists():
        return polib.pofile(str(path), wrapwidth=100)
    po = polib.POFile(wrapwidth=100)
    po.metadata = dict(HEADER)
    return po


def update(source: Source) -> tuple[int, int, int]:
    """Bring one catalogue up to date with its English text, as msgmerge does. A changed entry keeps its
    translation, marked fuzzy, with the English it translated as ``previous_msgid``; an entry whose text is
    gone is dropped. Returns (new, changed, dropped)."""
    import polib

    po = load(source.path)
    old = [entry for entry in po if not entry.obsolete]
    by_context = {entry.msgctxt: entry for entry in old if entry.msgctxt}
    by_text = {entry.msgid: entry for entry in old if not entry.msgctxt}
    kept, new, changed = [], 0, 0
    used: set[int] = set()
    for want in source.expected:
        entry = by_context.get(want.context) if source.keyed_by_cell else by_text.get(want.text)
        if entry is None and not source.keyed_by_cell:  # an edited block: the most similar entry no longer used
            unused = [e for e in old if id(e) not in used and e.msgid not in {w.text for w in source.expected}]
            close = difflib.get_close_matches(want.text, [e.msgid for e in unused], n=1, cutoff=0.6)
            entry = next((e for e in unused if close and e.msgid == close[0]), None)
        if entry is None:
            entry = polib.POEntry(msgid=want.text, msgstr="", msgctxt=want.context)
            new += 1
        elif entry.msgid != want.text:
            entry.previous_msgid = entry.previous_msgid or entry.msgid
            entry.msgid = want.text
            if "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
            changed += 1
        used.add(id(entry))
        entry.occurrences = [(where, "") for where in want.where]
        # a message with {placeholders}: a str.format template of the course's code, or a test cell's f-string
        brace = source.path == MESSAGES and bool(fields_of(want.text))
        entry.flags = [flag for flag in entry.flags if flag != "python-brace-format"] + (
            ["python-brace-format"] if brace else []
        )
        kept.append(entry)
    dropped = sum(1 for entry in old if id(entry) not in used)
    fresh = polib.POFile(wrapwidth=100)
    fresh.metadata = dict(po.metadata) or dict(HEADER)
    fresh.header = po.header or (
        "The Chinese edition of the tinyformer course. Translations keyed as described in "
        "grader/translation.py; update with `python -m grader translations --update`."
    )
    fresh.extend(kept)
    source.path.parent.mkdir(parents=True, exist_ok=True)
    fresh.save(str(source.path))
    return new, changed, dropped


# a code block (a MyST directive, ```{admonition} ..., is prose: it is translated)
FENCE = re.compile(r"^(```|~~~)(?!\{)[^\n]*\n.*?^\1\s*$", re.MULTILINE | re.DOTALL)
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.DOTALL)


def _diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "English translated", "English now", lineterm="", n=1
    )
    return "\n".join("      " + line for line in lines)


def problems(source: Source) -> list[str]:
    """What is missing, stale or wrong in one catalogue; empty when it is complete and current."""
    from tinyformer.i18n import fields

    if not source.path.exists():
        return [
            f"{source.name}: no catalogue {source.path.relative_to(ROOT)} "
            "(run `python -m grader translations --update`, then translate it)"
        ]
    po = load(source.path)
    entries = [entry for entry in po if not entry.obsolete]
    found = []
    by_context = {entry.msgctxt: entry for entry in entries if entry.msgctxt}
    by_text = {entry.msgid: entry for entry in entries if not entry.msgctxt}
    wanted = set()
    for want in source.expected:
        label = f"cell {want.context}" if source.keyed_by_cell else f"{want.text[:60]!r}"
        entry = by_context.get(want.context) if source.keyed_by_cell else by_text.get(want.text)
        if entry is None:
            found.append(f"{source.name}, {label}: no translation (new English text)")
            continue
        wanted.add(id(entry))
        if entry.msgid != want.text or "fuzzy" in entry.flags:
            old = entry.previous_msgid if entry.msgid == want.text else entry.msgid
            detail = ("\n" + _diff(old, want.text)) if old and old != want.text else ""
            found.append(f"{source.name}, {label}: the English changed since it was translated{detail}")
            continue
        if not entry.msgstr.strip():
            found.append(f"{source.name}, {label}: the translation is empty")
            continue
        for fence in [m.group(0) for m in FENCE.finditer(want.text)]:
            if fence not in entry.msgstr:
                found.append(
                    f"{source.name}, {label}: the code block {fence.splitlines()[0]!r}... must be kept as it is"
                )
        for math in DISPLAY_MATH.findall(want.text):
            if math not in entry.msgstr:
                found.append(f"{source.name}, {label}: the display maths {math[:40]!r}... must be kept as it is")
        if source.path == MESSAGES and "{" in want.text:
            if sorted(fields(entry.msgstr)) != sorted(fields(want.text)):
                found.append(
                    f"{source.name}, {label}: the translation must keep the placeholders "
                    f"{fields(want.text)}, it has {fields(entry.msgstr)}"
                )
    for entry in entries:
        if id(entry) not in wanted and not entry.obsolete:
            where = f"cell {entry.msgctxt}" if entry.msgctxt else repr(entry.msgid[:60])
            found.append(
                f"{source.name}, {where}: an entry for English text that no longer exists "
                "(run `python -m grader translations --update`)"
            )
    return found


# ------------------------------------------------------------------------------------------ the Chinese edition


def translations(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A catalogue's usable translations: {cell id: text} for entries keyed by cell and {English: text} for the
    others; fuzzy and empty ones are left out (their English stays)."""
    by_context, by_text = {}, {}
    if path.exists():
        for entry in load(path):
            if entry.obsolete or "fuzzy" in entry.flags or not entry.msgstr.strip():
                continue
            if entry.msgctxt:
                by_context[entry.msgctxt] = (entry.msgid, entry.msgstr)
            else:
                by_text[entry.msgid] = entry.msgstr
    return by_context, by_text


def translate_notebook(nb: nbformat.NotebookNode, chapter: str) -> nbformat.NotebookNode:
    """The Chinese edition of a chapter notebook (any edition: source, student, executed page): each
    translatable markdown cell whose English the catalogue translates gets its translation; nothing else
    changes but the notebook's language in its metadata."""
    by_context, _ = translations(LOCALE / f"{chapter}.po")
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if translatable(cell) and cell.get("id") in by_context:
            english, chinese = by_context[cell["id"]]
            if english == _source(cell):
                cell.source = chinese
    nb.metadata.setdefault("tinyformer_course", {})["language"] = LANGUAGE
    return nb


def translate_markdown(text: str, catalogue: Path) -> str:
    """A Markdown page in Chinese: each prose block the catalogue translates is replaced, the rest kept."""
    _, by_text = translations(catalogue)
    out = []
    for block, prose in markdown_blocks(text):
        key = block.rstrip("\n")
        if prose and key in by_text:
            block = by_text[key] + block[len(key) :]
        out.append(block)
    return "".join(out)


def site_word(text: str) -> str:
    return translations(LOCALE / "site.po")[1].get(text, text)


def zh_notebook_path(english: Path) -> Path:
    """chapters/NN-slug/NN-slug.ipynb -> chapters/NN-slug/NN-slug.zh.ipynb"""
    return english.with_name(english.name.removesuffix(".ipynb") + ZH_SUFFIX)


def write_student_translation(chapter: str, release: Path) -> Path:
    """Write the Chinese student edition next to the English one in a release folder."""
    english = release / f"{chapter}.ipynb"
    nb = translate_notebook(nbformat.read(english, as_version=4), chapter)
    target = zh_notebook_path(english)
    nbformat.write(nb, target)
    return target


README_NOTE = (
    "<!-- Generated by `python -m grader translations --update` from README.md and "
    "locale/zh_CN/LC_MESSAGES/README.po; do not edit. -->\n"
)


def readme_zh() -> str:
    return README_NOTE + translate_markdown(readme_text(), LOCALE / "README.po")


def _chosen(only: list[str] | None) -> list[Source]:
    """Every catalogue, or only the named chapters' (so that two people can update two chapters at once)."""
    if only is None:
        return sources()
    names = {f"chapter {chapter}" for chapter in only}
    return [source for source in sources() if source.name in names]


def update_all(only: list[str] | None = None) -> list[str]:
    """Update every catalogue (or only those of the chapters ``only`` names) and README.zh.md; one line per
    catalogue saying what changed."""
    report = []
    for source in _chosen(only):
        new, changed, dropped = update(source)
        report.append(
            f"{source.path.relative_to(ROOT)}: {len(source.expected)} entries"
            + (f", {new} new" if new else "")
            + (f", {changed} changed (fuzzy)" if changed else "")
            + (f", {dropped} dropped" if dropped else "")
        )
    if only is None:
        README_ZH.write_text(readme_zh())
    return report


def check_all(only: list[str] | None = None) -> list[str]:
    """Every problem of every catalogue (or of the chapters ``only`` names), and README.zh.md out of date."""
    found = [problem for source in _chosen(only) for problem in problems(source)]
    if only is not None:
        return found
    if not README_ZH.exists() or README_ZH.read_text() != readme_zh():
        found.append("README.zh.md is out of date: run `python -m grader translations --update`")
    return found

"""The learner's feedback page as one self-contained HTML file that works offline.

The chapters' Markdown is MyST (the website's dialect): directives such as ```` ```{admonition} ````,
roles such as ``{cite:p}`key```, ``$...$`` maths. nbconvert knows none of it, and its page loads require.js
and MathJax 2 from a CDN. Here:

- ``myst_as_markdown`` rewrites a cell's MyST into the CommonMark and HTML nbconvert renders: admonitions
  become boxes with their title, citations become "[Vaswani *et al.*, 2017]" as on the website (from
  book/references.bib, listed in full at the end of the page), cross-references their text;
- ``notebook_page`` renders the notebook with nbconvert's lab template minus every outside script
  (require.js, the widget manager, mermaid, MathJax);
- ``typeset_maths`` typesets the page's maths once, when the page is written, with the course's own copy of
  MathJax (the website's, grader/website.py) run by Node.js (grader/typeset_maths.js): the page holds the
  formulas as SVG and needs no script, no network, and no file beside it, so it can be mailed or uploaded
  alone. Without Node.js or that copy the maths stays TeX, and the page says why (a grade never waits on it).
"""

from __future__ import annotations

import html
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import nbformat

from tinyformer.i18n import ENGLISH, gettext

from .course import ROOT, CourseError

BIBLIOGRAPHY = ROOT / "book" / "references.bib"
TYPESET_SCRIPT = Path(__file__).with_name("typeset_maths.js")
ADMONITIONS = (
    "admonition",
    "note",
    "tip",
    "hint",
    "important",
    "warning",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
    "todo",
)
DIRECTIVE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:.-]+)\}[ \t]*(?P<argument>.*)$")
CODE_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*)$")
ROLE_OR_CODE = re.compile(r"\{(?P<name>[A-Za-z][\w:.+-]*)\}`(?P<content>[^`]*)`|(?P<code>(?P<ticks>`+).+?(?P=ticks))")
TARGET = re.compile(r"^\s*\([^()\s]+\)=\s*$")  # (label)=
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]*)>$")  # {ref}`text <target>`


# Citations, as the website's sphinxcontrib-bibtex writes them (bibtex_reference_style: author_year)


@lru_cache(maxsize=4)
def bibliography(path: Path = BIBLIOGRAPHY) -> dict:
    """The entries of a BibTeX file by key (empty when there is none)."""
    from pybtex.database import parse_file

    return dict(parse_file(str(path)).entries) if path.exists() else {}


@lru_cache(maxsize=1)
def _pybtex() -> tuple:
    """pybtex's plain style and its plain-text backend, made once: pybtex looks a plugin up among every installed
    package's entry points each time one is asked for by name (``render_as``, ``Style()``), about 6 ms a lookup,
    which for a chapter's dozen citations was a second of every feedback page."""
    from pybtex.plugin import find_plugin
    from pybtex.style.formatting.plain import Style

    return Style(), find_plugin("pybtex.backends", "text")()


def _authors(entry) -> str:
    from pybtex.richtext import Text

    backend = _pybtex()[1]
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [Text.from_latex(" ".join(p.prelast_names + p.last_names)).render(backend) for p in people]
    if not last:
        return "Anonymous"
    if len(last) == 1:
        return html.escape(last[0])
    if len(last) == 2:
        return f"{html.escape(last[0])} and {html.escape(last[1])}"
    return f"{html.escape(last[0])} <em>et al.</em>"


def reference_text(entry) -> str:
    """An entry in full, as plain text (the reference list's style)."""
    style, backend = _pybtex()
    return next(iter(style.format_entries([entry]))).text.render(backend)


def citation(kind: str, keys: list[str], entries: dict) -> str:
    """One cite role as HTML: ``cite:t`` "Vaswani *et al.* [2017]", ``cite:p`` (and any other kind)
    "[Vaswani *et al.*, 2017]"; an unknown key is shown as itself."""
    parts = []
    for key in keys:
        entry = entries.get(key)
        if entry is None:
            parts.append((html.escape(key), None, ""))
        else:
            title = html.escape(reference_text(entry), quote=True)
            parts.append((_authors(entry), html.escape(entry.fields.get("year", "n.d.")), title))
    if kind in ("cite:t", "cite:ts"):
        text = "; ".join(
            f'<span title="{title}">{who} [{year}]</span>' if year else f"[{who}]" for who, year, title in parts
        )
    elif kind == "cite:author":
        text = "; ".join(who for who, _, _ in parts)
    elif kind == "cite:year":
        text = "; ".join(year or who for who, year, _ in parts)
    else:
        text = (
            "["
            + "; ".join(f'<span title="{title}">{who}, {year}</span>' if year else who for who, year, title in parts)
            + "]"
        )
    return f'<span class="citation">{text}</span>'


def _role(match: re.Match, entries: dict, cited: list[str]) -> str:
    name, content = match["name"], match["content"]
    if name == "cite" or name.startswith("cite:"):
        keys = [key.strip() for key in content.split(",") if key.strip()]
        cited.extend(key for key in keys if key not in cited)
        return citation(name, keys, entries)
    if name == "math":
        return f"${content}$"
    if name in ("code", "samp", "kbd", "file", "command", "literal"):
        return f"`{content}`"
    explicit = EXPLICIT.match(content)
    if explicit and explicit["text"]:  # {ref}`the text <label>`, {doc}, {term}, {numref}
        return explicit["text"]
    if name == "eq":
        return f"({content})"
    if name == "abbr":
        return re.sub(r"\s*\([^()]*\)$", "", content)
    return content


def _inline(text: str, entries: dict, cited: list[str]) -> str:
    """A line's roles rewritten; code spans (`` `{cite:p}` `` shown as code) left as they are."""

    def rewrite(match: re.Match) -> str:
        return match[0] if match["code"] else _role(match, entries, cited)

    return ROLE_OR_CODE.sub(rewrite, text)


def _markdown_html(text: str) -> str:
    """One line of Markdown as HTML (an admonition's title: emphasis, code, maths as in the text)."""
    from nbconvert.filters.markdown import markdown2html

    return markdown2html(text).strip()


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _directive(name: str, argument: str, body: list[str], entries: dict, cited: list[str]) -> str:
    options, start = {}, 0
    if body and body[0].strip() == "---":  # YAML options block
        end = next((i for i in range(1, len(body)) if body[i].strip() == "---"), None)
        if end is not None:
            for line in body[1:end]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            start = end + 1
    while start < len(body) and OPTION.match(body[start]):
        option = OPTION.match(body[start])
        options[option["key"]] = option["value"]
        start += 1
    content = "\n".join(body[start:]).strip("\n")
    if name in ("math", "latex"):
        return f"$$\n{content}\n$$"
    if name in ("code", "code-block", "sourcecode", "code-cell"):
        return f"```{argument.strip()}\n{content}\n```"
    inner = myst_as_markdown(content, entries, cited)
    title = argument.strip()
    if name in ADMONITIONS:
        title = title or ("See also" if name == "seealso" else name.capitalize())
        classes = " ".join(html.escape(c) for c in ["admonition", name, *options.get("class", "").split()])
        heading = f'<div class="admonition-title">{_markdown_html(_inline(title, entries, cited))}</div>'
        return f'<div class="{classes}">\n{heading}\n\n{inner}\n\n</div>'
    if name in ("figure", "image") and title:
        alt = options.get("alt", "")
        return f"![{alt}]({title})\n\n{inner}".rstrip()
    if name in ("toctree", "bibliography", "raw", "include", "tableofcontents"):
        return ""
    if title:  # an unknown directive (dropdown, card, ...): its title and its content
        return f"**{_inline(title, entries, cited)}**\n\n{inner}"
    return inner


def myst_as_markdown(source: str, entries: dict | None = None, cited: list[str] | None = None) -> str:
    """A Markdown cell's MyST as the CommonMark (with some HTML) that nbconvert renders: directives as boxes or
    their content, roles as text, targets ``(label)=`` and comments ``% ...`` removed, ``$`` maths kept for
    MathJax. Citation keys are appended to ``cited``."""
    entries = bibliography() if entries is None else entries
    cited = [] if cited is None else cited
    lines, out, i = source.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        directive, code = DIRECTIVE.match(line), CODE_FENCE.match(line)
        if directive:
            fence = directive["fence"]
            end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence)), len(lines))
            out.append(_directive(directive["name"], directive["argument"], lines[i + 1 : end], entries, cited))
            i = end + 1
        elif code:  # an ordinary code block: verbatim
            fence = code["fence"]
            end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence)), len(lines))
            out.extend(lines[i : end + 1])
            i = end + 1
        else:
            if not TARGET.match(line) and not re.match(r"^%(\s|$)", line) and line.strip() != "+++":
                out.append(re.sub(r"^(\s*\$\$)\s*\([^()\s]+\)\s*$", r"\1", _inline(line, entries, cited)))
            i += 1
    return "\n".join(out)


def references_markdown(cited: list[str], entries: dict, language: str = ENGLISH) -> str:
    """The cited works in full, as a Markdown list under a heading (empty when nothing is cited)."""
    known = [key for key in cited if key in entries]
    if not known:
        return ""
    items = "\n".join(f"- {html.escape(reference_text(entries[key]), quote=False)}" for key in known)
    return "## " + gettext("References", language) + f"\n\n{items}\n"


# The page

FEEDBACK_CSS = """
.admonition { margin: 1em 0; padding: 0.4em 1em; border-left: 0.3em solid #448aff; background: #f3f7ff; }
.admonition.warning, .admonition.caution, .admonition.attention { border-color: #ff9100; background: #fff7ec; }
.admonition.danger, .admonition.error { border-color: #ff1744; background: #fff0f2; }
.admonition.tip, .admonition.hint, .admonition.important { border-color: #00bfa5; background: #effbf8; }
.admonition-title { font-weight: bold; margin-top: 0.3em; }
.admonition-title p { margin: 0.3em 0; }
mjx-container[display="true"] { display: block; text-align: center; margin: 1em 0; overflow-x: auto; }
.maths-note { border: 1px solid #ff9100; padding: 0.4em 1em; }
"""

# nbconvert's lab template without the scripts it loads from CDNs: require.js, the widget manager (pages with
# widget state), mermaid and MathJax 2. The maths is typeset before the page is written (typeset_maths). A code
# cell's source is shown as pygments highlights it, which escapes every character of the code: the lab template's
# bleach pass over that markup (clean_html) found nothing to remove and took 0.6 s of every page.
TEMPLATE = (
    """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">"""
    + FEEDBACK_CSS
    + """</style>{%- endblock extra_css -%}
{% block input %}
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
     <div class="cm-editor cm-s-jupyter">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
     </div>
</div>
{%- endblock input %}
"""
)


def notebook_page(nb: nbformat.NotebookNode, language: str = ENGLISH) -> str:
    """The notebook as one HTML page (nbconvert's lab template) that loads nothing from outside itself;
    its Markdown's MyST rendered, the cited works listed at the end; maths still as TeX."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    entries, cited = bibliography(), []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = myst_as_markdown(cell.source, entries, cited)
    references = references_markdown(cited, entries, language)
    if references:
        nb.cells.append(nbformat.v4.new_markdown_cell(references))
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"feedback.html.j2": TEMPLATE})], template_file="feedback.html.j2"
    )
    body, _ = exporter.from_notebook_node(nb)
    if language != ENGLISH:  # the page says which language it is in (fonts, screen readers, search)
        body = (
            re.sub(r"<html([^>]*)\blang=\"[^\"]*\"", r'<html\1lang="zh-CN"', body, count=1)
            if 'lang="' in body[:300]
            else body.replace("<html", '<html lang="zh-CN"', 1)
        )
    return body


def typeset_maths(page: str, timeout: int = 120) -> str:
    """The page with its TeX (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]`` outside code) typeset as SVG
    by the course's copy of MathJax in Node.js. Raises CourseError when that cannot be done.

    Grading never downloads: the copy is the website's (`make book` or `python -m grader website` fetch it
    once), so that a machine offline grades as fast as one online."""
    from .website import STATIC

    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise CourseError("Node.js is not installed (Debian: apt-get install nodejs npm)")
    mathjax = STATIC / "mathjax"
    if not (mathjax / "node-main.js").exists():
        raise CourseError(
            "the course's copy of MathJax is not there yet: `make book` or `python -m grader website` fetches it"
        )
    light, put_back = _set_aside_unmathed(page)
    try:
        done = subprocess.run(
            [node, str(TYPESET_SCRIPT), str(mathjax)], input=light, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise CourseError(f"MathJax took longer than {timeout} s") from None
    except OSError as error:
        raise CourseError(f"Node.js did not start: {error}") from None
    if done.returncode != 0 or "<html" not in done.stdout:
        raise CourseError(f"MathJax failed: {done.stderr.strip()[-300:]}")
    return put_back(done.stdout)


# What MathJax never typesets (its skipHtmlTags): code, the page's CSS, scripts. On a chapter's page they are
# most of the HTML (highlighted code and its outputs, nbconvert's stylesheet), and parsing and writing them back
# was nearly all of MathJax's time: 2.3 s of chapter 03's 2.5 s, 4.5 s of chapter 08's 4.8 s.
UNMATHED = re.compile(r"<(pre|style|script|textarea)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)


def _set_aside_unmathed(page: str) -> tuple[str, Callable[[str], str]]:
    """The page with each element MathJax would skip (``UNMATHED``) replaced by an HTML comment that names it, and
    the function that puts them back into MathJax's output: the page typeset as a whole, only faster. The comments
    carry a random token, so that a comment of the same form in a learner's own cell is left as it is."""
    token, kept = secrets.token_hex(8), []

    def set_aside(match: re.Match) -> str:
        kept.append(match[0])
        return f"<!--{token}:{len(kept) - 1}-->"

    def put_back(typeset: str) -> str:
        return re.sub(f"<!--{token}:(\\d+)-->", lambda m: kept[int(m[1])], typeset)

    return UNMATHED.sub(set_aside, page), put_back


def offline_page(nb: nbformat.NotebookNode, language: str = ENGLISH) -> str:
    """``notebook_page`` with its maths typeset; when it cannot be typeset, the TeX stays and a note on top says
    why. The page's own words are in ``language`` (the notebook's)."""
    page = notebook_page(nb, language)
    try:
        return typeset_maths(page)
    except CourseError as error:
        note = (
            '<p class="maths-note">'
            + gettext(
                "The maths on this page is shown as TeX: the grader could not typeset it ({reason}).", language
            ).format(reason=html.escape(str(error)))
            + "</p>"
        )
        return page.replace("<main>", "<main>\n" + note, 1)

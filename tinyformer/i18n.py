"""What the course says to a learner, in the language of the learner's notebook (English or Chinese).

The course is one course in two languages: chapters/NN-slug/NN-slug.ipynb and its Chinese edition
chapters/NN-slug/NN-slug.zh.ipynb have the same code cells, so the tests that run in both are English
code. Their messages are translated when they are shown: the catalogue
tinyformer/locale/zh_CN/LC_MESSAGES/tinyformer.po (gettext, English text as msgid) holds

- the messages of the course's own code, written ``_("... {name} ...").format(name=...)`` (as gettext's
  ``_``), and
- the messages of the notebooks' test cells (``assert ..., f"... {x} ..."``, ``hint=``, ``passed(...)``),
  found in the test cells by ``python -m grader translations --update``. An f-string message becomes a
  pattern whose placeholders are the f-string's expressions, ``{tuple(out.shape)}``, so that the text the
  test printed, with its values, is matched and the values carried into the translation.

The notebook's language is $TINYFORMER_LANGUAGE when set (the grader sets it from the notebook's
metadata), else that of the notebook Jupyter runs (``.zh.ipynb`` is Chinese), else English.

    from tinyformer.i18n import _, translate
    raise CheckFailure(_("{name} should be a torch.Tensor, got {kind}.").format(name=translate(name), kind=...))
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

ENGLISH, CHINESE = "en", "zh_CN"
LANGUAGES = (ENGLISH, CHINESE)
CATALOGUE = Path(__file__).resolve().parent / "locale" / CHINESE / "LC_MESSAGES" / "tinyformer.po"
SUFFIX = {CHINESE: ".zh.ipynb"}  # the file name of a notebook's Chinese edition ends so


def normalise(language: str | None) -> str:
    """``zh``, ``zh_CN``, ``zh-CN``, ``zh_CN.UTF-8`` -> ``zh_CN``; anything else is English."""
    return CHINESE if (language or "").strip().lower().replace("-", "_").startswith("zh") else ENGLISH


def language_of_path(path: str | os.PathLike) -> str:
    """The language of a notebook from its file name: ``NN-slug.zh.ipynb`` is Chinese."""
    return CHINESE if str(path).endswith(SUFFIX[CHINESE]) else ENGLISH


def notebook_language() -> str:
    """The language of the notebook this kernel runs: $TINYFORMER_LANGUAGE, else the notebook's file name
    as Jupyter tells its kernel ($JPY_SESSION_NAME), else English."""
    given = os.environ.get("TINYFORMER_LANGUAGE")
    if given:
        return normalise(given)
    session = os.environ.get("JPY_SESSION_NAME", "")  # Jupyter's notebook path
    if not session:
        try:  # VS Code tells the kernel the notebook's path in the namespace
            from IPython import get_ipython

            shell = get_ipython()
            session = (shell.user_ns.get("__vsc_ipynb_file__", "") if shell is not None else "") or ""
        except ImportError:
            pass
    return language_of_path(session)


def _placeholders(text: str) -> list[tuple[str, str]]:
    """Split a brace-format message into ("text", literal) and ("field", expression) parts; ``{{``/``}}``
    are literal braces, and a field may hold nested brackets, quotes and calls: ``{getattr(x, 'shape')}``."""
    parts: list[tuple[str, str]] = []
    literal, i = [], 0
    while i < len(text):
        ch = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            literal.append(ch)
            i += 2
        elif ch == "{":
            depth, j = 1, i + 1
            while j < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:  # unbalanced: the rest is text
                literal.append(text[i:])
                break
            parts.append(("text", "".join(literal)))
            literal = []
            parts.append(("field", text[i + 1 : j - 1]))
            i = j
        else:
            literal.append(ch)
            i += 1
    parts.append(("text", "".join(literal)))
    return [part for part in parts if part != ("text", "")]


def fields(text: str) -> list[str]:
    """The placeholders of a brace-format message, in order."""
    return [value for kind, value in _placeholders(text) if kind == "field"]


class Catalogue:
    """The translations of one language: exact messages, and patterns for messages with values in them."""

    def __init__(self, entries: dict[str, str], patterns: list[tuple[str, str]]):
        self.exact = {**dict(patterns), **entries}  # a template is also looked up as it is (``_(...).format``)
        self.patterns = []
        for msgid, msgstr in patterns:
            parts = _placeholders(msgid)
            names = [value for kind, value in parts if kind == "field"]
            regex = "".join(re.escape(value) if kind == "text" else "(.*?)" for kind, value in parts)
            fixed = sum(len(value) for kind, value in parts if kind == "text")
            self.patterns.append((fixed, re.compile(regex + r"\Z", re.DOTALL), names, msgstr))
        self.patterns.sort(key=lambda pattern: -pattern[0])  # the most specific message first

    @classmethod
    def load(cls, path: Path = CATALOGUE) -> "Catalogue":
        if not path.exists():
            return cls({}, [])
        import polib

        exact, patterns = {}, []
        for entry in polib.pofile(str(path)):
            if entry.obsolete or "fuzzy" in entry.flags or not entry.msgstr:
                continue
            # an f-string of a test cell is matched against the text shown; a template of the course's code is
            # looked up as it is (``_(template).format(...)``), never matched: "use {dtype}." would match anything
            in_a_test = any(".ipynb" in where for where, _ in entry.occurrences)
            if in_a_test and "python-brace-format" in entry.flags and fields(entry.msgid):
                patterns.append((entry.msgid, entry.msgstr))
            else:
                exact[entry.msgid] = entry.msgstr
        return cls(exact, patterns)

    def gettext(self, message: str) -> str:
        """The translation of a message with its placeholders unfilled (for ``_(...).format(...)``)."""
        return self.exact.get(message, message)

    def translate(self, text: str) -> str:
        """The translation of a message as shown, values filled in; the text itself when unknown."""
        if text in self.exact:
            return self.exact[text]
        for _, regex, names, msgstr in self.patterns:
            match = regex.match(text)
            if match is None:
                continue
            # a value that is itself a message (a check's name, a hint held in a variable) is translated too
            values = {name: self.exact.get(value, value) for name, value in zip(names, match.groups())}
            parts = _placeholders(msgstr)
            return "".join(values.get(value, "{" + value + "}") if kind == "field" else value for kind, value in parts)
        return text


@functools.cache
def catalogue(language: str) -> Catalogue:
    return Catalogue.load() if language == CHINESE else Catalogue({}, [])


def translate(text: str, language: str | None = None) -> str:
    """``text`` (a message as shown, values filled in) in ``language`` (default: the notebook's)."""
    language = notebook_language() if language is None else normalise(language)
    return catalogue(language).translate(text) if language != ENGLISH else text


def gettext(message: str, language: str | None = None) -> str:
    """gettext's ``_``: the translation of a message template, to be ``.format``-ed afterwards."""
    language = notebook_language() if language is None else normalise(language)
    return catalogue(language).gettext(message) if language != ENGLISH else message


_ = gettext


def N_(message: str) -> str:
    """gettext's ``N_`` (gettext_noop): marks a message for the catalogue where it is defined; it is translated
    where it is shown, with ``_(MESSAGE)``."""
    return message


def translating_assertions(shell=None) -> bool:
    """In a Chinese notebook, show every AssertionError a cell raises (a plain ``assert ..., "msg"`` of a test
    cell) with its message translated. Uses IPython's own hook for custom exceptions; a no-op outside
    IPython or in English. Returns whether the hook is on."""
    if notebook_language() == ENGLISH:
        return False
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False

    def show_translated(self, etype, value, tb, tb_offset=None):
        if value.args and isinstance(value.args[0], str) and not getattr(value, "translated", False):
            value.args = (translate(value.args[0]), *value.args[1:])
        self.showtraceback((etype, value, tb), tb_offset=tb_offset)

    shell.set_custom_exc((AssertionError,), show_translated)
    return True

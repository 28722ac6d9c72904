"""Sphinx extension: a chapter page's download and launch buttons open the student notebook.

A chapter page is built from book/chapters/NN-slug.ipynb, which `python -m grader website` generates
(the executed reference solution with its solution code replaced by the stubs) and git ignores.
sphinx-book-theme builds its buttons from the page's own path, so Binder, Colab and JupyterHub would
open a file that is not in the repository, and the .ipynb download would give that generated page.
A learner wants the student edition, chapters/NN-slug/NN-slug.ipynb, which is in the repository:

- launch buttons: the page's path in their URLs becomes the student notebook's path;
- download button: it gets the student notebook, copied into the site at _sources/chapters/NN-slug/.

The theme has no option for a per-page notebook path, so this runs on ``html-page-context`` after the
theme has filled ``header_buttons`` (priority 501) and before the page is rendered.

The Chinese edition (built from _build/zh/) sets ``student_notebook_suffix = ".zh.ipynb"`` and
``student_notebooks_root`` (the repository, where chapters/ is): its buttons open chapters/NN-slug/NN-slug.zh.ipynb.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

PAGE = re.compile(r"^book/chapters/(?P<chapter>\d\d-[a-z0-9-]+)$")


def student_notebook(pagename: str, suffix: str = ".ipynb") -> str | None:
    """The student notebook of a chapter page, relative to the repository root, or None for other pages."""
    match = PAGE.match(pagename)
    if match is None:
        return None
    chapter = match["chapter"]
    return f"chapters/{chapter}/{chapter}{suffix}"


def _root(app) -> Path:
    return Path(app.config.student_notebooks_root or app.srcdir)


def retarget_buttons(buttons: list[dict], pagename: str, student: str, sources_url: str) -> int:
    """Point the launch buttons and the .ipynb download at ``student``; return how many buttons changed.

    ``buttons`` is the theme's ``header_buttons`` (groups hold theirs in "buttons"); ``sources_url`` is
    the page's relative URL of the site's _sources/ folder.
    """
    page_notebook = f"{pagename}.ipynb"
    changed = 0
    for button in buttons:
        if button.get("type") == "group":
            changed += retarget_buttons(button.get("buttons", []), pagename, student, sources_url)
        elif button.get("label") in ("download-source-button", "download-notebook-button"):
            if button.get("url", "").endswith("/" + page_notebook):
                button["url"] = f"{sources_url}/{student}"
                button["tooltip"] = "Download the exercise notebook"
                changed += 1
        elif page_notebook in button.get("url", ""):  # Binder, Colab, JupyterHub
            button["url"] = button["url"].replace(page_notebook, student)
            changed += 1
    return changed


def _page_context(app, pagename, templatename, context, doctree):
    student = student_notebook(pagename, app.config.student_notebook_suffix)
    if student is None or not (_root(app) / student).exists() or "header_buttons" not in context:
        return
    retarget_buttons(context["header_buttons"], pagename, student, context["pathto"]("_sources", 1))


def _copy_student_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        student = student_notebook(docname, app.config.student_notebook_suffix)
        if student is not None and (_root(app) / student).exists():
            target = Path(app.outdir) / "_sources" / student
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_root(app) / student, target)


def setup(app):
    app.add_config_value("student_notebook_suffix", ".ipynb", "html")
    app.add_config_value("student_notebooks_root", "", "html")
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _copy_student_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

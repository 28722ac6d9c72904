"""Sphinx extension: the site works offline, with no script loaded twice and none from outside.

- Sphinx 7.4 adds a script given by its body (no file name) twice to every page: once as registered
  (file name None, from ``app.add_js_file``) and once more at ``prepare_writing`` (file name ""), and the two
  do not compare equal. sphinx-thebe registers ``const THEBE_JS_URL = ...`` that way, so every page threw
  "Identifier 'THEBE_JS_URL' has already been declared". Each page keeps the first of equal scripts.
- pydata-sphinx-theme (under sphinx-book-theme) starts a page in the reader's saved light/dark mode, else in
  the page context's ``default_mode`` (``html_context``); Jupyter Book leaves it empty, so a first visit logged
  "Got invalid theme mode: . Resetting to auto." on every page. It is set to "auto" (the theme's own fallback:
  the reader's system setting) unless the configuration sets it.
- A page whose scripts or style sheets come from another site (a CDN) is a build warning, so an error
  under ``--warningiserror``: the site serves its own copies (MathJax: grader/website.py).
"""

from __future__ import annotations

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _key(asset) -> tuple:
    return (asset.filename or "", getattr(asset, "priority", None), sorted(getattr(asset, "attributes", {}).items()))


def unique_assets(assets: list) -> list:
    """``assets`` (Sphinx's _JavaScript or _CascadingStyleSheet) without later copies of an earlier one,
    counting a body script named None and one named "" as the same."""
    seen, kept = set(), []
    for asset in assets:
        key = repr(_key(asset))
        if key not in seen:
            seen.add(key)
            kept.append(asset)
    return kept


def outside_urls(assets: list) -> list[str]:
    """The file names of ``assets`` that another site serves (anything with a scheme: http(s), protocol-relative)."""
    return [
        str(asset.filename)
        for asset in assets
        if asset.filename and ("://" in str(asset.filename) or str(asset.filename).startswith("//"))
    ]


def _page_context(app, pagename, templatename, context, doctree):
    for name in ("script_files", "css_files"):
        assets = context.get(name)
        if assets is None:
            continue
        assets[:] = unique_assets(assets)  # the builder's own list: it restores it before the next page
        for url in outside_urls(assets):
            logger.warning(
                f"{pagename}: the page loads {url} from outside the site; serve a local copy", location=pagename
            )


def _default_mode(app, config):
    if not config.html_context.get("default_mode"):
        config.html_context["default_mode"] = "auto"


def setup(app):
    app.connect("config-inited", _default_mode)
    # after every extension that adds a page's scripts in html-page-context (MyST-NB: 500)
    app.connect("html-page-context", _page_context, priority=950)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

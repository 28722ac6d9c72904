"""Sphinx extension: a language switch on every page, leading to the same page in the other edition.

The site has two editions built from one source: English at the site's root (_build/html/) and Chinese
under zh/ (_build/html/zh/, built from _build/zh/ by `make book`; see grader/website.py). Every page gets

- a button in its header ("中文" on an English page, "English" on a Chinese one) that opens the same page
  in the other edition, in the same tab;
- ``<link rel="alternate" hreflang="...">`` to that page, for search engines and browsers.

Configuration (set by `python -m grader website` in each edition's configuration):
``edition_switch = {"root": "zh/", "label": "中文", "hreflang": "zh-CN", "tooltip": "..."}``, ``root``
being the other edition's root seen from this edition's root ("zh/" from English, "../" from Chinese).
Without it the extension does nothing.
"""

from __future__ import annotations

import html
import json


def other_edition_url(pagename: str, root: str) -> str:
    """The URL of the same page in the other edition, relative to this page: ``book/setup`` with root
    "zh/" -> "../zh/book/setup.html"."""
    up = "../" * pagename.count("/")
    return f"{up}{root}{pagename}.html"


def _page_context(app, pagename, templatename, context, doctree):
    switch = app.config.edition_switch
    if not switch or "header_buttons" not in context:
        return
    url = other_edition_url(pagename, switch["root"])
    context["header_buttons"].insert(
        0,
        {
            "type": "javascript",
            "javascript": f"window.location.href = {html.escape(json.dumps(url))}",
            "tooltip": switch.get("tooltip", switch["label"]),
            "icon": "fas fa-language",
            "text": switch["label"],
            "label": "language-switch-button",
        },
    )
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{html.escape(switch["hreflang"])}" href="{html.escape(url)}" />'
    )


def setup(app):
    app.add_config_value("edition_switch", {}, "html")
    # after the theme has filled header_buttons (sphinx-book-theme: priority 501)
    app.connect("html-page-context", _page_context, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

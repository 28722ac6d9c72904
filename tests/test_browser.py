"""Every page of the website, and a learner's feedback page, as a reader sees them, in headless Chromium
(Debian's `chromium`, driven by Playwright), offline: no request leaves the page's own files (a CDN script,
font or widget manager fails the test, and is not fetched), no console error, maths typeset by MathJax and
no raw TeX left in the text, every image loaded with a size, no error shown, no solution. A screenshot of
each page is saved for review in pytest's temporary folder, screenshots/ under its base (printed in the run's
summary; `pytest --basetemp=DIR` puts it in DIR/screenshots/, or in DIR/popen-gwN/screenshots/ when run on
`make test`'s workers)."""

import contextlib
import functools
import http.server
import re
import shutil
import threading
from dataclasses import dataclass, field

import nbformat
import pytest

from grader.course import ROOT, UNGRADED
from tests.system_tools import CHROMIUM, require_chromium
from tinyformer.i18n import gettext

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL = ("file:", "data:", "blob:", "about:")  # what a page may load: its own files, inline data
# How long a page may take to load, settle and typeset: generous, because under `make test` the browser shares two
# cores with another worker's grading kernels (one first page took over 30 s to settle there). A page that never
# settles, or never typesets, still fails: after this long, not sooner.
PATIENCE_MS = 180_000
# TeX that MathJax did not typeset, in a page's text outside code and typeset maths
RAW_TEX = re.compile(r"\\[A-Za-z]+|\\[()\[\]{}]|\$[^$\n]+\$|[_^]\{[^}\n]*\}")
# the page's visible text without typeset maths and code (where TeX and dollars are what they are)
TEXT_OUTSIDE_MATHS_AND_CODE = """() => {
    document.querySelectorAll('mjx-container, pre, code, kbd, samp, script, style, textarea').forEach(e => e.remove());
    return document.body.innerText; }"""


def raw_tex(text: str) -> list[str]:
    """Each piece of raw TeX in ``text`` (a control word such as \\frac, \\( or \\[, a `$...$` pair on one
    line, a `_{...}` or `^{...}` group), with a little of the text around it; one piece per stretch of text."""
    pieces, end = [], -1
    for match in RAW_TEX.finditer(text):
        if match.start() >= end:
            start, end = max(match.start() - 30, 0), match.end() + 30
            pieces.append(text[start:end].replace("\n", " "))
    return pieces


@dataclass
class Visit:
    """A page opened with every request outside ``LOCAL`` refused and recorded, and every console error kept."""

    page: object
    outside: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def open_offline(browser, url: str, local: tuple[str, ...] = LOCAL) -> Visit:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(PATIENCE_MS)
    visit = Visit(context.new_page())

    def refuse_outside(route):
        if route.request.url.startswith(local):
            route.continue_()
        else:
            visit.outside.append(route.request.url)
            route.abort()

    context.route("**/*", refuse_outside)
    visit.page.on(
        "request", lambda r: None if r.url.startswith(local) or r.url in visit.outside else visit.outside.append(r.url)
    )
    visit.page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
    visit.page.on("pageerror", lambda error: visit.errors.append(str(error)))
    visit.page.goto(url, wait_until="load")
    visit.page.wait_for_load_state("networkidle")
    return visit


def close(visit: Visit) -> None:
    context = visit.page.context
    visit.page.close()
    context.close()


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_folder(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def screenshots(screenshot_folder, record_property):
    """Where the screenshots go: <pytest's base temporary folder>/screenshots/. The test's report carries it, and
    tests/conftest.py names it in the run's summary, from whichever worker ran the test."""
    record_property("screenshots", str(screenshot_folder))
    return screenshot_folder


def pages(site):
    """The site's pages, without Sphinx's index and search pages and the redirect pages (index.html)."""
    return sorted(
        p
        for p in site.rglob("*.html")
        if p.name not in {"genindex.html", "search.html"}
        and "_static" not in p.parts
        and 'http-equiv="refresh"' not in p.read_text().lower()
    )


def test_every_page_renders_as_a_reader_sees_it(site, browser, screenshots):
    checked = []
    for path in pages(site):
        visit = open_offline(browser, path.as_uri())
        page = visit.page
        name = str(path.relative_to(site))
        if page.evaluate("() => document.querySelector('.math') !== null"):
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=PATIENCE_MS
            )
            page.evaluate("() => MathJax.startup.promise")
            typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
            assert typeset > 0, f"{name}: maths on the page, but MathJax typeset none of it"
            assert page.evaluate("() => document.querySelectorAll('mjx-merror').length") == 0, (
                f"{name}: a MathJax error"
            )
        page.wait_for_load_state("networkidle")  # MathJax's fonts and extensions
        # The whole page, as JPEG: a chapter is 20,000-55,000 pixels tall, and PNG took 1.5 times as long (2.9 s a
        # chapter). A JPEG is at most 65,535 pixels tall: a taller page is saved as PNG.
        kind = "jpeg" if page.evaluate("() => document.documentElement.scrollHeight") < 65_000 else "png"
        shot = screenshots / (name.replace("/", "__")[:-5] + (".jpg" if kind == "jpeg" else ".png"))
        page.screenshot(path=str(shot), full_page=True, type=kind, **({"quality": 85} if kind == "jpeg" else {}))
        assert not visit.outside, f"{name}: requests outside the site {sorted(set(visit.outside))}"
        images = page.evaluate("() => Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])")
        broken = [src for src, ok in images if not ok]
        assert not broken, f"{name}: images that did not load: {broken}"
        text = page.evaluate("() => document.body.innerText")
        assert "Traceback (most recent call last)" not in text, f"{name}: shows a traceback"
        assert page.evaluate("() => document.querySelectorAll('.output.traceback, .output.stderr').length") == 0, name
        chinese = path.relative_to(site).parts[0] == "zh"
        if "chapters" in path.parts:  # (the instructor guide names the markers in its prose)
            assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text, (
                f"{name}: shows a solution"
            )
            graded = path.stem not in UNGRADED  # the capstone has no exercises and no tests
            if graded:
                assert "raise NotImplementedError()" in text, f"{name}: the exercise stubs are missing"
            # test cells: code folded under "Show the tests", output shown
            show = gettext("Show the tests", "zh_CN" if chinese else "en")
            folded = page.evaluate(
                """(show) => Array.from(document.querySelectorAll('.cell.tag_hide-input')).map(cell => {
                const summary = cell.querySelector('summary'), output = cell.querySelector('.cell_output');
                return [summary !== null && summary.innerText.includes(show),
                        !cell.querySelector('.cell_input').checkVisibility(),
                        output === null || output.checkVisibility()]; })""",
                show,
            )
            assert (bool(folded) == graded) and all(all(cell) for cell in folded), (
                f"{name}: test cells not folded, output shown"
            )
            chapter = path.stem
            links = "() => Array.from(document.querySelectorAll('.dropdown-launch-buttons a'), a => a.href)"
            launch = page.evaluate(links)
            assert len(launch) >= 2, f"{name}: no launch buttons {launch}"
            notebook = f"/chapters/{chapter}/{chapter}{'.zh.ipynb' if chinese else '.ipynb'}"
            assert all(notebook in href for href in launch), f"{name}: {launch}"
        assert not visit.errors, f"{name}: console errors {visit.errors}"
        left = raw_tex(page.evaluate(TEXT_OUTSIDE_MATHS_AND_CODE))  # (takes the maths and code off the page)
        assert not left, f"{name}: raw TeX in the text: {left}"
        close(visit)
        checked.append(name)
    assert any("chapters" in name for name in checked), checked


# A glyph's width in the page's own font: a character the fonts lack is drawn as the same empty box ("tofu")
# as U+FFFF, a non-character that no font has.
GLYPHS = """(text) => { const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = getComputedStyle(document.querySelector('main p') || document.body).font;
    const box = ctx.measureText('\\uffff').width;
    return Array.from(text).map(ch => ctx.measureText(ch).width !== box); }"""


def test_the_chinese_site_shows_chinese_glyphs_and_every_page_switches_to_its_other_edition(site, browser, screenshots):
    chapter = site / "zh" / "book" / "chapters" / "03-attention.html"
    visit = open_offline(browser, chapter.as_uri())
    page = visit.page
    assert page.evaluate("() => document.documentElement.lang").startswith("zh")
    text = page.evaluate("() => document.querySelector('main').innerText")
    hanzi = "".join(dict.fromkeys(ch for ch in text if "\u4e00" <= ch <= "\u9fff"))[:40]
    assert len(hanzi) >= 20, "the Chinese chapter page has hardly any Chinese text"
    drawn = page.evaluate(GLYPHS, hanzi)
    assert all(drawn), (
        f"characters drawn as empty boxes (no Chinese font?): {[c for c, ok in zip(hanzi, drawn) if not ok]}"
    )
    page.screenshot(path=str(screenshots / "zh__chapter-03-top.png"))
    page.click(".btn-language-switch-button")
    page.wait_for_load_state("load")
    assert page.url == (site / "book" / "chapters" / "03-attention.html").as_uri()
    page.click(".btn-language-switch-button")
    page.wait_for_load_state("load")
    assert page.url == chapter.as_uri()
    close(visit)
    # the search page of the Chinese edition finds the chapters by a Chinese word; served over HTTP, as a
    # website is (from file:// the browser refuses the page fetches that show each result's summary)
    with served(site) as base:
        visit = open_offline(browser, f"{base}/zh/search.html?q=%E6%B3%A8%E6%84%8F%E5%8A%9B", LOCAL + (base,))  # 注意力
        visit.page.wait_for_function(
            "() => document.querySelectorAll('#search-results li').length > 0", timeout=PATIENCE_MS
        )
        found = visit.page.evaluate("() => Array.from(document.querySelectorAll('#search-results li a'), a => a.href)")
        assert any("03-attention" in href for href in found), found
        visit.page.wait_for_load_state("networkidle")
        visit.page.screenshot(path=str(screenshots / "zh__search.png"))
        assert not visit.errors and not visit.outside, (visit.errors, visit.outside)
        close(visit)


@contextlib.contextmanager
def served(folder):
    """The folder served over HTTP on a free local port, for as long as the block runs: yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def test_the_offline_guard_refuses_and_reports_an_outside_request_and_a_console_error(browser, tmp_path):
    page = tmp_path / "cdn.html"
    page.write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.example.org/lib.js"></script>'
        '<link rel="stylesheet" href="https://fonts.example.org/css?family=Lato"></head>'
        "<body><p>text</p><script>const X = 1;</script><script>const X = 2;</script></body></html>"
    )
    visit = open_offline(browser, page.as_uri())
    try:
        assert set(visit.outside) == {"https://cdn.example.org/lib.js", "https://fonts.example.org/css?family=Lato"}
        assert any("'X' has already been declared" in error for error in visit.errors), visit.errors
    finally:
        close(visit)


@pytest.mark.parametrize(
    "text",
    [
        r"with \lVert q\rVert^2 in",
        r"and \frac{1}{2}",
        r"in \mathbb{R}^{n}",
        "the score $q \\cdot k$ is",
        "as d_{k} grows",
        r"inline \(x\) maths",
    ],
)
def test_raw_tex_is_found_in_text(text):
    assert raw_tex(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Vaswani et al. [2017] divide by the square root of d_k.",
        "a price of 5 dollars",
        "chapters/03-attention/03-attention.ipynb",
        "(a, b) and {curly} braces, 5% of 10",
    ],
)
def test_plain_prose_is_not_taken_for_raw_tex(text):
    assert not raw_tex(text), raw_tex(text)


def test_a_feedback_page_works_offline_with_its_myst_and_maths_rendered(browser, tmp_path, screenshots):
    """The page a learner gets back (grader/worker.py feedback_html), from a chapter with maths, admonitions and
    citations: typeset maths, admonitions as boxes, citations as author and year, nothing loaded from outside."""
    from grader.autograde import CellResult, NotebookResult
    from grader.website import vendor_mathjax
    from grader.worker import feedback_html

    vendor_mathjax()  # the course's MathJax, as `make book` fetches it (grading itself never downloads)
    chapter = "03-attention"
    graded = tmp_path / f"{chapter}.ipynb"
    shutil.copy(ROOT / "chapters" / chapter / f"{chapter}.ipynb", graded)
    source = "\n".join(c.source for c in nbformat.read(graded, as_version=4).cells if c.cell_type == "markdown")
    assert "{admonition}" in source and "{cite:p}" in source and "$" in source, (
        "the chapter no longer has what this checks"
    )
    message = "AssertionError: the weights should sum to 1 over $k$, got $1.5$ <b>x</b>"
    result = NotebookResult(
        chapter,
        "ada",
        [CellResult("attention_weights", 0, 2, message=message), CellResult("written_answer", 0, 1, manual=True)],
    )
    page = tmp_path / "feedback.html"
    page.write_text(feedback_html(graded, result, f"ada, {chapter}"))

    visit = open_offline(browser, page.as_uri())
    try:
        visit.page.screenshot(path=str(screenshots / "feedback.png"))
        assert not visit.outside, f"requests outside the page {visit.outside}"
        assert not visit.errors, f"console errors {visit.errors}"
        assert visit.page.evaluate("() => document.querySelectorAll('script[src], link[href^=\"http\"]').length") == 0
        assert visit.page.evaluate("() => document.querySelectorAll('mjx-container svg').length") > 20, (
            "maths not typeset"
        )
        assert visit.page.evaluate("() => document.querySelectorAll('[data-mml-node=\"merror\"]').length") == 0, (
            "a TeX error in the maths"
        )
        boxes = visit.page.evaluate(
            "() => Array.from(document.querySelectorAll('.admonition .admonition-title'), e => e.innerText)"
        )
        assert len(boxes) == source.count("{admonition}") and all(boxes), boxes
        text = visit.page.evaluate("() => document.body.innerText")
        assert "Vaswani et al., 2017" in text and "References" in text and "Attention is all you need" in text
        assert message in text, "the test's message is not shown as written"
        assert not re.search(r"\{(admonition|cite:[a-z]+|cite|ref|numref|eq)\}", text), "raw MyST in the page"
        visit.page.evaluate(
            "() => document.querySelector('.mathjax_ignore').remove()"
        )  # the table: the message's $ as written
        left = raw_tex(visit.page.evaluate(TEXT_OUTSIDE_MATHS_AND_CODE))
        assert not left, f"raw TeX in the text: {left}"
    finally:
        close(visit)

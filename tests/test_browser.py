"""Every page of the website as a reader sees it, in headless Chromium (Debian's `chromium`, driven by
Playwright): maths typeset by MathJax, every image loaded with a size, no error shown, no solution.
A screenshot of each page is saved in _build/screenshots/ for review."""

import shutil

import pytest

from grader.course import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "_build" / "screenshots"
# Jupyter Book 1.0.4 writes sphinx-thebe's inline configuration script twice on notebook pages; the
# second copy throws this error. Thebe (live code) is not enabled, so readers see nothing of it.
KNOWN_THIRD_PARTY_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: `make install` installs it as root (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def pages(site):
    """The site's pages, without Sphinx's index and search pages and the redirect pages (index.html)."""
    return sorted(p for p in site.rglob("*.html")
                  if p.name not in {"genindex.html", "search.html"} and "_static" not in p.parts
                  and 'http-equiv="refresh"' not in p.read_text().lower())


def test_every_page_renders_as_a_reader_sees_it(site, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checked = []
    for path in pages(site):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)) if str(error) not in KNOWN_THIRD_PARTY_ERRORS else None)
        page.goto(path.as_uri(), wait_until="load")
        name = str(path.relative_to(site))
        if page.evaluate("() => document.querySelector('.math') !== null"):
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30000)
            page.evaluate("() => MathJax.startup.promise")
            typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
            assert typeset > 0, f"{name}: maths on the page, but MathJax typeset none of it"
            assert page.evaluate("() => document.querySelectorAll('mjx-merror').length") == 0, f"{name}: a MathJax error"
        images = page.evaluate("() => Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])")
        broken = [src for src, ok in images if not ok]
        assert not broken, f"{name}: images that did not load: {broken}"
        text = page.evaluate("() => document.body.innerText")
        assert "Traceback (most recent call last)" not in text, f"{name}: shows a traceback"
        assert page.evaluate("() => document.querySelectorAll('.output.traceback, .output.stderr').length") == 0, name
        if "chapters" in path.parts:  # (the instructor guide names the markers in its prose)
            assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text, f"{name}: shows a solution"
            assert "raise NotImplementedError()" in text, f"{name}: the exercise stubs are missing"
            # test cells: code folded under "Show the tests", output shown
            folded = page.evaluate("""() => Array.from(document.querySelectorAll('.cell.tag_hide-input')).map(cell => {
                const summary = cell.querySelector('summary'), output = cell.querySelector('.cell_output');
                return [summary !== null && summary.innerText.includes('Show the tests'),
                        !cell.querySelector('.cell_input').checkVisibility(),
                        output === null || output.checkVisibility()]; })""")
            assert folded and all(all(cell) for cell in folded), f"{name}: test cells not folded, output shown"
            chapter = path.stem
            links = "() => Array.from(document.querySelectorAll('.dropdown-launch-buttons a'), a => a.href)"
            launch = page.evaluate(links)
            assert len(launch) >= 2, f"{name}: no launch buttons {launch}"
            assert all(f"/chapters/{chapter}/{chapter}.ipynb" in href for href in launch), f"{name}: {launch}"
        assert not errors, f"{name}: JavaScript errors {errors}"
        page.screenshot(path=str(SCREENSHOTS / (name.replace("/", "__")[:-5] + ".png")), full_page=True)
        page.close()
        checked.append(name)
    assert any("chapters" in name for name in checked), checked

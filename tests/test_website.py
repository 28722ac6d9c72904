"""The website builds from the executed reference solutions, and its chapter pages show what readers
must see (figures, typeset maths, the exercise stubs) and nothing they must not (tracebacks,
solution code, hidden tests)."""

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from grader.authoring import MARKERS
from grader.course import ROOT, CourseError, chapter_ids, source_notebook
from grader.website import execute
from tests.test_authoring import solution_and_hidden_lines, visible_text


class Page(HTMLParser):
    def __init__(self, path: Path):
        super().__init__()
        self.images, self.links, self.text = [], [], []
        self.feed(path.read_text())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("chapter", chapter_ids())
def test_chapter_page_shows_figures_maths_and_stubs_only(site, chapter):
    path = site / "book" / "chapters" / f"{chapter}.html"
    html = path.read_text()
    page = Page(path)
    figures = [src for src in page.images if "_images/" in src]
    assert len(figures) >= 3, f"expected the chapter's figures on its page, found {figures}"
    for src in figures:
        image = (path.parent / src).resolve()
        assert image.exists() and image.stat().st_size > 5000, f"figure {src} is missing or empty"
    assert 'class="math' in html, "no maths on the page"
    assert "mathjax/tex-chtml.js" in html, "the page does not load the site's own MathJax"
    text = "".join(page.text)
    assert "raise NotImplementedError()" in text
    assert "Traceback (most recent call last)" not in text, "the page shows a traceback"
    for css in ('class="output traceback', 'class="output stderr', 'class="output error'):
        assert css not in html, f"the page shows an error or stderr output ({css})"
    for begin, _ in MARKERS.values():
        assert begin not in text
    visible = visible_text(chapter)
    for cell in nbformat.read(source_notebook(chapter), as_version=4).cells:
        for line in solution_and_hidden_lines(cell.source, visible):
            assert line not in text, f"solution or hidden test on the page: {line!r}"
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            assert cell.source.splitlines()[0] not in text, "the model answer of the written question is on the page"


def test_every_page_links_resolve(site):
    for path in site.rglob("*.html"):
        for href in Page(path).links:
            if re.match(r"^(https?:|mailto:|#)", href):
                continue
            target = (path.parent / href.split("#")[0]).resolve()
            assert target.exists(), f"{path.relative_to(site)} links to missing {href}"


def test_front_matter_pages_are_built(site):
    for page in ["intro", "setup", "using-the-course", "instructor-guide", "references"]:
        assert (site / "book" / f"{page}.html").exists()
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_a_failing_notebook_stops_the_build_naming_the_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(CourseError, match=r"cell 1 raised ZeroDivisionError"):
        execute(path)


def test_instructor_edition_shows_solutions_folded_and_student_pages_come_back(tmp_path):
    from grader.website import PAGES

    out = tmp_path / "instructor"
    steps = [
        [sys.executable, "-m", "grader", "website", "--instructor"],
        [str(Path(sys.executable).with_name("jupyter-book")), "build", ".", "--path-output", str(out), "--keep-going"],
        [sys.executable, "-m", "grader", "website"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for chapter in chapter_ids():
        html = (out / "_build" / "html" / "book" / "chapters" / f"{chapter}.html").read_text()
        assert "Instructor edition" in html and "### BEGIN SOLUTION" in html and "### BEGIN HIDDEN TESTS" in html
        assert "tag_hide-input" in html, "solutions should be folded in collapsible blocks"
        student_page = (PAGES / f"{chapter}.ipynb").read_text()
        assert "### BEGIN SOLUTION" not in student_page, "the student pages were not written back"

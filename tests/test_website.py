"""The website builds from the executed reference solutions, and its chapter pages show what readers
must see (figures, typeset maths, the exercise stubs) and nothing they must not (tracebacks,
solution code, hidden tests)."""

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from grader.authoring import MARKERS
from grader.course import ROOT, UNGRADED, CourseError, chapter_ids, graded_chapter_ids, source_notebook
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


@pytest.mark.parametrize("edition", ["", "zh"])
@pytest.mark.parametrize("chapter", chapter_ids())
def test_chapter_page_shows_figures_maths_and_stubs_only(site, chapter, edition):
    path = site / edition / "book" / "chapters" / f"{chapter}.html"
    html = path.read_text()
    page = Page(path)
    figures = [src for src in page.images if "_images/" in src]
    least = 1 if chapter in UNGRADED else 3  # the capstone has one figure, its training curve
    assert len(figures) >= least, f"expected the chapter's figures on its page, found {figures}"
    for src in figures:
        image = (path.parent / src).resolve()
        assert image.exists() and image.stat().st_size > 5000, f"figure {src} is missing or empty"
    assert 'class="math' in html, "no maths on the page"
    assert "mathjax/tex-chtml.js" in html, "the page does not load the site's own MathJax"
    assert "application/vnd.jupyter.widget" not in html, "widget state or views on the page (they load a CDN's scripts)"
    assert html.count("const THEBE_JS_URL") <= 1, "sphinx-thebe's configuration script is on the page twice"
    text = "".join(page.text)
    assert ("raise NotImplementedError()" in text) == (chapter not in UNGRADED), "the exercises' stubs, and only there"
    assert "Traceback (most recent call last)" not in text, "the page shows a traceback"
    for css in ('class="output traceback', 'class="output stderr', 'class="output error'):
        assert css not in html, f"the page shows an error or stderr output ({css})"
    for begin, _ in MARKERS.values():
        assert begin not in text
    visible = visible_text(chapter)
    shown = {line.strip() for line in visible.splitlines()}
    # a short hidden line may be part of a longer visible one (as tests/test_authoring.py's leaked_lines): it is
    # looked for in the page's other lines
    unexplained = [line for line in text.splitlines() if line.strip() not in shown]
    prose = visible.replace("`", "")  # the visible text as the page renders its code spans
    for cell in nbformat.read(source_notebook(chapter), as_version=4).cells:
        for line in solution_and_hidden_lines(cell.source, visible):
            if line in prose:  # the text shows it on purpose (the call an exercise asks for): not a leak
                continue
            assert not any(line in page_line for page_line in unexplained), (
                f"solution or hidden test on the page: {line!r}"
            )
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
        assert (site / "zh" / "book" / f"{page}.html").exists()
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert (site / "zh" / "_static" / "mathjax" / "tex-chtml.js").exists()


def _alternate(path: Path) -> Path:
    match = re.search(r'<link rel="alternate" hreflang="[^"]+" href="([^"]+)"', path.read_text())
    assert match, f"{path}: no link to the page in the other language"
    return (path.parent / match[1]).resolve()


def test_every_page_links_to_the_same_page_in_the_other_language(site):
    english = sorted(
        p
        for p in site.rglob("*.html")
        if p.relative_to(site).parts[0] not in ("zh", "_static")
        and p.name not in ("genindex.html", "search.html")
        and "refresh" not in p.read_text()[:500].lower()
    )  # not the redirect to the first page
    assert len(english) >= 14
    for path in english:
        chinese = _alternate(path)
        assert chinese == (site / "zh" / path.relative_to(site)).resolve() and chinese.exists(), path
        assert _alternate(chinese) == path.resolve()
        assert 'lang="zh-CN"' in chinese.read_text()[:400] and "btn-language-switch-button" in chinese.read_text()


def test_the_chinese_site_is_in_chinese_and_its_search_finds_chinese_words(site):
    from grader.translation import LOCALE, site_word

    index = (site / "zh" / "searchindex.js").read_text()
    terms = json.loads(index[index.index("(") + 1 : index.rindex(")")])["terms"]  # Search.setIndex({...})
    for word in ("注意力", "编码器", "解码器"):  # jieba splits the text into words for Sphinx's index
        assert word in terms, f"the Chinese search index has no {word!r}"
    intro = (site / "zh" / "book" / "intro.html").read_text()
    assert site_word("Chapters") != "Chapters" and site_word("Chapters") in intro
    assert (LOCALE / "site.po").exists()


def test_a_failing_notebook_stops_the_build_naming_the_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(CourseError, match=r"cell 1 raised ZeroDivisionError"):
        execute(path)


def test_a_notebook_whose_kernel_dies_stops_the_build_with_one_line(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("import os; os._exit(1)")]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "dies.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(CourseError, match=r"dies.ipynb: the kernel died in cell 1 "):
        execute(path, timeout=60)


def test_instructor_edition_shows_solutions_folded_and_student_pages_come_back():
    """`make book-instructor`, as README.md and book/instructor-guide.md write it, from the repository's root."""
    from grader.website import PAGES
    from tests.test_docs_commands import run_as_written

    done = run_as_written("make book-instructor")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = ROOT / "_build" / "instructor"
    for chapter in graded_chapter_ids():  # the capstone has no solutions to show
        html = (out / "_build" / "html" / "book" / "chapters" / f"{chapter}.html").read_text()
        assert "Instructor edition" in html and "### BEGIN SOLUTION" in html and "### BEGIN HIDDEN TESTS" in html
        assert "tag_hide-input" in html, "solutions should be folded in collapsible blocks"
        student_page = (PAGES / f"{chapter}.ipynb").read_text()
        assert "### BEGIN SOLUTION" not in student_page, "the student pages were not written back"


# ---- repository, download and launch buttons; folded test cells


def _student_notebook_extension():
    import importlib.util

    spec = importlib.util.spec_from_file_location("student_notebooks", ROOT / "book" / "_ext" / "student_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/owner/repo",
        "https://github.com/owner/repo.git",
        "https://github.com/owner/repo/",
        "git@github.com:owner/repo.git",
        "ssh://git@github.com/owner/repo.git",
        "https://user@github.com/owner/repo.git\n",
    ],
)
def test_a_github_remote_in_any_spelling_gives_the_https_url(remote):
    from grader.website import github_url

    assert github_url(remote) == "https://github.com/owner/repo"


@pytest.mark.parametrize("remote", ["https://gitlab.com/owner/repo", "/srv/git/tinyformer.git", "", "github.com/owner"])
def test_other_remotes_give_no_url(remote):
    from grader.website import github_url

    assert github_url(remote) is None


def _clone(tmp_path, remote=None):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    if remote:
        subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    return tmp_path


def test_the_repository_url_comes_from_the_environment_else_from_the_github_remote(tmp_path):
    from grader.website import repository_url

    clone = _clone(tmp_path / "clone", "git@github.com:someone/tinyformer.git")
    assert repository_url({}, clone) == "https://github.com/someone/tinyformer"
    given = {"COURSE_REPOSITORY_URL": "https://github.com/course/tf"}
    assert repository_url(given, clone) == "https://github.com/course/tf"
    assert repository_url({}, _clone(tmp_path / "gitlab", "https://gitlab.com/someone/tinyformer.git")) is None
    assert repository_url({}, _clone(tmp_path / "local")) is None
    with pytest.raises(CourseError, match="COURSE_REPOSITORY_URL"):
        repository_url({"COURSE_REPOSITORY_URL": "tinyformer"}, clone)


def _final_config(path):
    """What Jupyter Book makes of a configuration file: the Sphinx configuration it builds with."""
    import yaml
    from jupyter_book.config import get_final_config, validate_yaml

    validate_yaml(yaml.safe_load(path.read_text()), raise_on_errors=True)
    return get_final_config(user_yaml=path, cli_config={"latex_individualpages": False}, sourcedir=ROOT)[0]


def test_the_site_configuration_turns_the_buttons_on_when_the_repository_is_known(tmp_path):
    from grader.website import BINDERHUB, COLAB, site_config

    env = {
        "COURSE_REPOSITORY_URL": "git@github.com:course/tinyformer.git",
        "COURSE_BRANCH": "spring",
        "COURSE_JUPYTERHUB_URL": "https://hub.example.org/",
    }
    path, note = site_config(tmp_path / "deep" / "_config.site.yml", env)
    assert note is None
    sphinx = _final_config(path)
    theme = sphinx["html_theme_options"]
    assert theme["repository_url"] == "https://github.com/course/tinyformer"
    assert theme["repository_branch"] == "spring" and theme["path_to_docs"] == ""
    assert theme["use_repository_button"] is True
    assert theme["launch_buttons"]["binderhub_url"] == BINDERHUB and theme["launch_buttons"]["colab_url"] == COLAB
    assert theme["launch_buttons"]["jupyterhub_url"] == "https://hub.example.org"
    assert (
        sphinx["myst_substitutions"]["colab_install"]
        == '`%pip install "git+https://github.com/course/tinyformer@spring"`'
    )
    assert "student_notebooks" in sphinx["extensions"]
    assert sys.path[-1] == str(ROOT / "book" / "_ext"), "the local extension is not found from the file's folder"
    assert sphinx["html_title"].startswith("tinyformer") and sphinx["bibtex_bibfiles"] == ["book/references.bib"]


def test_without_a_repository_url_the_site_has_no_launch_buttons_and_says_how_to_get_them(tmp_path):
    from grader.website import site_config

    clone = _clone(tmp_path / "clone")  # a clone without a remote
    shutil.copy(ROOT / "_config.yml", clone)
    path, note = site_config(tmp_path / "_config.site.yml", {}, root=clone)
    assert "COURSE_REPOSITORY_URL" in note and "\n" not in note
    theme = _final_config(path)["html_theme_options"]
    assert not any(theme["launch_buttons"].get(key) for key in ("binderhub_url", "colab_url", "jupyterhub_url"))
    assert theme["use_repository_button"] is False and theme["repository_url"] == ""
    assert "OWNER/REPO" in _final_config(path)["myst_substitutions"]["colab_install"], "no generic Colab install"


BINDER = "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/"
COLAB = "https://colab.research.google.com/github/o/r/blob/main/"
HUB = "https://hub/hub/user-redirect/git-pull?repo=https%3A//github.com/o/r&urlpath=lab/tree/r/"


def _theme_buttons(page):
    """header_buttons as sphinx-book-theme 1.3 fills them for a notebook page (launch, then download)."""
    notebook = f"{page}.ipynb"
    return [
        {
            "type": "group",
            "label": "launch-buttons",
            "buttons": [
                {"type": "link", "text": "Binder", "url": f"{BINDER}{notebook}"},
                {"type": "link", "text": "JupyterHub", "url": f"{HUB}{notebook}&branch=main"},
                {"type": "link", "text": "Colab", "url": f"{COLAB}{notebook}"},
            ],
        },
        {
            "type": "group",
            "label": "download-buttons",
            "buttons": [
                {
                    "type": "link",
                    "label": "download-source-button",
                    "url": f"../../_sources/{notebook}",
                    "text": ".ipynb",
                },
                {"type": "javascript", "label": "download-pdf-button", "javascript": "window.print()", "text": ".pdf"},
            ],
        },
        {"type": "javascript", "label": "fullscreen-button", "javascript": "toggleFullScreen()"},
    ]


def test_launch_and_download_buttons_of_a_chapter_page_open_the_student_notebook():
    ext = _student_notebook_extension()
    assert ext.student_notebook("book/chapters/03-attention") == "chapters/03-attention/03-attention.ipynb"
    assert ext.student_notebook("book/intro") is None and ext.student_notebook("book/references") is None
    buttons = _theme_buttons("book/chapters/03-attention")
    assert (
        ext.retarget_buttons(
            buttons, "book/chapters/03-attention", "chapters/03-attention/03-attention.ipynb", "../../_sources"
        )
        == 4
    )
    launch, download = buttons[0]["buttons"], buttons[1]["buttons"]
    student = "chapters/03-attention/03-attention.ipynb"
    assert launch[0]["url"] == f"{BINDER}{student}"
    assert launch[1]["url"] == f"{HUB}{student}&branch=main"
    assert launch[2]["url"] == f"{COLAB}{student}"
    assert download[0]["url"] == "../../_sources/chapters/03-attention/03-attention.ipynb"
    assert download[1]["javascript"] == "window.print()" and buttons[2]["javascript"] == "toggleFullScreen()"


def test_tqdm_bars_become_their_last_line_of_text_and_the_widget_state_is_dropped(tmp_path):
    from grader.website import WIDGET_VIEW, widgets_as_text

    source = tmp_path / "bars.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_code_cell(
                    "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='steps'):\n    pass\nprint('done')"
                )
            ]
        ),
        source,
    )
    nb = execute(source, timeout=120)
    outputs = nb.cells[0].outputs
    assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs) and "widgets" in nb.metadata, (
        "tqdm wrote no widget here: nothing to check"
    )
    page = widgets_as_text(nb)
    assert "widgets" not in page.metadata and "widget" not in nbformat.writes(page)
    texts = [o.data["text/plain"] for o in page.cells[0].outputs if o.output_type == "display_data"]
    assert len(texts) == 1 and texts[0].startswith("steps: 100%|██████████| 3/3 ["), texts
    assert page.cells[0].outputs[-1].text == "done\n"


def test_a_script_given_twice_is_kept_once_and_outside_assets_are_named():
    import importlib.util

    from sphinx.builders.html._assets import _JavaScript

    spec = importlib.util.spec_from_file_location("offline_site", ROOT / "book" / "_ext" / "offline_site.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    body = "const THEBE_JS_URL = 'x'"
    scripts = [
        _JavaScript("_static/a.js"),
        _JavaScript(None, body=body),
        _JavaScript("", body=body),
        _JavaScript("_static/b.js", priority=800),
        _JavaScript("https://cdn.example.org/w.js"),
    ]
    kept = ext.unique_assets(scripts)
    assert [s.filename for s in kept] == ["_static/a.js", None, "_static/b.js", "https://cdn.example.org/w.js"]
    assert ext.outside_urls(kept) == ["https://cdn.example.org/w.js"]


def test_test_cells_are_folded_on_the_pages_and_nothing_else_is():
    from grader.website import fold_tests

    nb = fold_tests(nbformat.read(source_notebook("03-attention"), as_version=4))
    tests = 0
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        is_test = cell.cell_type == "code" and grading.get("grade") and not grading.get("solution")
        tests += bool(is_test)
        assert ("hide-input" in cell.metadata.get("tags", [])) == bool(is_test), cell.source[:80]
        if is_test:
            assert cell.metadata["mystnb"]["code_prompt_show"] == "Show the tests"
    assert tests >= 3


def test_the_guide_shows_the_colab_install_of_this_repository(site):
    from tests.conftest import SITE_REPOSITORY

    text = "".join(Page(site / "book" / "using-the-course.html").text)
    assert f'%pip install "git+{SITE_REPOSITORY}@main"' in text, "the Colab install names no repository"
    assert "{{" not in text


@pytest.mark.parametrize("chapter", chapter_ids())
def test_chapter_page_buttons_open_the_student_notebook_and_its_tests_are_folded(site, chapter):
    from tests.conftest import SITE_REPOSITORY

    path = site / "book" / "chapters" / f"{chapter}.html"
    links = Page(path).links
    student = f"chapters/{chapter}/{chapter}.ipynb"
    owner_repo = SITE_REPOSITORY.removeprefix("https://github.com/")
    assert f"https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/{student}" in links
    assert f"https://colab.research.google.com/github/{owner_repo}/blob/main/{student}" in links
    assert SITE_REPOSITORY in links, "no repository button"
    assert not [href for href in links if f"book/chapters/{chapter}.ipynb" in href], "a button opens the generated page"
    downloads = [href for href in links if href.endswith(".ipynb") and not href.startswith("https:")]
    assert downloads == [f"../../_sources/{student}"], downloads
    assert (path.parent / downloads[0]).resolve().read_bytes() == (ROOT / student).read_bytes()
    html = path.read_text()
    tests = sum(
        1
        for cell in nbformat.read(ROOT / student, as_version=4).cells
        if cell.cell_type == "code"
        and cell.metadata.get("nbgrader", {}).get("grade")
        and not cell.metadata["nbgrader"].get("solution")
    )
    assert html.count('class="cell tag_hide-input') == html.count(">Show the tests<") == tests, (
        "the test cells are not folded"
    )
    assert tests > 0 or chapter in UNGRADED

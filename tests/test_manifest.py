"""grader/chapters.toml, the chapter list, is the one source of the chapters: it names exactly the folders of
solutions/, each entry's modules, tests and pieces are the files and definitions they name, and README.md's
chapters table and _toc.yml's chapter pages are written from it (`python -m grader chapters`)."""

import ast
import functools
import re
import shutil

import nbformat
import pytest
import yaml

import grader.course
from grader import manifest
from grader.course import (
    MANIFEST,
    ROOT,
    SOLUTIONS,
    UNGRADED,
    CourseError,
    chapter_ids,
    chapter_manifest,
    graded_chapter_ids,
    source_notebook,
)
from tests.test_reference_sync import tinyformer_definitions

CHAPTERS = chapter_manifest()
RUN = "run `python -m grader chapters`"
reference_definitions = functools.cache(tinyformer_definitions)  # name -> (module, source): imports all of tinyformer


def by_slug(chapter):
    return chapter.slug


def test_the_manifest_lists_exactly_the_chapter_folders_in_order():
    folders = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert chapter_ids() == [chapter.slug for chapter in CHAPTERS] == folders
    assert graded_chapter_ids() == [chapter.slug for chapter in CHAPTERS if chapter.graded]
    assert UNGRADED == tuple(chapter.slug for chapter in CHAPTERS if not chapter.graded)


def test_a_folder_without_an_entry_or_an_entry_without_a_folder_is_refused(tmp_path, monkeypatch):
    for chapter in CHAPTERS:
        (tmp_path / chapter.slug).mkdir()
    monkeypatch.setattr(grader.course, "SOLUTIONS", tmp_path)
    assert chapter_ids() == [chapter.slug for chapter in CHAPTERS]
    (tmp_path / "10-extra").mkdir()
    with pytest.raises(CourseError, match=r"solutions/10-extra/ has no \[\[chapter\]\] entry in grader/chapters.toml"):
        chapter_ids()
    (tmp_path / "10-extra").rmdir()
    (tmp_path / "05-positions").rmdir()
    with pytest.raises(CourseError, match=r"lists 05-positions, which has no folder solutions/05-positions/"):
        graded_chapter_ids()


def manifest_text() -> str:
    return MANIFEST.read_text()


@pytest.mark.parametrize(
    "old, new, message",
    [
        pytest.param(
            'title = "Why RNNs fall short"\n', "", r"chapter 1 \(01-rnn-limits\): title must be", id="no-title"
        ),
        pytest.param(
            'tests.grading = "test_grading_02_word2vec"\n',
            "",
            r"chapter 2 \(02-word2vec\): a graded chapter needs tests.grading",
            id="graded-without-round-trip",
        ),
        pytest.param(
            "graded = false",
            'graded = false\ntests.grading = "test_grading_09_capstone"',
            r"\(09-capstone\): tests.grading is for graded chapters only",
            id="ungraded-with-round-trip",
        ),
        pytest.param(
            'modules = ["rnn"]',
            'modules = ["rnn.py"]',
            r"\(01-rnn-limits\): modules must be a list",
            id="module-file-name",
        ),
        pytest.param(
            'slug = "03-attention"', 'slug = "03_attention"', r"slug '03_attention' is not NN-slug", id="slug"
        ),
        pytest.param(
            'slug = "03-attention"', 'slug = "01-attention"', r"01-attention comes after 02-word2vec", id="order"
        ),
        pytest.param(
            'graded = true\ntests.units = ["test_rnn"]',
            'graded = "yes"\ntests.units = ["test_rnn"]',
            r"graded must be true or false",
            id="graded-not-a-flag",
        ),
        pytest.param(
            'pieces.names = ["rnn_forward"',
            'pieces.name = ["rnn_forward"',
            r"unknown field pieces.name",
            id="unknown-field",
        ),
        pytest.param(
            '[[chapter]]\nslug = "01-rnn-limits"', '[[chapter]\nslug = "01-rnn-limits"', r"not valid TOML", id="toml"
        ),
    ],
)
def test_a_malformed_manifest_is_refused_naming_the_chapter_and_the_field(tmp_path, old, new, message):
    assert old in manifest_text(), "the manifest changed: update this test's edit"
    broken = tmp_path / "chapters.toml"
    broken.write_text(manifest_text().replace(old, new, 1))
    with pytest.raises(CourseError, match=message):
        chapter_manifest(broken)


def test_readmes_chapters_table_is_written_from_the_manifest():
    text = (ROOT / "README.md").read_text()
    assert text == manifest.with_readme_table(text, CHAPTERS), (
        f"README.md's chapters table differs from grader/chapters.toml: {RUN}"
    )


def test_the_toc_lists_the_manifests_chapter_pages_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(part for part in toc["parts"] if part.get("caption") == "Chapters")
    assert [page["file"] for page in part["chapters"]] == [f"book/chapters/{c.slug}" for c in CHAPTERS], (
        f"_toc.yml's Chapters part differs from grader/chapters.toml: {RUN}"
    )
    text = (ROOT / "_toc.yml").read_text()
    assert manifest.with_toc_chapters(text, CHAPTERS) == text  # what the command writes: the same, comments and all


def copy_course(tmp_path):
    for name in ("README.md", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_word_changed_in_the_table_or_a_page_left_out_is_seen_and_written_back(tmp_path):
    course = copy_course(tmp_path)
    assert manifest.stale(course) == []
    readme, toc = (course / "README.md").read_text(), (course / "_toc.yml").read_text()
    (course / "README.md").write_text(readme.replace("| Attention |", "| Attention mechanisms |"))
    (course / "_toc.yml").write_text(toc.replace("      - file: book/chapters/05-positions\n", ""))
    assert manifest.stale(course) == [
        f"README.md's chapters table differs from grader/chapters.toml: {RUN}",
        f'_toc.yml\'s "Chapters" part differs from grader/chapters.toml: {RUN}',
    ]
    assert manifest.write(course) == [course / "README.md", course / "_toc.yml"]
    assert (course / "README.md").read_text() == readme and (course / "_toc.yml").read_text() == toc
    (course / "README.md").write_text(readme.replace(manifest.TABLE_END, ""))
    with pytest.raises(CourseError, match="README.md needs the chapters table's two marker lines"):
        manifest.stale(course)


def test_the_command_writes_the_table_and_the_toc_from_the_manifest(tmp_path):
    """`python -m grader chapters` calls manifest.write(); a new chapter in the manifest gets its row and page."""
    course = copy_course(tmp_path)
    extra = manifest_text() + (
        '\n[[chapter]]\nslug = "10-extra"\ntitle = "An extra chapter"\nmodules = ["extra"]\n'
        'graded = true\ntests.grading = "test_grading_10_extra"\n'
        'pieces.writes = "`extra_piece`"\npieces.names = ["extra_piece"]\n'
    )
    (tmp_path / "chapters.toml").write_text(extra)
    assert manifest.write(course, tmp_path / "chapters.toml") == [course / "README.md", course / "_toc.yml"]
    assert (
        "| 10 | An extra chapter | `extra` | `extra_piece` |\n\n<!-- end of chapters table -->"
        in (course / "README.md").read_text()
    )
    assert yaml.safe_load((course / "_toc.yml").read_text())["parts"][1]["chapters"][-1] == {
        "file": "book/chapters/10-extra"
    }


def test_every_module_and_test_module_the_manifest_names_exists():
    for chapter in CHAPTERS:
        for module in chapter.modules:
            assert (ROOT / "tinyformer" / f"{module}.py").is_file(), f"{chapter.slug}: no tinyformer/{module}.py"
        tests = [*chapter.unit_tests, *([chapter.grading_test] if chapter.grading_test else [])]
        assert tests, f"{chapter.slug} names no test module"
        for test in tests:
            assert (ROOT / "tests" / f"{test}.py").is_file(), f"{chapter.slug}: no tests/{test}.py"


def test_every_grading_round_trip_in_tests_is_a_chapters():
    round_trips = {p.stem for p in (ROOT / "tests").glob("test_grading_[0-9][0-9]_*.py")}
    assert round_trips == {chapter.grading_test for chapter in CHAPTERS if chapter.graded}


def solution_definitions(chapter: str) -> list[str]:
    """The functions and classes the solution cells of a chapter's source define, in order."""
    names = []
    for cell in nbformat.read(source_notebook(chapter), as_version=4).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            names += [
                node.name for node in ast.parse(cell.source).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
            ]
    return names


@pytest.mark.parametrize("chapter", CHAPTERS, ids=by_slug)
def test_the_pieces_are_what_the_solution_cells_define(chapter):
    assert list(chapter.pieces) == solution_definitions(chapter.slug), (
        f"grader/chapters.toml's pieces.names for {chapter.slug} are not what its solution cells define"
    )
    if chapter.graded:  # every name README's table shows in code is one the learner writes
        shown = re.findall(r"`([A-Za-z_]\w*)`", chapter.writes)
        assert set(shown) <= set(chapter.pieces), f"{chapter.slug}: pieces.writes shows {shown}, not all written"


def set_up_imports(chapter: str) -> set[str]:
    """The tinyformer modules the chapter's set-up cell (its first code cell) imports."""
    cell = next(c for c in nbformat.read(source_notebook(chapter), as_version=4).cells if c.cell_type == "code")
    found = set()
    for node in ast.walk(ast.parse(cell.source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinyformer."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("tinyformer.")}
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=by_slug)
def test_a_chapters_modules_are_its_pieces_reference_or_what_its_set_up_cell_imports(chapter):
    """Chapter N's pieces' references are in its modules (so its files are found from its entry); a module that
    holds none of them is one its set-up cell imports (02's corpus, the capstone's). A set-up cell imports the
    earlier chapters' modules, not its own: the learner writes those pieces."""
    reference = reference_definitions()
    where = {name: reference[name][0].removeprefix("tinyformer.") for name in chapter.pieces if name in reference}
    outside = {name: module for name, module in where.items() if module not in chapter.modules}
    assert not outside, f"{chapter.slug}'s pieces are defined in modules its entry does not name: {outside}"
    if chapter.graded:
        assert where, f"{chapter.slug}: tinyformer defines none of its pieces"
    idle = set(chapter.modules) - set(where.values()) - set_up_imports(chapter.slug)
    assert not idle, f"{chapter.slug}: modules {sorted(idle)} hold none of its pieces and its set-up cell imports none"


def test_the_front_pages_list_the_chapters_in_order():
    """book/intro.md's "What you will build" links every chapter's page; book/setup.md times every chapter."""
    intro = (ROOT / "book" / "intro.md").read_text()
    assert re.findall(r"^\| \[\d\d [^]]*\]\(chapters/([^)]+)\)", intro, re.M) == [c.slug for c in CHAPTERS], (
        "book/intro.md's table of chapters differs from grader/chapters.toml (edit it, and its translation in "
        "locale/zh_CN/LC_MESSAGES/intro.po)"
    )
    setup = (ROOT / "book" / "setup.md").read_text()
    timed = setup.split("| chapter | seconds |", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^\| (\d\d) ", timed, re.M) == [c.number for c in CHAPTERS], (
        "book/setup.md's table of run times differs from grader/chapters.toml's chapters"
    )

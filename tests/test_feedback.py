"""The feedback page's MyST rendering (grader/feedback.py): admonitions, citations, cross-references and code
as a reader expects them; no raw MyST left from any chapter. The page in the browser: tests/test_browser.py."""

import re

import nbformat
import pytest

from grader.course import ROOT, graded_chapter_ids
from grader.feedback import bibliography, myst_as_markdown, offline_page, references_markdown

ENTRIES = bibliography()
RAW_MYST = re.compile(r"^\s*(`{3,}|:{3,})\{[\w:.-]+\}|\{[A-Za-z][\w:.+-]*\}`", re.MULTILINE)


def test_an_admonition_becomes_a_box_with_its_title_and_class():
    source = (
        "Before.\n\n```{admonition} What you will *build*\n:class: tip\n\n- `split_heads`: $h$ heads\n```\n\nAfter."
    )
    out = myst_as_markdown(source, ENTRIES)
    assert '<div class="admonition admonition tip">' in out
    assert '<div class="admonition-title"><p>What you will <em>build</em></p></div>' in out
    assert "- `split_heads`: $h$ heads" in out and ":class:" not in out and "{admonition}" not in out
    assert out.startswith("Before.") and out.endswith("After.")


def test_nested_and_colon_fenced_directives_are_rendered_inside_out():
    source = "::::{note}\nOuter text.\n\n```{warning}\nInner text.\n```\n::::"
    out = myst_as_markdown(source, ENTRIES)
    assert out.count('<div class="admonition ') == 2 and out.count("</div>") == 4  # each box and its title
    assert (
        '<div class="admonition-title"><p>Note</p></div>' in out
        and '<div class="admonition-title"><p>Warning</p></div>' in out
    )
    assert out.index("Outer text.") < out.index("Inner text.") and "{note}" not in out and "{warning}" not in out


def test_citations_read_as_on_the_website_and_are_listed_in_full():
    cited = []
    out = myst_as_markdown(
        "As {cite:t}`vaswani2017attention` show, and others {cite:p}`devlin2019bert,unknown2099`.", ENTRIES, cited
    )
    text = re.sub(r"<[^>]+>", "", out)
    assert text == "As Vaswani et al. [2017] show, and others [Devlin et al., 2019; unknown2099]."
    assert 'title="Ashish Vaswani, Noam Shazeer' in out  # the full reference on hover
    assert cited == ["vaswani2017attention", "devlin2019bert", "unknown2099"]
    listed = references_markdown(cited, ENTRIES)
    assert listed.startswith("## References") and "Attention is all you need" in listed and "unknown2099" not in listed


def test_code_is_left_as_written_and_targets_and_comments_are_removed():
    source = (
        "(sec-masks)=\n% a comment for authors\nSee {ref}`the masks <sec-masks>`, {numref}`fig-1`, {math}`a^2`.\n\n"
        "Write `{cite:p}` in MyST.\n\n```python\nprint('{cite:p}`x`')\n```\n\n$$\nx = 1\n$$ (eq-one)"
    )
    out = myst_as_markdown(source, ENTRIES)
    assert out.splitlines()[0] == "See the masks, fig-1, $a^2$."
    assert "Write `{cite:p}` in MyST." in out and "```python\nprint('{cite:p}`x`')\n```" in out
    assert "(sec-masks)=" not in out and "a comment for authors" not in out
    assert out.endswith("$$\nx = 1\n$$")


@pytest.mark.parametrize("edition", [".ipynb", ".zh.ipynb"])
@pytest.mark.parametrize("chapter", graded_chapter_ids())
def test_no_raw_myst_is_left_in_a_chapter(chapter, edition):
    nb = nbformat.read(ROOT / "chapters" / chapter / f"{chapter}{edition}", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            out = myst_as_markdown(cell.source, ENTRIES)
            left = [m[0] for m in RAW_MYST.finditer(out)]
            assert not left, f"{chapter}: MyST left in {cell.source[:80]!r}: {left}"


def test_without_node_the_page_keeps_its_tex_says_why_and_still_loads_nothing(monkeypatch):
    import grader.feedback

    monkeypatch.setattr(grader.feedback.shutil, "which", lambda name: None)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Scores are $q \\cdot k / \\sqrt{d_k}$.")])
    page = offline_page(nb)
    assert "shown as TeX" in page and "Node.js is not installed" in page
    assert "$q \\cdot k / \\sqrt{d_k}$" in page
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"https?:", page), "the page loads something"


def test_the_maths_is_typeset_as_if_mathjax_read_the_whole_page():
    """typeset_maths hands MathJax the page without the elements MathJax skips (code, outputs, CSS): what comes back
    must be what MathJax makes of the whole page, byte for byte, code with dollars in it left as written."""
    import shutil
    import subprocess

    from grader.feedback import TYPESET_SCRIPT, notebook_page, typeset_maths
    from grader.website import STATIC, vendor_mathjax

    vendor_mathjax()  # the course's MathJax, as `make book` fetches it (grading itself never downloads)
    nb = nbformat.read(ROOT / "chapters" / "03-attention" / "03-attention.ipynb", as_version=4)
    code = nbformat.v4.new_code_cell("price = '$5 and $6'  # not maths")
    code.outputs = [nbformat.v4.new_output("stream", text="<pre>$x$</pre> costs $5, then $6\n")]
    learner = "My answer: $\\sqrt{d_k}$ <!--0123456789abcdef:0--> <pre>$y$</pre> <style>p {}</style> $z$."
    nb.cells += [code, nbformat.v4.new_markdown_cell(learner)]
    page = notebook_page(nb)
    whole = subprocess.run(
        [shutil.which("node") or "nodejs", str(TYPESET_SCRIPT), str(STATIC / "mathjax")],
        input=page,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert whole.count("<mjx-container") > 100
    assert typeset_maths(page) == whole

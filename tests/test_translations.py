"""The Chinese edition: in sync with the English text, the same notebooks but for their prose, graded the same.

The sync test (python -m grader translations) fails when an English cell, block or message changes without its
translation, naming the chapter, the cell and the English diff (grader/translation.py, locale/README.md).
"""

import json
import re

import nbformat
import pytest
from submissions import completed, save

from grader import translation
from grader.course import CHAPTERS, SOLUTIONS, chapter_ids
from tinyformer import i18n

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_chinese_edition_translates_the_english_text_as_it_is_now():
    problems = translation.check_all()
    assert not problems, (
        f"{len(problems)} problems; translate them, after `python -m grader translations --update` "
        "(locale/README.md):\n" + "\n".join(problems[:40])
    )


def _chapter_source(tmp_path, text: str, translated: str, english_now: str) -> translation.Source:
    import polib

    po = polib.POFile(wrapwidth=100)
    po.metadata = dict(translation.HEADER)
    po.append(polib.POEntry(msgctxt="ab12cd34", msgid=text, msgstr=translated))
    path = tmp_path / "99-test.po"
    po.save(str(path))
    return translation.Source(
        "chapter 99-test", path, [translation.Expected(english_now, "ab12cd34")], keyed_by_cell=True
    )


def test_an_english_edit_without_its_translation_fails_naming_the_chapter_the_cell_and_the_diff(tmp_path):
    source = _chapter_source(
        tmp_path, "## Queries\n\nA query asks.", "## 查询\n\n查询提出问题。", "## Queries\n\nA query asks a question."
    )
    problems = translation.problems(source)
    assert len(problems) == 1
    assert "chapter 99-test, cell ab12cd34: the English changed" in problems[0]
    assert "-A query asks." in problems[0] and "+A query asks a question." in problems[0]
    # --update keeps the old translation, marked fuzzy with the English it translated: still a failure, same diff
    translation.update(source)
    entry = translation.load(source.path)[0]
    assert "fuzzy" in entry.flags and entry.previous_msgid == "## Queries\n\nA query asks." and entry.msgstr
    assert "+A query asks a question." in translation.problems(source)[0]
    entry.flags.remove("fuzzy")  # the translator updates it
    entry.msgstr = "## 查询\n\n查询提出一个问题。"
    po = translation.load(source.path)
    po[0] = entry
    po.save(str(source.path))
    assert translation.problems(source) == []


def test_missing_empty_orphan_and_mangled_translations_are_named(tmp_path):
    source = _chapter_source(
        tmp_path,
        "Run\n\n```bash\nmake test\n```\n",
        "运行\n\n```bash\nmake tests\n```\n",
        "Run\n\n```bash\nmake test\n```\n",
    )
    source.expected.append(translation.Expected("A new cell.", "ffff0000"))
    problems = "\n".join(translation.problems(source))
    assert "cell ffff0000: no translation" in problems
    assert "the code block '```bash'... must be kept" in problems
    source.expected = [translation.Expected("A new cell.", "ffff0000")]
    assert "cell ab12cd34: an entry for English text that no longer exists" in "\n".join(translation.problems(source))


def test_every_markdown_cell_the_learner_reads_is_in_a_catalogue():
    for chapter in chapter_ids():
        nb = json.loads((SOLUTIONS / chapter / f"{chapter}.ipynb").read_text())
        prose = [c for c in nb["cells"] if c["cell_type"] == "markdown" and "".join(c["source"]).strip()]
        answers = [c for c in prose if not translation.translatable(c)]
        assert len(translation.cell_entries(nb)) == len(prose) - len(answers)
        assert all(c["metadata"]["nbgrader"].get("solution") for c in answers), "only answer cells stay English"


@pytest.mark.parametrize("chapter", chapter_ids())
def test_the_chinese_student_edition_is_the_english_one_with_its_prose_translated(chapter):
    english = json.loads((CHAPTERS / chapter / f"{chapter}.ipynb").read_text())
    chinese = json.loads((CHAPTERS / chapter / f"{chapter}.zh.ipynb").read_text())
    assert [c["id"] for c in chinese["cells"]] == [c["id"] for c in english["cells"]]
    translated = 0
    for en, zh in zip(english["cells"], chinese["cells"], strict=True):
        if translation.translatable(en):
            assert {k: v for k, v in zh.items() if k != "source"} == {k: v for k, v in en.items() if k != "source"}
            translated += zh["source"] != en["source"]
        else:  # code cells, nbgrader metadata, grade_ids, answer cells: byte for byte
            assert json.dumps(zh, sort_keys=True) == json.dumps(en, sort_keys=True), f"{chapter}, cell {en['id']}"
    assert translated == len(translation.cell_entries(english)), f"{chapter}: untranslated cells in the Chinese edition"
    assert chinese["metadata"]["tinyformer_course"]["language"] == "zh_CN"
    assert {k: v for k, v in chinese["metadata"].items() if k != "tinyformer_course"} == {
        k: v for k, v in english["metadata"].items() if k != "tinyformer_course"
    }


def test_the_chinese_readme_is_generated_from_the_english_one():
    text = translation.README_ZH.read_text()
    assert text.startswith(translation.README_NOTE) and CJK.search(text)
    for command in (
        "make book",
        "make test",
        "jupyter lab chapters/",
        "python -m grader check chapters/01-rnn-limits/01-rnn-limits.ipynb",
    ):
        assert command in text


# Messages: translated as they are shown, the values filled in


def test_a_message_with_values_is_translated_with_its_values():
    catalogue = i18n.Catalogue(
        {"rnn_forward works.": "rnn_forward 正确。"},
        [
            (
                "hs should have shape (2, 5, 4), got {getattr(_hs, 'shape', type(_hs))}.",
                "hs 的形状应为 (2, 5, 4)，而你的是 {getattr(_hs, 'shape', type(_hs))}。",
            ),
            ("{name} has shape {actual}, expected {expected}.", "{name} 的形状是 {actual}，应为 {expected}。"),
            ("a literal {{brace}} and {x:.3f}", "字面 {{brace}} 与 {x:.3f}"),
        ],
    )
    assert catalogue.translate("rnn_forward works.") == "rnn_forward 正确。"
    assert (
        catalogue.translate("hs should have shape (2, 5, 4), got torch.Size([2, 6, 4]).")
        == "hs 的形状应为 (2, 5, 4)，而你的是 torch.Size([2, 6, 4])。"
    )
    assert catalogue.translate("out has shape (1, 2), expected (2, 1).") == "out 的形状是 (1, 2)，应为 (2, 1)。"
    assert catalogue.translate("a literal {brace} and 0.125") == "字面 {brace} 与 0.125"
    assert catalogue.translate("something else") == "something else"
    assert catalogue.gettext("{name} has shape {actual}, expected {expected}.").startswith("{name} 的形状是")


def test_placeholders_are_read_like_fstring_fields():
    assert i18n.fields("got {getattr(x, 'shape', type(x))} and {y:.2f}, {{not}} {d['k']}") == [
        "getattr(x, 'shape', type(x))",
        "y:.2f",
        "d['k']",
    ]


def test_the_notebooks_language(monkeypatch):
    monkeypatch.delenv("TINYFORMER_LANGUAGE", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/chapters/03-attention/03-attention.zh.ipynb")
    assert i18n.notebook_language() == "zh_CN"
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/chapters/03-attention/03-attention.ipynb")
    assert i18n.notebook_language() == "en"
    monkeypatch.setenv("TINYFORMER_LANGUAGE", "zh-CN")
    assert i18n.notebook_language() == "zh_CN"


def test_the_checking_helpers_speak_the_notebooks_language(monkeypatch):
    import torch

    from tinyformer.testing import CheckFailure, check_tensor

    monkeypatch.setenv("TINYFORMER_LANGUAGE", "zh_CN")
    with pytest.raises(CheckFailure) as failure:
        check_tensor(torch.zeros(2, 3), torch.zeros(3, 2), "the weights")
    assert CJK.search(str(failure.value)) and "(2, 3)" in str(failure.value) and "(3, 2)" in str(failure.value)
    monkeypatch.setenv("TINYFORMER_LANGUAGE", "en")
    with pytest.raises(CheckFailure, match=r"the weights has shape \(2, 3\), expected \(3, 2\)\."):
        check_tensor(torch.zeros(2, 3), torch.zeros(3, 2), "the weights")


# Graded the same


def test_a_chinese_notebook_is_graded_as_the_english_one_with_its_messages_in_chinese(tmp_path, capsys):
    from grader.autograde import autograde, self_check

    chapter = "03-attention"
    wrong = {
        "nadaraya_watson": "def nadaraya_watson(x_query, x_train, y_train, h):\n"
        "    scores = -((x_query[:, None] - x_train[None, :]) ** 2) / (2 * h)\n"
        "    weights = torch.softmax(scores, dim=-1)\n"
        "    return weights @ y_train, weights\n"
    }
    english = completed(chapter, wrong)
    chinese = translation.translate_notebook(english, chapter)
    paths = {
        "en": save(english, tmp_path / "en" / f"{chapter}.ipynb"),
        "zh": save(chinese, tmp_path / "zh" / f"{chapter}.zh.ipynb"),
    }
    results = autograde(chapter, paths)
    scores = {who: [(c.grade_id, c.score) for c in result.cells] for who, result in results.items()}
    assert scores["en"] == scores["zh"]
    assert results["en"].score < results["en"].max_score
    failing = {
        who: next(c.message for c in result.cells if c.grade_id == "test_nadaraya_watson")
        for who, result in results.items()
    }
    assert "2 h^2" in failing["en"] and not CJK.search(failing["en"])
    assert CJK.search(failing["zh"]) and "2 h^2" in failing["zh"], failing["zh"]
    assert self_check(str(paths["zh"])) == 1
    out = capsys.readouterr().out
    assert CJK.search(out.splitlines()[0]) and CJK.search(out.splitlines()[-1]), out


def test_of_an_english_and_a_chinese_hand_in_the_answered_one_is_graded(tmp_path):
    from grader.intake import collect

    chapter = "01-rnn-limits"
    untouched = nbformat.read(CHAPTERS / chapter / f"{chapter}.ipynb", as_version=4)
    save(untouched, tmp_path / "submitted" / "ada" / chapter / f"{chapter}.ipynb")
    save(
        translation.translate_notebook(completed(chapter), chapter),
        tmp_path / "submitted" / "ada" / chapter / f"{chapter}.zh.ipynb",
    )
    found = collect(tmp_path / "submitted", tmp_path / "scratch")
    graded = [s for s in found if s.problem is None]
    assert [s.path.name for s in graded] == [f"{chapter}.zh.ipynb"]


def test_a_message_with_a_helpers_hint_added_is_found_and_translated_with_the_hint():
    source = 'raise AssertionError(f"got {tuple(x.shape)}." + _hint(x))\nvalue = total + count'
    assert translation.test_cell_messages(source) == [("got {tuple(x.shape)}.{_hint(x)}", True)]
    catalogue = i18n.Catalogue(
        {" Did you sum?": " 你求和了吗？"}, [("got {tuple(x.shape)}.{_hint(x)}", "得到 {tuple(x.shape)}。{_hint(x)}")]
    )
    assert catalogue.translate("got (2, 3). Did you sum?") == "得到 (2, 3)。 你求和了吗？"


def test_a_chapters_catalogues_are_checked_and_updated_alone(tmp_path, monkeypatch):
    stale = _chapter_source(
        tmp_path, "## Queries\n\nA query asks.", "## 查询\n\n查询提出问题。", "## Queries\n\nA query asks a question."
    )
    monkeypatch.setattr(translation, "sources", lambda: [stale])
    assert translation.check_all(["01-rnn-limits"]) == []  # another chapter's stale entry is not this one's
    assert translation.update_all(["01-rnn-limits"]) == [] and translation.problems(stale)[0].endswith("question.")
    stale.name = "chapter 01-rnn-limits"
    assert len(translation.check_all(["01-rnn-limits"])) == 1
    monkeypatch.setattr(translation, "ROOT", tmp_path)  # the report names catalogues relative to the course
    assert translation.update_all(["01-rnn-limits"]) == [
        f"{stale.path.relative_to(tmp_path)}: 1 entries, 1 changed (fuzzy)"
    ]
    assert "fuzzy" in translation.load(stale.path)[0].flags

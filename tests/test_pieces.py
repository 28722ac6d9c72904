"""tinyformer.pieces: the learner's own answers of chapters 03-08 build the GPT; a wrong one falls back, with the
test's message. tinyformer.text: the shipped corpus, split as nanoGPT splits it."""

import shutil

import nbformat
import pytest
import torch

from grader.course import CHAPTERS, SOLUTIONS
from tinyformer import encoder, gpt
from tinyformer.pieces import CHAPTERS as PIECE_CHAPTERS
from tinyformer.pieces import learner_pieces
from tinyformer.text import batch, char_text, tiny_shakespeare

CONFIG = gpt.GPTConfig(vocab_size=65, max_len=32, d_model=32, n_heads=4, n_layers=2, d_ff=64)


def _same_as_the_reference(model: torch.nn.Module) -> None:
    """The model computes what tinyformer's GPT computes with the same weights."""
    reference = gpt.GPT(CONFIG)
    reference.load_state_dict(model.state_dict())
    tokens = torch.randint(65, (2, 20), generator=torch.Generator().manual_seed(0))
    model.eval(), reference.eval()
    torch.testing.assert_close(model(tokens), reference(tokens))


def _solutions(tmp_path, edit=None):
    """The reference solutions as a learner's chapters folder, one answer edited by ``edit(grade_id, source)``."""
    for chapter in PIECE_CHAPTERS:
        nb = nbformat.read(SOLUTIONS / chapter / f"{chapter}.ipynb", as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if edit is not None and cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = edit(grade_id, cell.source)
        (tmp_path / chapter).mkdir()
        nbformat.write(nb, tmp_path / chapter / f"{chapter}.ipynb")
    return tmp_path


def test_the_reference_answers_build_a_gpt_of_the_learners_own_classes(tmp_path):
    pieces = learner_pieces(_solutions(tmp_path))
    assert pieces.fallbacks() == [], pieces.report()
    model = pieces.gpt(CONFIG)
    learners = {type(module).__name__ for module in model.modules() if type(module).__module__.startswith("learner_")}
    assert {
        "GPT",
        "EncoderLayer",
        "MultiHeadAttention",
        "LayerNorm",
        "FeedForward",
        "LearnedPositionalEmbedding",
    } <= learners
    assert not any(type(module).__module__.startswith("tinyformer") for module in model.modules())
    _same_as_the_reference(model)
    assert pieces.bert(
        pieces.objects["BERTConfig"](vocab_size=30, max_len=16, d_model=32, n_heads=4, n_layers=1, d_ff=64)
    )


def test_one_mistake_falls_back_to_the_reference_with_the_tests_message_and_the_rest_stays_yours(tmp_path):
    def unbiased_variance(grade_id, source):
        return source.replace("correction=0", "correction=1") if grade_id == "layer_norm" else source

    pieces = learner_pieces(_solutions(tmp_path, unbiased_variance))
    [fallback] = pieces.fallbacks()
    assert (fallback.chapter, fallback.defines) == ("06-encoder", ["LayerNorm"])
    assert "unbiased variance" in fallback.reason and "06-encoder      LayerNorm: " in pieces.report()
    model = pieces.gpt(CONFIG)
    kinds = {type(module).__name__: type(module).__module__ for module in model.modules()}
    assert kinds["LayerNorm"] == "tinyformer.encoder" and kinds["EncoderLayer"].startswith("learner_")
    assert type(model.norm) is not encoder.LayerNorm  # the reference rebuilt on the learner's pieces, not imported
    _same_as_the_reference(model)


def test_a_piece_that_raises_falls_back_naming_the_error_and_later_chapters_still_build(tmp_path):
    def broken(grade_id, source):
        return (
            source.replace("### BEGIN SOLUTION", "### BEGIN SOLUTION\n        undefined_name", 1)
            if grade_id == "multi_head_attention"
            else source
        )

    pieces = learner_pieces(_solutions(tmp_path, broken))
    [fallback] = pieces.fallbacks()
    assert fallback.defines == ["MultiHeadAttention"] and "NameError" in fallback.reason
    _same_as_the_reference(pieces.gpt(CONFIG))


def test_the_student_editions_are_not_answered_and_the_model_is_the_reference(tmp_path):
    pieces = learner_pieces(CHAPTERS)
    assert pieces.yours() == [] and {piece.reason for piece in pieces.fallbacks()} == {"not answered yet"}
    _same_as_the_reference(pieces.gpt(CONFIG))


def test_an_answered_chinese_notebook_is_read_over_an_untouched_english_one(tmp_path):
    _solutions(tmp_path)
    chapter = "06-encoder"
    english = tmp_path / chapter / f"{chapter}.ipynb"
    shutil.move(english, tmp_path / chapter / f"{chapter}.zh.ipynb")
    shutil.copy(CHAPTERS / chapter / f"{chapter}.ipynb", english)  # untouched
    pieces = learner_pieces(tmp_path)
    assert pieces.notebooks[chapter].name == f"{chapter}.zh.ipynb" and pieces.fallbacks() == []


def test_a_missing_chapter_and_a_wrong_folder_are_said_plainly(tmp_path):
    _solutions(tmp_path)
    shutil.rmtree(tmp_path / "05-positions")
    pieces = learner_pieces(tmp_path)
    [missing] = pieces.fallbacks()
    assert missing.chapter == "05-positions" and "no notebook 05-positions.ipynb" in missing.reason
    _same_as_the_reference(pieces.gpt(CONFIG))
    with pytest.raises(ValueError, match="is not a folder"):
        learner_pieces(tmp_path / "nowhere")


def test_tiny_shakespeare_is_shipped_and_split_as_nanogpt_splits_it():
    text = tiny_shakespeare()
    assert (text.vocab_size, len(text.train), len(text.val)) == (65, 1_003_854, 111_540)  # nanoGPT's prepare.py
    assert text.decode(text.encode("ROMEO:\nO, she")) == "ROMEO:\nO, she"
    with pytest.raises(ValueError, match="no character"):
        text.encode("café")
    inputs, targets = batch(text.train, 4, 16, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (4, 16) and torch.equal(inputs[:, 1:], targets[:, :-1])
    small = char_text("abcabc" * 10)
    assert small.itos == ["a", "b", "c"] and len(small.val) == 6


def test_collecting_leaves_the_callers_threads_and_random_state_alone(tmp_path):
    torch.set_num_threads(2)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    learner_pieces(_solutions(tmp_path))  # every chapter's first cell calls set_threads(1) and seed_everything(0)
    assert torch.get_num_threads() == 2 and torch.equal(torch.rand(3), expected)

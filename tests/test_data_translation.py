"""tinyformer.data's number task (chapter 07): words in, digits out, every number spelled right."""

import pytest
import torch

from tinyformer.data import NUMBER_SOURCE_VOCAB, NUMBER_TARGET_VOCAB, number_translation_batch, number_words


@pytest.mark.parametrize(
    "n, words",
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (42, "forty two"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (119, "one hundred nineteen"),
        (999, "nine hundred ninety nine"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (2042, "two thousand forty two"),
        (3010, "three thousand ten"),
        (7777, "seven thousand seven hundred seventy seven"),
    ],
)
def test_number_words(n, words):
    assert number_words(n) == words.split()


def test_every_number_has_distinct_words_within_the_vocabulary():
    spelled = [tuple(number_words(n)) for n in range(10000)]
    assert len(set(spelled)) == 10000
    assert max(map(len, spelled)) == 6 and {w for s in spelled for w in s} == set(NUMBER_SOURCE_VOCAB[3:])


def test_batch_layout_and_round_trip():
    numbers = torch.tensor([2042, 5, 9999, 310])
    src, tgt = number_translation_batch(numbers)
    assert src.shape == (4, 6) and tgt.shape == (4, 5) and src.dtype == tgt.dtype == torch.int64
    assert [NUMBER_SOURCE_VOCAB[i] for i in src[0].tolist()] == ["two", "thousand", "forty", "two", "<pad>", "<pad>"]
    assert [NUMBER_TARGET_VOCAB[i] for i in tgt[0].tolist()] == ["2", "0", "4", "2", "<eos>"]
    assert tgt[1].tolist() == [NUMBER_TARGET_VOCAB.index("5"), 2, 0, 0, 0]
    for row, n in enumerate(numbers.tolist()):
        digits = [NUMBER_TARGET_VOCAB[i] for i in tgt[row].tolist() if i > 2]
        assert int("".join(digits)) == n
        assert [NUMBER_SOURCE_VOCAB[i] for i in src[row].tolist() if i > 0] == number_words(n)


@pytest.mark.parametrize("n", [-1, 10000])
def test_out_of_range_is_refused_clearly(n):
    with pytest.raises(ValueError, match="0 <= n < 10000"):
        number_words(n)

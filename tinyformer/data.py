"""Seeded synthetic tasks shared by the chapters. Nothing is downloaded: every batch is generated.

``recall_batch`` — long-range recall (chapter 01; later chapters solve it with attention).
``number_translation_batch`` — numbers written in words -> digits, a toy translation task (chapter 07).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def recall_batch(
    batch_size: int,
    distance: int,
    n_keys: int = 8,
    n_distractors: int = 8,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """A batch of the long-range recall task: remember the first token, report it at the end.

    Each sequence is ``key, d_1, ..., d_distance``: a key drawn from ``0..n_keys-1`` followed by
    ``distance`` distractor tokens drawn from ``n_keys..n_keys+n_distractors-1``. A model reads the
    whole sequence and must output the key from its last position, ``distance`` steps after seeing
    it. Guessing scores ``1 / n_keys``.

    Args:
        batch_size:    number of sequences.
        distance:      number of distractors between the key and the end (>= 0).
        n_keys:        number of possible keys (the classes to predict).
        n_distractors: number of distractor symbols; vocabulary size is n_keys + n_distractors.
        generator:     a seeded ``torch.Generator`` for reproducible batches.

    Returns:
        tokens:  (batch, distance + 1) int64 token ids.
        targets: (batch,) int64 keys, equal to tokens[:, 0].
    """
    if batch_size < 1 or distance < 0 or n_keys < 1 or n_distractors < 1:
        raise ValueError(
            f"recall_batch needs batch_size >= 1, distance >= 0, n_keys >= 1 and n_distractors >= 1; "
            f"got batch_size={batch_size}, distance={distance}, n_keys={n_keys}, n_distractors={n_distractors}"
        )
    keys = torch.randint(0, n_keys, (batch_size, 1), generator=generator)  # (batch, 1)
    distractors = torch.randint(
        n_keys, n_keys + n_distractors, (batch_size, distance), generator=generator
    )  # (batch, distance)
    tokens = torch.cat([keys, distractors], dim=1)  # (batch, distance + 1)
    return tokens, keys.squeeze(1)


# ---------------------------------------------------------------------------------------------------
# Numbers written in words -> digits: the toy translation task of chapter 07
# ---------------------------------------------------------------------------------------------------

_NUMBER_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_NUMBER_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
#: source vocabulary of the number task: ids 0, 1, 2 are <pad>, <bos>, <eos>, then the 30 number words.
NUMBER_SOURCE_VOCAB: list[str] = ["<pad>", "<bos>", "<eos>", *_NUMBER_UNITS, *_NUMBER_TENS, "hundred", "thousand"]
#: target vocabulary: the same three specials, then the digits "0" .. "9".
NUMBER_TARGET_VOCAB: list[str] = ["<pad>", "<bos>", "<eos>", *"0123456789"]


def number_words(n: int) -> list[str]:
    """0 <= n < 10000 in English words, without "and" or hyphens: 2042 -> ["two", "thousand", "forty", "two"]."""
    if not 0 <= n < 10000:
        raise ValueError(f"number_words needs 0 <= n < 10000, got {n}")
    if n < 20:
        return [_NUMBER_UNITS[n]]
    words = []
    if n >= 1000:
        words += [_NUMBER_UNITS[n // 1000], "thousand"]
    if n % 1000 >= 100:
        words += [_NUMBER_UNITS[n % 1000 // 100], "hundred"]
    rest = n % 100
    if rest >= 20:
        words.append(_NUMBER_TENS[rest // 10 - 2])
        rest %= 10
    if rest:
        words.append(_NUMBER_UNITS[rest])
    return words


def number_translation_batch(numbers: Iterable[int] | Tensor) -> tuple[Tensor, Tensor]:
    """Translation pairs of the number task: the words of each number in, its digits out.

    Args:
        numbers: n integers in 0..9999 (a list, or a 1-D tensor).

    Returns:
        src: (n, 6) int64 ids in ``NUMBER_SOURCE_VOCAB``: the number's words (at most 6), padded with 0 (<pad>).
        tgt: (n, 5) int64 ids in ``NUMBER_TARGET_VOCAB``: its digits (no leading zero), then <eos> (id 2),
             padded with 0. 2042 -> "2 0 4 2 <eos>".
    """
    source_id = {word: i for i, word in enumerate(NUMBER_SOURCE_VOCAB)}
    target_id = {token: i for i, token in enumerate(NUMBER_TARGET_VOCAB)}
    numbers = [int(n) for n in numbers]
    src = torch.zeros(len(numbers), 6, dtype=torch.int64)
    tgt = torch.zeros(len(numbers), 5, dtype=torch.int64)
    for row, n in enumerate(numbers):
        words = [source_id[w] for w in number_words(n)]
        digits = [target_id[d] for d in str(n)] + [target_id["<eos>"]]
        src[row, : len(words)] = torch.tensor(words)
        tgt[row, : len(digits)] = torch.tensor(digits)
    return src, tgt

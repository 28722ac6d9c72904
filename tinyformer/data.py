"""Seeded synthetic tasks shared by the chapters. Nothing is downloaded: every batch is generated.

``recall_batch`` — long-range recall (chapter 01; later chapters solve it with attention).
"""

from __future__ import annotations

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

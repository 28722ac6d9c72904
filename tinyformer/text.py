"""Real text for the capstone: tiny Shakespeare, character by character, as nanoGPT's ``shakespeare_char``.

The corpus ships inside the package (``tinyformer/texts/``): nothing is downloaded. The split is nanoGPT's, the
first 90 % of the characters for training and the last 10 % for validation, so that validation losses can be
compared with nanoGPT's on the same text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

TEXTS = Path(__file__).resolve().parent / "texts"
SHAKESPEARE = TEXTS / "tiny_shakespeare.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


@dataclass
class CharText:
    """A text as character ids: ``train`` and ``val`` (1-D int64 tensors), and the vocabulary both ways."""

    train: Tensor
    val: Tensor
    itos: list[str]  # id -> character
    stoi: dict[str, int]  # character -> id

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> Tensor:
        """str -> ids (len(text),); a character the corpus never uses is refused with its name."""
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"the corpus has no character {''.join(unknown)!r}: use only {''.join(self.itos)!r}")
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids: Tensor | list[int]) -> str:
        """ids -> str."""
        return "".join(self.itos[i] for i in (ids.tolist() if isinstance(ids, Tensor) else ids))


def char_text(text: str, val_fraction: float = 0.1) -> CharText:
    """Any text as a CharText: the sorted set of its characters is the vocabulary (nanoGPT's prepare.py)."""
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n_train = int(len(ids) * (1 - val_fraction))
    return CharText(ids[:n_train], ids[n_train:], itos, stoi)


def tiny_shakespeare() -> CharText:
    """The shipped corpus, checked against its published SHA-256, split 90 % / 10 %."""
    data = SHAKESPEARE.read_bytes()
    if hashlib.sha256(data).hexdigest() != SHAKESPEARE_SHA256:
        raise ValueError(
            f"{SHAKESPEARE} is not the tiny Shakespeare corpus the course ships (its SHA-256 differs): restore it with git checkout"
        )
    return char_text(data.decode("utf-8"))


def batch(
    ids: Tensor, batch_size: int, context: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Random windows of ``ids``: inputs (batch, context) and the next characters as targets (batch, context)."""
    starts = torch.randint(len(ids) - context, (batch_size,), generator=generator)  # (batch,)
    offsets = torch.arange(context + 1)  # (context + 1,)
    windows = ids[starts[:, None] + offsets]  # (batch, context + 1)
    return windows[:, :-1], windows[:, 1:]

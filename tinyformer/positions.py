"""Chapter 05: telling attention where each token is.

Self-attention is permutation-equivariant: shuffle the tokens and its outputs shuffle the same way. These
pieces add order: fixed sinusoids (Vaswani et al. 2017), learned positions (BERT, GPT) and rotary
embeddings (RoPE, Su et al. 2021), which rotate queries and keys instead of adding anything.

Its generated regions are copies: edit those pieces in solutions/05-positions/, then run `python -m grader reference`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


# generated from solutions/05-positions/05-positions.ipynb (sinusoidal_encoding): edit it there, then python -m grader reference
# fmt: off
def sinusoidal_encoding(max_len: int, d_model: int) -> Tensor:
    """(max_len, d_model) table: PE[pos, 2i] = sin(pos /
    10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)).

    Sine on the even *dimensions*, cosine on the odd ones;
    frequencies fall geometrically from 1 to 1/10000.
    """
    positions = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    # (ceil(d/2),) = 0, 2, 4, ...
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = positions / 10000 ** (two_i / d_model)  # (max_len, ceil(d/2))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
# fmt: on


# end of generated sinusoidal_encoding


# generated from solutions/05-positions/05-positions.ipynb (PositionalEncoding): edit it there, then python -m grader reference
# fmt: off
class PositionalEncoding(nn.Module):
    """Adds the sinusoidal table to a batch of
    embeddings (batch, seq, d_model), then dropout."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        # moves with .to(device)
        self.register_buffer(
            "pe", sinusoidal_encoding(max_len, d_model), persistent=False
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, seq, d_model) with seq <=
        max_len -> same shape, device and dtype."""
        seq = x.size(1)
        if seq > self.pe.size(0):
            raise ValueError(
                f"a sequence of {seq} tokens is longer "
                f"than max_len={self.pe.size(0)}: build "
                "PositionalEncoding with a larger max_len"
            )
        return self.dropout(x + self.pe[:seq].to(x.dtype))
# fmt: on


# end of generated PositionalEncoding


# generated from solutions/05-positions/05-positions.ipynb (LearnedPositionalEmbedding): edit it there, then python -m grader reference
# fmt: off
class LearnedPositionalEmbedding(nn.Module):
    """Adds one trained vector per position (BERT and GPT do this), then dropout."""

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """x (batch, seq, d_model) -> same shape; positions
        offset, offset+1, ... (offset > 0 when generating)."""
        positions = torch.arange(offset, offset + x.size(1), device=x.device)
        return self.dropout(x + self.embedding(positions).to(x.dtype))
# fmt: on


# end of generated LearnedPositionalEmbedding


# generated from solutions/05-positions/05-positions.ipynb (apply_rope): edit it there, then python -m grader reference
# fmt: off
def apply_rope(x: Tensor, offset: int = 0, base: float = 10000.0) -> Tensor:
    """Rotary position embedding: rotate each pair of features
    (2i, 2i+1) at position p by the angle p * theta_i.

    theta_i = base^(-2i/d). Applied to queries and
    keys, q_m . k_n then depends on m - n only.

    Args:
        x: (..., seq, d) with d even; position p of the sequence is ``offset + p``.
    Returns:
        a tensor of the same shape, device and dtype.
    """
    seq, d = x.shape[-2], x.shape[-1]
    # (d/2,)
    theta = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    positions = torch.arange(offset, offset + seq, device=x.device, dtype=torch.float32)
    angles = positions[:, None] * theta[None, :]  # (seq, d/2)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # the two coordinates of each pair
    # (..., seq, d/2, 2)
    rotated = torch.stack(
        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1
    )
    return rotated.flatten(-2)
# fmt: on


# end of generated apply_rope

"""Chapter 03: attention pooling, from kernel regression to scaled dot-product attention.

Shapes: ``q`` is ``(..., q_len, d_k)``, ``k`` is ``(..., k_len, d_k)``, ``v`` is ``(..., k_len, d_v)``;
the leading dimensions (batch, heads, ...) are anything that broadcasts. A boolean ``mask`` broadcastable to
``(..., q_len, k_len)`` is True where a query *may* attend to a key.

Written twice on purpose: the masked softmax of ``scaled_dot_product_attention`` and ``AdditiveAttention``.
Each is an exercise of chapter 03 that the learner writes whole and is graded alone; a shared helper would make
one exercise call the other's answer (a wrong mask in one would cost both) and hide the line each is about.
Chapter 07's ``masked_softmax`` exercise (its notebook) is that helper, once the learner has written it twice.

Its generated regions are copies: edit those pieces in solutions/03-attention/, then run `python -m grader reference`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


# generated from solutions/03-attention/03-attention.ipynb (nadaraya_watson): edit it there, then python -m grader reference
# fmt: off
def nadaraya_watson(
    x_query: Tensor, x_train: Tensor, y_train: Tensor, bandwidth: float
) -> tuple[Tensor, Tensor]:
    """Nadaraya–Watson kernel regression with a Gaussian
    kernel: attention pooling with a fixed score.

    f(x) = sum_i alpha(x, x_i) y_i,  alpha(x, x_i) = softmax_i(-(x - x_i)^2 / (2 h^2)).

    Args:
        x_query: (n_query,) where to predict.
        x_train: (n_train,) the keys.
        y_train: (n_train,) the values.
        bandwidth: h > 0; small h looks only at the nearest
                   keys, large h averages everything.
    Returns:
        predictions (n_query,) and the attention weights
        (n_query, n_train), each row summing to 1.
    """
    distances = x_query[:, None] - x_train[None, :]  # (n_query, n_train)
    # softmax over the keys
    weights = torch.softmax(-(distances**2) / (2 * bandwidth**2), dim=-1)
    return weights @ y_train, weights
# fmt: on


# end of generated nadaraya_watson


# generated from solutions/03-attention/03-attention.ipynb (scaled_dot_product_attention): edit it there, then python -m grader reference
# fmt: off
def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d_k)) v, over any leading batch dimensions.

    Args:
        q: (..., q_len, d_k) queries.
        k: (..., k_len, d_k) keys.
        v: (..., k_len, d_v) values.
        mask: optional boolean, broadcastable to (..., q_len, k_len); True = may attend.
    Returns:
        out (..., q_len, d_v) and weights (..., q_len, k_len). A query that may attend
        to no key at all gets weights 0 and output 0 (as
        ``torch.nn.functional.scaled_dot_product_attention`` does), never NaN.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., q_len, k_len)
    if mask is not None:
        # before the softmax, so the rest renormalise
        scores = scores.masked_fill(~mask, float("-inf"))
    # over the keys: each query's weights sum to 1
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # no key: 0, not NaN
        weights = torch.where(
            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)
        )
    return weights @ v, weights
# fmt: on


# end of generated scaled_dot_product_attention


# generated from solutions/03-attention/03-attention.ipynb (AdditiveAttention): edit it there, then python -m grader reference
# fmt: off
class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention: score(q, k) = v_a . tanh(W_q q + W_k k).

    Queries and keys may have different widths; there
    is no scaling (the tanh keeps scores bounded).
    """

    def __init__(self, d_query: int, d_key: int, d_hidden: int):
        super().__init__()
        self.W_q = nn.Linear(d_query, d_hidden, bias=False)
        self.W_k = nn.Linear(d_key, d_hidden, bias=False)
        self.v_a = nn.Linear(d_hidden, 1, bias=False)

    def forward(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """q (..., q_len, d_query), k (..., k_len, d_key), v
        (..., k_len, d_v) -> out (..., q_len, d_v), weights."""
        # (..., q_len, k_len, d_hidden)
        features = torch.tanh(self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3))
        scores = self.v_a(features).squeeze(-1)  # (..., q_len, k_len)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = torch.where(
                mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)
            )
        return weights @ v, weights
# fmt: on


# end of generated AdditiveAttention


# generated from solutions/03-attention/03-attention.ipynb (SelfAttention): edit it there, then python -m grader reference
# fmt: off
class SelfAttention(nn.Module):
    """Single-head self-attention: queries, keys and
    values are three projections of the same sequence."""

    def __init__(self, d_model: int, d_k: int | None = None):
        super().__init__()
        d_k = d_model if d_k is None else d_k
        self.W_q = nn.Linear(d_model, d_k, bias=False)
        self.W_k = nn.Linear(d_model, d_k, bias=False)
        self.W_v = nn.Linear(d_model, d_k, bias=False)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (batch, seq, d_model) -> out (batch,
        seq, d_k), weights (batch, seq, seq)."""
        return scaled_dot_product_attention(self.W_q(x), self.W_k(x), self.W_v(x), mask)
# fmt: on


# end of generated SelfAttention

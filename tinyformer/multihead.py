"""Chapter 04: multi-head attention, all heads at once.

Shapes: ``(batch, seq, d_model)`` outside, ``(batch, heads, seq, d_head)`` inside, d_head = d_model / heads.
Masks are boolean, True = may attend, broadcastable to ``(batch, heads, q_len, k_len)``; a 3-D mask
``(batch, q_len, k_len)`` is the same for every head.

Its generated regions are copies: edit those pieces in solutions/04-multi-head/, then run `python -m grader reference`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from tinyformer.attention import scaled_dot_product_attention


# generated from solutions/04-multi-head/04-multi-head.ipynb (split_heads): edit it there, then python -m grader reference
# fmt: off
def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """(batch, seq, d_model) -> (batch, heads, seq, d_model //
    heads): head h takes features [h*d_head, (h+1)*d_head)."""
    batch, seq, d_model = x.shape
    return x.view(batch, seq, n_heads, d_model // n_heads).transpose(1, 2)
# fmt: on


# end of generated split_heads


# generated from solutions/04-multi-head/04-multi-head.ipynb (merge_heads): edit it there, then python -m grader reference
# fmt: off
def merge_heads(x: Tensor) -> Tensor:
    """(batch, heads, seq, d_head) -> (batch, seq,
    heads * d_head): the inverse of ``split_heads``."""
    batch, n_heads, seq, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, seq, n_heads * d_head)
# fmt: on


# end of generated merge_heads


# generated from solutions/04-multi-head/04-multi-head.ipynb (MultiHeadAttention): edit it there, then python -m grader reference
# fmt: off
class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention in
    parallel, each on its own d_model/h-wide projections.

    ``forward(query)`` is self-attention; ``forward(query, key_value)`` is
    cross-attention (queries from one sequence, keys and values from another). With
    ``fast=True`` (the default) and no weights asked for, the attention itself runs in
    ``torch.nn.functional.scaled_dot_product_attention`` (flash or memory-efficient
    kernels on a GPU); the result is the same as the from-scratch path.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        fast: bool = True,
    ):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(
                f"d_model={d_model} must be divisible by n_heads={n_heads}: "
                "each head gets d_model / n_heads features"
            )
        self.n_heads, self.d_head, self.dropout, self.fast = (
            n_heads,
            d_model // n_heads,
            dropout,
            fast,
        )
        self.W_q = nn.Linear(d_model, d_model, bias=bias)
        self.W_k = nn.Linear(d_model, d_model, bias=bias)
        self.W_v = nn.Linear(d_model, d_model, bias=bias)
        self.W_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        query: Tensor,
        key_value: Tensor | None = None,
        mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """query (batch, q_len, d_model), key_value
        (batch, k_len, d_model) or None for self-attention.

        Returns out (batch, q_len, d_model) and the weights (batch, heads, q_len,
        k_len), or None in their place on the fast path (``fast=True``
        without ``need_weights``: the fused kernel never forms them).
        """
        key_value = query if key_value is None else key_value
        q = split_heads(self.W_q(query), self.n_heads)  # (batch, heads, q_len, d_head)
        # (batch, heads, k_len, d_head)
        k = split_heads(self.W_k(key_value), self.n_heads)
        # (batch, heads, k_len, d_head)
        v = split_heads(self.W_v(key_value), self.n_heads)
        if mask is not None and mask.dim() == 3:
            # (batch, 1, q_len, k_len): the same mask for every head
            mask = mask.unsqueeze(1)
        p = self.dropout if self.training else 0.0
        if self.fast and not need_weights:
            out, weights = (
                F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p),
                None,
            )
        else:
            out, weights = scaled_dot_product_attention(q, k, v, mask)
            if p > 0:
                out = F.dropout(weights, p) @ v
        return self.W_o(merge_heads(out)), weights
# fmt: on


# end of generated MultiHeadAttention

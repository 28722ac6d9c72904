"""Chapter 06: the encoder: residual connections, LayerNorm, the feed-forward network, N identical blocks.

Shapes: ``(batch, seq, d_model)`` throughout. Masks are boolean, True = may attend, broadcastable to
``(batch, heads, seq, seq)``; a padding mask is ``(tokens != pad_id)[:, None, None, :]``.

Design note: Post-LN and Pre-LN are spelled out in ``EncoderLayer.forward`` (and again in chapter 07's
``DecoderLayer``) rather than in one sublayer-connection helper, as the Annotated Transformer has: the two orders
side by side, three lines each, are what the exercise is about, and each layer is graded on its own. ``Encoder``
takes the table size as ``max_len`` and its options (``max_len``, ``dropout``, ``norm_first``, ``activation``)
after the five shape arguments, in the order chapter 07's ``Transformer`` passes them.

Its generated regions are copies: edit those pieces in solutions/06-encoder/, then run `python -m grader reference`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tinyformer.multihead import MultiHeadAttention
from tinyformer.positions import PositionalEncoding


# generated from solutions/06-encoder/06-encoder.ipynb (LayerNorm): edit it there, then python -m grader reference
# fmt: off
class LayerNorm(nn.Module):
    """Normalise each token over its features:
    (x - mean) / sqrt(var + eps) * weight + bias.

    The variance is the biased one (divide by d), as in ``torch.nn.LayerNorm``;
    ``weight`` (gamma) and ``bias`` (beta) are learned, one per feature.
    """

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Tensor) -> Tensor:
        """x (..., d_model) -> same shape."""
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, correction=0)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
# fmt: on


# end of generated LayerNorm


# generated from solutions/06-encoder/06-encoder.ipynb (FeedForward): edit it there, then python -m grader reference
# fmt: off
class FeedForward(nn.Module):
    """The position-wise feed-forward network:
    linear2(dropout(activation(linear1(x)))), applied to each token."""

    def __init__(
        self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"
    ):
        super().__init__()
        # The dropout on the hidden layer is not in the paper, which drops only each
        # sub-layer's output and the sums of embeddings and positions (Vaswani et al.
        # 2017, section 5.4: EncoderLayer's dropout1 and dropout2). It is
        # tensor2tensor's relu_dropout (0.1 from transformer_base_v2 on) and
        # torch.nn.TransformerEncoderLayer's, which the tests compare our layers with;
        # BERT's code and nanoGPT have none there. At dropout =
        # 0, as in the chapters' experiments, it does nothing.
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = {"relu": nn.ReLU(), "gelu": nn.GELU()}[activation]

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, seq, d_model) -> (batch, seq, d_model),
        through a (batch, seq, d_ff) hidden layer."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))
# fmt: on


# end of generated FeedForward


# generated from solutions/06-encoder/06-encoder.ipynb (EncoderLayer): edit it there, then python -m grader reference
# fmt: off
class EncoderLayer(nn.Module):
    """Self-attention and a feed-forward network, each
    inside a residual connection with a LayerNorm.

    Post-LN (the paper, ``norm_first=False``): x = LN(x + Sublayer(x)).
    Pre-LN (``norm_first=True``):              x = x + Sublayer(LN(x)).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (batch, seq, d_model), mask broadcastable to
        (batch, heads, seq, seq) -> (batch, seq, d_model)."""
        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x), mask=mask)[0])
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, mask=mask)[0]))
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x
# fmt: on


# end of generated EncoderLayer


# generated from solutions/06-encoder/06-encoder.ipynb (Encoder): edit it there, then python -m grader reference
# fmt: off
class Encoder(nn.Module):
    """Token embedding * sqrt(d_model), sinusoidal
    positions, then ``n_layers`` identical encoder layers.

    The embedding starts at N(0, 1/d_model), so that the scaled token vectors have
    entries of size 1, like the sinusoids they are added to. With Pre-LN the
    stack ends with a final LayerNorm (each layer's output is un-normalised).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        n_heads: int,
        d_ff: int,
        n_layers: int,
        max_len: int = 512,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        # N(0, 1/d): times sqrt(d), entries of size 1
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        self.positions = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList(
            [
                EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation)
                for _ in range(n_layers)
            ]
        )
        self.norm = LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """tokens (batch, seq) int64, mask e.g. a padding
        mask (batch, 1, 1, seq) -> (batch, seq, d_model)."""
        x = self.positions(self.embedding(tokens) * math.sqrt(self.d_model))
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)
# fmt: on


# end of generated Encoder

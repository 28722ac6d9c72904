"""Chapter 08: BERT, an encoder-only bidirectional stack pre-trained by masked language modelling (MLM) and
next-sentence prediction (NSP).

Input = token + segment + position embeddings, LayerNorm, dropout; then Post-LN encoder layers with GELU; an
MLM head whose output matrix is the token embedding (tied) and an NSP head on the first ([CLS]) position.

Its generated regions are copies: edit those pieces in solutions/08-bert-vs-gpt/, then run `python -m grader reference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tinyformer.encoder import EncoderLayer, LayerNorm
from tinyformer.gpt import init_weights
from tinyformer.positions import LearnedPositionalEmbedding

IGNORE_INDEX = -100  # cross_entropy's default ignore_index: positions that are not predicted


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (mask_tokens): edit it there, then python -m grader reference
# fmt: off
def mask_tokens(
    tokens: Tensor,
    mask_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    p: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masking: choose each non-special token with probability p; of those, 80 %
    become [MASK], 10 % a random token, 10 % stay
    unchanged. The model must predict every chosen token.

    tokens (batch, seq) -> (inputs (batch, seq), labels (batch, seq)): labels hold the
    original token at the chosen positions and IGNORE_INDEX (-100) everywhere else.
    """
    special = torch.isin(tokens, torch.tensor(list(special_ids), device=tokens.device))
    chosen = (torch.rand(tokens.shape, generator=generator) < p).to(
        tokens.device
    ) & ~special
    labels = tokens.masked_fill(~chosen, IGNORE_INDEX)
    # which of 80/10/10
    action = torch.rand(tokens.shape, generator=generator).to(tokens.device)
    random_tokens = torch.randint(vocab_size, tokens.shape, generator=generator).to(
        tokens.device
    )
    inputs = torch.where(
        chosen & (action < 0.8), torch.full_like(tokens, mask_id), tokens
    )
    inputs = torch.where(
        chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs
    )
    return inputs, labels
# fmt: on


# end of generated mask_tokens


@dataclass
class BERTConfig:
    vocab_size: int
    max_len: int = 128
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int = 512  # 4 * d_model in BERT
    dropout: float = 0.0  # BERT's is 0.1 (embeddings, attention weights, sub-layer outputs); chapter 08 trains with 0
    n_segments: int = 2  # sentence A and sentence B


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (BERT): edit it there, then python -m grader reference
# fmt: off
class BERT(nn.Module):
    """Embeddings (token + segment + position) -> n Post-LN
    encoder layers -> MLM head (tied) and NSP head."""

    def __init__(self, config: BERTConfig):
        super().__init__()
        c = self.config = config
        # Where this BERT is not BERT's released code: its LayerNorms keep chapter 06's
        # eps = 1e-5, not BERT's 1e-12 (at initialisation the embedding sum's variance
        # is about 3 * 0.02^2 = 1.2e-3, so 1e-5 makes the normalised embeddings about
        # 0.4 % smaller; the layers' LayerNorms see
        # variances near 1, the MLM head's about 1e-2);
        # dropout is off unless BERTConfig(dropout=0.1) asks for BERT's; and with
        # dropout on, FeedForward also drops its hidden
        # layer, which BERT does not (see FeedForward).
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.seg_emb = nn.Embedding(c.n_segments, c.d_model)
        self.pos_emb = LearnedPositionalEmbedding(c.max_len, c.d_model)
        self.emb_norm = LayerNorm(c.d_model)
        self.dropout = nn.Dropout(c.dropout)
        self.layers = nn.ModuleList(
            [
                EncoderLayer(
                    c.d_model,
                    c.n_heads,
                    c.d_ff,
                    c.dropout,
                    norm_first=False,
                    activation="gelu",
                )
                for _ in range(c.n_layers)
            ]
        )
        # MLM head: dense, GELU, LayerNorm, then the tied decoder
        self.mlm_dense = nn.Linear(c.d_model, c.d_model)
        self.mlm_norm = LayerNorm(c.d_model)
        self.mlm_decoder = nn.Linear(c.d_model, c.vocab_size)
        # NSP head: tanh(pooler([CLS])) -> 2 classes
        self.pooler = nn.Linear(c.d_model, c.d_model)
        self.nsp = nn.Linear(c.d_model, 2)
        self.apply(init_weights)
        # tied; the decoder keeps its own bias
        self.mlm_decoder.weight = self.tok_emb.weight

    def forward(
        self, tokens: Tensor, segments: Tensor | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """tokens (batch, seq), segments (batch, seq) of 0/1 (default all 0), mask e.g.
        a padding mask (batch, 1, 1, seq) -> (MLM logits
        (batch, seq, vocab_size), NSP logits (batch, 2))."""
        segments = torch.zeros_like(tokens) if segments is None else segments
        x = self.dropout(
            self.emb_norm(self.pos_emb(self.tok_emb(tokens) + self.seg_emb(segments)))
        )
        for layer in self.layers:
            x = layer(x, mask)  # no causal mask: every token sees both sides
        mlm_logits = self.mlm_decoder(
            self.mlm_norm(nn.functional.gelu(self.mlm_dense(x)))
        )
        nsp_logits = self.nsp(torch.tanh(self.pooler(x[:, 0])))
        return mlm_logits, nsp_logits
# fmt: on


# end of generated BERT


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (bert_parameter_count): edit it there, then python -m grader reference
# fmt: off
def bert_parameter_count(config: BERTConfig) -> int:
    """Closed form of ``sum(p.numel() for p in
    BERT(config).parameters())`` (the tied decoder adds only its bias)."""
    d, f, v = config.d_model, config.d_ff, config.vocab_size
    # + the embedding LayerNorm
    embeddings = v * d + config.n_segments * d + config.max_len * d + 2 * d
    layer = (4 * d * d + 4 * d) + (d * f + f + f * d + d) + 2 * 2 * d
    mlm_head = d * d + d + 2 * d + v  # dense, LayerNorm, decoder bias
    nsp_head = d * d + d + 2 * d + 2  # pooler, classifier
    return embeddings + config.n_layers * layer + mlm_head + nsp_head
# fmt: on


# end of generated bert_parameter_count

"""Chapter 08: GPT, a decoder-only causal stack trained to predict the next token, and text generation.

A GPT block is an encoder layer (Pre-LN, GELU) run under a causal mask: nothing else is new. The head that
turns hidden states into next-token logits shares its weight with the token embedding (weight tying).

Design note, the KV cache: ``GPT.forward`` runs each block itself when a cache is given
(``cached_self_attention`` + the block's own ``norm1``, ``dropout1``, ``norm2``, ``ff``, ``dropout2``), instead of
threading the cache through ``EncoderLayer`` and ``MultiHeadAttention`` as nanoGPT does. Those are chapters 04 and
06's graded exercises, written before caching exists; a ``cache=`` argument there would reopen them for every
learner. The cached path reuses the block's modules (no weights of its own), and
tests/test_gpt_bert.py checks that it gives the uncached logits and tokens and never recomputes old keys.

Its generated regions are copies: edit those pieces in solutions/08-bert-vs-gpt/, then run `python -m grader reference`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinyformer.decoder import causal_mask
from tinyformer.encoder import EncoderLayer, LayerNorm
from tinyformer.multihead import MultiHeadAttention, merge_heads, split_heads
from tinyformer.positions import LearnedPositionalEmbedding


@dataclass
class GPTConfig:
    vocab_size: int
    max_len: int = 128  # the longest context (learned positions)
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int = 512  # 4 * d_model in GPT-2
    dropout: float = 0.0  # GPT-1 trained with 0.1 (GPT-2's paper gives none); > 0 also drops FeedForward's hidden layer


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (KVCache): edit it there, then python -m grader reference
# fmt: off
class KVCache:
    """The keys and values of every token seen so far,
    one pair per layer, each (batch, heads, seen, d_head).

    With a cache, generating a token runs the model on
    that one token instead of the whole sequence again.
    """

    def __init__(self, n_layers: int):
        self.keys: list[Tensor | None] = [None] * n_layers
        self.values: list[Tensor | None] = [None] * n_layers

    def __len__(self) -> int:
        """How many positions are cached."""
        return 0 if self.keys[0] is None else self.keys[0].size(2)

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append this step's keys and values (batch, heads, new, d_head) to those of
        ``layer``; return all of them, each (batch, heads, seen + new, d_head)."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v
# fmt: on


# end of generated KVCache


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (cached_self_attention): edit it there, then python -m grader reference
# fmt: off
def cached_self_attention(
    attn: MultiHeadAttention, x: Tensor, mask: Tensor, cache: KVCache, layer: int
) -> Tensor:
    """Self-attention of the new positions x (batch,
    new, d_model) over the cached ones and themselves.

    mask (new, seen + new) is True where a new
    position may attend. Returns (batch, new, d_model).
    """
    q = split_heads(attn.W_q(x), attn.n_heads)  # (batch, heads, new, d_head)
    k, v = cache.update(
        layer,
        split_heads(attn.W_k(x), attn.n_heads),
        split_heads(attn.W_v(x), attn.n_heads),
    )
    return attn.W_o(
        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    )
# fmt: on


# end of generated cached_self_attention


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (GPT): edit it there, then python -m grader reference
# fmt: off
class GPT(nn.Module):
    """Token embedding + learned positions -> n Pre-LN
    blocks under a causal mask -> LayerNorm -> tied head."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        c = self.config = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = LearnedPositionalEmbedding(c.max_len, c.d_model, c.dropout)
        self.layers = nn.ModuleList(
            [
                EncoderLayer(
                    c.d_model,
                    c.n_heads,
                    c.d_ff,
                    c.dropout,
                    norm_first=True,
                    activation="gelu",
                )
                for _ in range(c.n_layers)
            ]
        )
        self.norm = LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.apply(init_weights)
        # GPT-2: W_o and linear2 of each block start smaller
        scale_residual_projections(self.layers)
        # tied: one (vocab, d_model) matrix reads and writes tokens
        self.head.weight = self.tok_emb.weight

    def forward(self, tokens: Tensor, cache: KVCache | None = None) -> Tensor:
        """tokens (batch, seq) -> next-token logits (batch, seq, vocab_size).

        With a cache, ``tokens`` are the new tokens only;
        they follow the ``len(cache)`` cached positions.
        """
        seen = 0 if cache is None else len(cache)
        seq = tokens.size(1)
        if seen + seq > self.config.max_len:
            raise ValueError(
                f"{seen + seq} positions, but this GPT has "
                f"max_len={self.config.max_len} position embeddings: "
                "generate fewer tokens or build it with a larger max_len"
            )
        x = self.pos_emb(self.tok_emb(tokens), offset=seen)  # (batch, seq, d_model)
        # (seq, seen + seq): the new rows of the causal mask
        mask = causal_mask(seen + seq, tokens.device)[seen:]
        for i, layer in enumerate(self.layers):
            if cache is None:
                x = layer(x, mask)
            # the same Pre-LN block, its attention reading the cached keys and values
            else:
                x = x + layer.dropout1(
                    cached_self_attention(
                        layer.self_attn, layer.norm1(x), mask, cache, i
                    )
                )
                x = x + layer.dropout2(layer.ff(layer.norm2(x)))
        return self.head(self.norm(x))
# fmt: on


# end of generated GPT


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (init_weights): edit it there, then python -m grader reference
# fmt: off
def init_weights(module: nn.Module) -> None:
    """BERT's and GPT-2's initialisation of one module (``model.apply(init_weights)``):
    weights of every linear layer and embedding drawn from N(0, 0.02^2), biases zero
    (LayerNorms keep their 1 and 0). Small weights keep the tied head's first logits
    small. BERT's code truncates the normal at two standard deviations; we do not.
    GPT-2 also scales its residual projections down: ``scale_residual_projections``."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
# fmt: on


# end of generated init_weights


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (scale_residual_projections): edit it there, then python -m grader reference
# fmt: off
def scale_residual_projections(layers: nn.ModuleList) -> None:
    """GPT-2's initialisation of the residual projections: divide the weights of the
    two layers of each block that write into the residual stream (the attention's W_o,
    the feed-forward network's linear2) by sqrt(2 n_layers), so that they
    start as N(0, (0.02 / sqrt(2 n_layers))^2) after ``init_weights``.

    The residual stream sums the outputs of 2 n_layers sub-layers; with independent
    outputs its variance grows with their number, and the scale keeps
    the sum's variance at the top that of a single sub-layer's output.
    """
    scale = 1 / math.sqrt(2 * len(layers)) if len(layers) else 1.0
    with torch.no_grad():
        for layer in layers:
            layer.self_attn.W_o.weight.mul_(scale)
            layer.ff.linear2.weight.mul_(scale)
# fmt: on


# end of generated scale_residual_projections


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (generate): edit it there, then python -m grader reference
# fmt: off
def generate(
    model: GPT,
    prompt: Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sample ``max_new_tokens`` tokens after ``prompt``
    (batch, prompt_len) -> (batch, prompt_len + max_new_tokens).

    temperature 0 is greedy; otherwise logits / temperature, restricted to the
    ``top_k`` most likely tokens when given, then sampled. With ``use_cache``
    each step feeds only the newest token (same tokens, far less work).
    """
    # Two choices to know (this is chapter 08's exercise; its tests check the first):
    # - generate puts the model in eval mode and leaves it there
    # (nanoGPT's leaves the mode to its caller): a training
    # loop calls model.train() again, as chapter 08's
    # loops and the capstone's train do at their start.
    # - The context is not cropped: past max_len positions,
    # GPT.forward raises with the fix. nanoGPT's feeds the last
    # block_size tokens instead; with learned absolute
    # positions that moves every cached token to a new position,
    # so the KV cache would have to be rebuilt at every step.
    # The capstone's sample() crops before calling generate.
    with torch.no_grad():  # no gradients are needed to generate
        model.eval()
        cache = KVCache(len(model.layers)) if use_cache else None
        tokens = prompt
        logits = model(prompt, cache)[:, -1]  # (batch, vocab)
        for step in range(max_new_tokens):
            if temperature == 0:
                next_token = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[
                        :, -1:
                    ]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                # (batch, 1)
                next_token = torch.multinomial(
                    logits.softmax(dim=-1), 1, generator=generator
                )
            tokens = torch.cat([tokens, next_token], dim=1)
            if step + 1 < max_new_tokens:
                logits = (model(next_token, cache) if use_cache else model(tokens))[
                    :, -1
                ]
        return tokens
# fmt: on


# end of generated generate


# generated from solutions/08-bert-vs-gpt/08-bert-vs-gpt.ipynb (gpt_parameter_count): edit it there, then python -m grader reference
# fmt: off
def gpt_parameter_count(config: GPTConfig) -> int:
    """Closed form of ``sum(p.numel() for p in
    GPT(config).parameters())`` (the tied head adds nothing)."""
    d, f = config.d_model, config.d_ff
    embeddings = config.vocab_size * d + config.max_len * d
    attention = 4 * d * d + 4 * d  # W_q, W_k, W_v, W_o with biases
    feed_forward = d * f + f + f * d + d
    norms = 2 * 2 * d  # two LayerNorms per block, weight and bias each
    # + the final LayerNorm
    return embeddings + config.n_layers * (attention + feed_forward + norms) + 2 * d
# fmt: on


# end of generated gpt_parameter_count

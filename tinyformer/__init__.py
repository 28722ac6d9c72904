"""tinyformer: the Transformer of the course, one module per idea.

Each chapter adds the reference of the pieces its learners write:

========================  =================================================================================
module                    chapter
========================  =================================================================================
``tinyformer.rnn``        01 why RNNs fall short (tanh RNN, Jacobian norms, causal average)
``tinyformer.word2vec``   02 word embeddings (vocabulary, skip-gram and CBOW, negative sampling, analogies)
``tinyformer.attention``  03 attention (kernel regression, scaled dot-product, additive, self-attention)
``tinyformer.multihead``  04 multi-head attention (split/merge heads, MultiHeadAttention with an SDPA fast path)
``tinyformer.positions``  05 positions (sinusoidal, learned, rotary)
``tinyformer.encoder``    06 the encoder (LayerNorm, FeedForward, EncoderLayer, Encoder)
``tinyformer.decoder``    07 the masked decoder (masks, DecoderLayer, Transformer, greedy and beam search)
``tinyformer.bert``       08 BERT (MLM masking, the model, its parameter count)
``tinyformer.gpt``        08 GPT (the model, KV cache, generate, its parameter count)
``tinyformer.pieces``     09 the capstone: ``learner_pieces("chapters")`` builds the GPT of the learner's own answers
``tinyformer.capstone``   09 the capstone's recipe: training a GPT on tiny Shakespeare, its baselines
``tinyformer.text``       real text, character-level: tiny Shakespeare, shipped in ``tinyformer/texts/``
``tinyformer.train``      training on CPU, GPUs and clusters: ``python -m tinyformer.train --help``
``tinyformer.corpus``     the seeded toy language (people, countries, animals) shared by the chapters
``tinyformer.data``       seeded synthetic tasks shared by the chapters
``tinyformer.testing``    checking helpers used by the notebooks' tests
========================  =================================================================================

Conventions: tensors are batch-first ``(batch, seq, d_model)``; boolean masks are
True where a position *may* attend; nothing hard-codes a device or a dtype.

A notebook never imports the reference of the piece it asks the learner to write.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``tinyformer.learner_pieces``, imported when first used (``import tinyformer`` stays light)."""
    if name == "learner_pieces":
        from tinyformer.pieces import learner_pieces

        return learner_pieces
    raise AttributeError(f"module 'tinyformer' has no attribute {name!r}")

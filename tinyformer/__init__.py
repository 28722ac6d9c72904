"""tinyformer: the Transformer of the course, one module per idea.

Each chapter adds the reference of the pieces its learners write:

=======================  =================================================================================
module                   chapter
=======================  =================================================================================
``tinyformer.rnn``       01 why RNNs fall short (tanh RNN, Jacobian norms, causal average)
``tinyformer.word2vec``  02 word embeddings (vocabulary, skip-gram and CBOW, negative sampling, analogies)
``tinyformer.corpus``    the seeded toy language (people, countries, animals) shared by the chapters
``tinyformer.data``      seeded synthetic tasks shared by the chapters
``tinyformer.testing``   checking helpers used by the notebooks' tests
=======================  =================================================================================

Conventions: tensors are batch-first ``(batch, seq, d_model)``; boolean masks are
True where a position *may* attend; nothing hard-codes a device or a dtype.

A notebook never imports the reference of the piece it asks the learner to write.
"""

__version__ = "0.1.0"

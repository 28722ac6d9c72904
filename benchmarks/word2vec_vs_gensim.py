"""Chapter 02's word2vec against gensim's: training speed and analogy accuracy on the same toy corpus.

What it measures. On the corpus of the chapter's full run (``generate_corpus(4000, seed=0)``), it trains

- skip-gram: tinyformer's ``SkipGramNegativeSampling`` exactly as the notebook does (d=32, window=4,
  5 negatives, 5 epochs, Adam lr=0.01, batches of 256 shuffled pairs) and ``gensim.models.Word2Vec``
  with sg=1, negative=5 and the same d, window and epochs;
- CBOW: tinyformer's ``CBOW`` (full softmax) as the notebook does (10 epochs, Adam lr=0.01, batches of
  64) and gensim with sg=0, negative=5 and the same d, window and epochs;

each with 1 and 2 threads (``torch.set_num_threads`` / gensim's ``workers``), everything on the CPU.
gensim sees the same examples as tinyformer: no subsampling of frequent words (``sample=0``) and the
full window (``shrink_windows=False``); its optimiser stays its own (SGD, alpha 0.025 decaying).

For each run it prints the training seconds (the training loop only: vocabulary and examples are
built before), words/s (corpus words x epochs / training seconds) and the analogy accuracy on
``analogy_questions()``, both models scored identically: gensim's vectors are put in tinyformer's
vocabulary order and answered with ``tinyformer.word2vec.analogy`` (a - b + c by cosine, inputs excluded).

Run it from the repository root:

    python -m venv .venv-bench && . .venv-bench/bin/activate
    pip install -r requirements.txt -r benchmarks/requirements.txt
    python benchmarks/word2vec_vs_gensim.py
"""

import sys
import time
import zlib
from pathlib import Path

import gensim
import torch
import torch.nn.functional as F
from gensim.models import Word2Vec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tinyformer

from tinyformer.corpus import analogy_questions, generate_corpus  # noqa: E402
from tinyformer.runtime import seed_everything  # noqa: E402
from tinyformer.word2vec import (  # noqa: E402
    CBOW,
    SkipGramNegativeSampling,
    Vocabulary,
    analogy,
    cbow_windows,
    skipgram_pairs,
)

# the notebook's full run (section 4 and 7 of solutions/02-word2vec)
N_SENTENCES, SEED = 4000, 0
D_EMBED, WINDOW, NEGATIVES, LR, BATCH = 32, 4, 5, 0.01, 256
SKIPGRAM_EPOCHS, CBOW_EPOCHS = 5, 10  # the notebook trains CBOW for 2 * EPOCHS, in batches of BATCH // 4
THREADS = (1, 2)

sentences = generate_corpus(N_SENTENCES, seed=SEED)
n_words = sum(map(len, sentences))
vocab = Vocabulary(sentences)
encoded = [vocab.encode(sentence) for sentence in sentences]
pairs = skipgram_pairs(encoded, WINDOW)
contexts, centres = cbow_windows(encoded, WINDOW, vocab.pad_id)
q_ids = torch.tensor([vocab.encode(q) for q in analogy_questions()])  # (n_questions, 4)


def analogy_accuracy(table: torch.Tensor) -> float:
    """The fraction of analogy questions answered right, as the notebook scores it."""
    table = table.clone()
    table[[vocab.pad_id, vocab.unk_id]] = 0.0  # the specials never occur: out of every comparison
    answers = analogy(table, q_ids[:, 0], q_ids[:, 1], q_ids[:, 2])[:, 0]
    return (answers == q_ids[:, 3]).float().mean().item()


def train_tinyformer(kind: str, threads: int) -> tuple[float, torch.Tensor]:
    """The notebook's training loop on the CPU; returns (training seconds, (V, d) word vectors)."""
    torch.set_num_threads(threads)
    gen = seed_everything(SEED)
    if kind == "skip-gram":
        model, examples, batch, epochs = (
            SkipGramNegativeSampling(vocab.counts, D_EMBED, NEGATIVES),
            pairs,
            BATCH,
            SKIPGRAM_EPOCHS,
        )
    else:
        model, examples, batch, epochs = CBOW(len(vocab), D_EMBED, vocab.pad_id), centres, BATCH // 4, CBOW_EPOCHS
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(examples), generator=gen)
        for i in range(0, len(examples), batch):
            idx = order[i : i + batch]
            if kind == "skip-gram":
                loss = model(pairs[idx, 0], pairs[idx, 1])
            else:
                loss = F.cross_entropy(model(contexts[idx]), centres[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start, model.in_embed.weight.detach().clone()


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector with hashfxn(word + str(seed)); Python's hash() of a str
    changes from one process to the next, crc32 does not."""
    return zlib.crc32(text.encode())


def train_gensim(kind: str, threads: int) -> tuple[float, torch.Tensor]:
    """gensim's Word2Vec on the same sentences; returns (training seconds, (V, d) vectors in vocab order)."""
    epochs = SKIPGRAM_EPOCHS if kind == "skip-gram" else CBOW_EPOCHS
    model = Word2Vec(
        vector_size=D_EMBED,
        window=WINDOW,
        min_count=1,
        sg=int(kind == "skip-gram"),
        negative=NEGATIVES,
        sample=0,
        shrink_windows=False,
        workers=threads,
        seed=SEED,
        hashfxn=stable_hash,
    )
    model.build_vocab(sentences)
    start = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=epochs)
    seconds = time.perf_counter() - start
    table = torch.zeros(len(vocab), D_EMBED)
    for i, word in enumerate(vocab.itos):
        if word in model.wv.key_to_index:
            table[i] = torch.from_numpy(model.wv[word].copy())
    return seconds, table


print(
    f"corpus: {len(sentences)} sentences, {n_words} words, {len(vocab)} ids; {len(pairs)} skip-gram pairs; "
    f"{len(q_ids)} analogy questions; torch {torch.__version__}, gensim {gensim.__version__}"
)
print(f"{'method':<30s} {'threads':>7s} {'train s':>8s} {'words/s':>10s} {'analogy acc':>11s}")
for kind, epochs in (("skip-gram", SKIPGRAM_EPOCHS), ("CBOW", CBOW_EPOCHS)):
    for name, train in ((f"tinyformer {kind}", train_tinyformer), (f"gensim {kind}", train_gensim)):
        label = name + (" (full softmax)" if name == "tinyformer CBOW" else "")
        for threads in THREADS:
            seconds, table = train(kind, threads)
            print(
                f"{label:<30s} {threads:>7d} {seconds:>8.2f} {n_words * epochs / seconds:>10,.0f} {analogy_accuracy(table):>11.2f}"
            )

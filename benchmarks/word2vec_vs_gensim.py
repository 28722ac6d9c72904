"""Chapter 02's word2vec against gensim's: training speed and analogy accuracy on the same toy corpus.

What it measures. On the corpus of the chapter's full run (``generate_corpus(4000, seed=0)``), it trains
tinyformer's models exactly as solutions/02-word2vec does (sections 4 and 7). The notebook's training loops
are cells, not functions of tinyformer, so ``train_skipgram`` and ``train_cbow`` below replicate them line
for line (only the tqdm progress bar and the no-op ``.to(device)`` of a CPU run are left out):

- skip-gram: ``SkipGramNegativeSampling(vocab.counts, d=32)`` (K=5 negatives), Adam lr=0.01 (fused), 5 epochs of
  shuffled batches of 256 pairs (window 4), the loss read every step (``loss.item()``) and a copy of the
  table kept every tenth of an epoch, as the notebook keeps them for its section 6;
- CBOW: ``CBOWNegativeSampling`` with the same d, K, window and optimiser, in batches of
  ceil(windows / skip-gram's steps per epoch) = 59 windows (as many updates per epoch as skip-gram):
  5 epochs (section 7's comparison), then the notebook's draw of one set of negatives for its gradient
  cell (outside the timing), then 15 more epochs of the same model and optimiser (CBOW_EPOCHS = 20).
  It is reported after 5 epochs and after 20;

and ``gensim.models.Word2Vec`` with sg=1 (skip-gram) or sg=0 (CBOW), negative=5 and the same d, window
and epochs (5; for CBOW 5 and, separately, 20). gensim sees the same examples as tinyformer: no
subsampling of frequent words (``sample=0``) and the full window (``shrink_windows=False``); its
optimiser stays its own (SGD, alpha 0.025 decaying to 0 over the epochs). Each runs with 1 and 2 threads
(``torch.set_num_threads`` / gensim's ``workers``), everything on the CPU.

For each kind and thread count it prints the training seconds (the training loops only: vocabulary and
examples are built before), words/s (corpus words x epochs / training seconds), the analogy accuracy on
``analogy_questions()`` overall and per relation, and the ratio of tinyformer's words/s to gensim's. Both
tables are scored as the notebook scores them: the specials' rows set to 0, ``tinyformer.word2vec.analogy``
(a - b + c by cosine, inputs excluded); gensim's vectors are put in tinyformer's vocabulary order first.
The two sides are measured in turn (tinyformer, gensim, tinyformer, gensim, ...) so that a load that comes
and goes on a shared machine hits both; with ``--repeats N`` each pair is measured N times and the last
table gives the median ratio. tinyformer's runs repeat exactly (same seeds); gensim's with 2 workers do not.

At equal accuracy. The two reach different accuracies in the same epochs, so words/s alone does not say which
gives a learner good vectors sooner. The last table compares the training seconds each needs to reach the
same analogy accuracy: tinyformer's from its copies of the table every tenth of an epoch (each scored after
the run, with the training seconds at the moment it was taken; CBOW keeps such copies here too, which the
notebook does not, at a cost of microseconds), gensim's from fresh models trained for 1, 2, 5, 10, 20 and 40
epochs (its learning rate decays over the epochs it is given, so a shorter run is a model of its own). For
each kind it takes two levels: the accuracy gensim reaches in the notebook's epochs, and tinyformer's. The
ratio is gensim's seconds to the level over tinyformer's (above 1: tinyformer gets there first); ">" when
gensim does not reach the level in 40 epochs (its 40-epoch seconds are then a lower bound).

Run it from the repository root, with the repository's .venv (``make install``) and gensim
(benchmarks/requirements.txt) installed beside it, not into it, so that .venv stays its lock file:

    make install
    .venv/bin/python -m pip install --target _build/gensim -r benchmarks/requirements.txt
    PYTHONPATH=_build/gensim .venv/bin/python benchmarks/word2vec_vs_gensim.py [--threads 1 2] [--repeats 3]

(pip also puts gensim's numpy and scipy in _build/gensim; check that its numpy is the lock file's version.)
"""

import argparse
import math
import statistics
import sys
import time
import zlib
from pathlib import Path

import torch

try:
    import gensim
    from gensim.models import Word2Vec
except ImportError:
    sys.exit(
        "gensim is missing: .venv/bin/python -m pip install --target _build/gensim -r benchmarks/requirements.txt, "
        "then run with PYTHONPATH=_build/gensim"
    )

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tinyformer

from tinyformer.corpus import RELATIONS, analogy_questions, generate_corpus  # noqa: E402
from tinyformer.runtime import seed_everything  # noqa: E402
from tinyformer.word2vec import (  # noqa: E402
    CBOWNegativeSampling,
    SkipGramNegativeSampling,
    Vocabulary,
    analogy,
    cbow_windows,
    skipgram_pairs,
)

# the notebook's full run (sections 1, 2, 4 and 7 of solutions/02-word2vec)
N_SENTENCES, SEED = 4000, 0
WINDOW, D_EMBED, EPOCHS, BATCH, LR = 4, 32, 5, 256, 0.01
CBOW_EPOCHS = 4 * EPOCHS  # section 7 trains CBOW for EPOCHS, then on to 4 * EPOCHS

sentences = generate_corpus(N_SENTENCES, seed=SEED)
n_words = sum(map(len, sentences))
vocab = Vocabulary(sentences)
encoded = [vocab.encode(sentence) for sentence in sentences]
pairs = skipgram_pairs(encoded, WINDOW)
contexts, centres = cbow_windows(encoded, WINDOW, vocab.pad_id)
steps_per_epoch = math.ceil(len(pairs) / BATCH)
CBOW_BATCH = math.ceil(len(centres) / steps_per_epoch)  # as many updates per epoch as skip-gram (59)
questions = analogy_questions()
relation_of = [name for name, pairs_ in RELATIONS.items() for _ in range(len(pairs_) * (len(pairs_) - 1))]
q_ids = torch.tensor([vocab.encode(q) for q in questions])  # (n_questions, 4)
SHORT = {  # the relations' column headers
    "royal : common": "roy:com",
    "adult : young": "adu:you",
    "male : female": "mal:fem",
    "country : capital": "cou:cap",
    "animal : sound": "ani:sou",
}


def word_vectors(weight: torch.Tensor) -> torch.Tensor:
    """A (V, d) table, copied, with the rows of the two specials (never trained) set to 0, as the notebook's."""
    table = weight.detach().cpu().clone()
    table[[vocab.pad_id, vocab.unk_id]] = 0.0
    return table


def analogy_accuracy(table: torch.Tensor) -> dict[str, float]:
    """The fraction of questions answered right, per relation and overall (the notebook's analogy_accuracy)."""
    right = analogy(table, q_ids[:, 0], q_ids[:, 1], q_ids[:, 2])[:, 0] == q_ids[:, 3]
    result = {
        name: right[[i for i, r in enumerate(relation_of) if r == name]].float().mean().item() for name in RELATIONS
    }
    result["all"] = right.float().mean().item()
    return result


GENSIM_EPOCHS = (1, 2, 5, 10, 20, 40)  # gensim's runs for the equal-accuracy table


def train_skipgram() -> tuple[list[tuple[int, float, torch.Tensor]], list[tuple[float, float, torch.Tensor]]]:
    """Section 4's training cell; returns [(epochs, training seconds, (V, d) word vectors)] at the end, and its
    copies of the table every tenth of an epoch as [(epochs, training seconds then, (V, d) word vectors)]."""
    gen = seed_everything(SEED)
    model = SkipGramNegativeSampling(vocab.counts, D_EMBED)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    snapshot_every = max(1, steps_per_epoch // 10)
    losses, snapshots = [], []
    start = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(len(pairs), generator=gen)
        for i in range(0, len(pairs), BATCH):
            batch = pairs[order[i : i + BATCH]]
            loss = model(batch[:, 0], batch[:, 1])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) % snapshot_every == 0:
                snapshots.append(
                    (
                        len(losses) / steps_per_epoch,
                        time.perf_counter() - start,
                        model.in_embed.weight.detach().cpu().clone(),
                    )
                )
    seconds = time.perf_counter() - start
    curve = [(epochs, at, word_vectors(weight)) for epochs, at, weight in snapshots]
    return [(EPOCHS, seconds, word_vectors(model.in_embed.weight))], curve


def train_cbow() -> tuple[list[tuple[int, float, torch.Tensor]], list[tuple[float, float, torch.Tensor]]]:
    """Section 7's cells: train_cbow(EPOCHS), the gradient cell's draw of negatives, train_cbow(3 * EPOCHS);
    returns [(epochs, training seconds so far, (V, d) word vectors)] after EPOCHS and after CBOW_EPOCHS, and
    copies of the table every tenth of an epoch as [(epochs, training seconds then, (V, d) word vectors)]."""
    gen = seed_everything(SEED)
    cbow = CBOWNegativeSampling(vocab.counts, D_EMBED, pad_id=vocab.pad_id)
    cbow_optimizer = torch.optim.Adam(cbow.parameters(), lr=LR, fused=True)
    cbow_losses, snapshots = [], []
    snapshot_every = max(1, steps_per_epoch // 10)

    def train(epochs: int, before: float) -> float:
        start = time.perf_counter()
        for _ in range(epochs):
            order = torch.randperm(len(centres), generator=gen)
            for i in range(0, len(centres), CBOW_BATCH):
                idx = order[i : i + CBOW_BATCH]
                loss = cbow(contexts[idx], centres[idx])
                cbow_optimizer.zero_grad()
                loss.backward()
                cbow_optimizer.step()
                cbow_losses.append(loss.item())
                if len(cbow_losses) % snapshot_every == 0:
                    snapshots.append(
                        (
                            len(cbow_losses) / steps_per_epoch,
                            before + time.perf_counter() - start,
                            cbow.in_embed.weight.detach().cpu().clone(),
                        )
                    )
        return time.perf_counter() - start

    seconds = train(EPOCHS, 0.0)
    out = [(EPOCHS, seconds, word_vectors(cbow.in_embed.weight))]
    cbow.sample_negatives(len(centres))  # the gradient cell's draw: the global random stream stays the notebook's
    seconds += train(CBOW_EPOCHS - EPOCHS, seconds)
    curve = [(epochs, at, word_vectors(weight)) for epochs, at, weight in snapshots]
    return out + [(CBOW_EPOCHS, seconds, word_vectors(cbow.in_embed.weight))], curve


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector with hashfxn(word + str(seed)); Python's hash() of a str
    changes from one process to the next, crc32 does not."""
    return zlib.crc32(text.encode())


def train_gensim(sg: int, epochs: int, threads: int) -> tuple[float, torch.Tensor]:
    """gensim's Word2Vec on the same sentences; returns (training seconds, (V, d) vectors in vocab order)."""
    model = Word2Vec(
        vector_size=D_EMBED,
        window=WINDOW,
        min_count=1,
        sg=sg,
        negative=5,
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


def row(label: str, threads: int, epochs: int, seconds: float, table: torch.Tensor, ratio: str = "") -> str:
    accuracy = analogy_accuracy(table)
    per_relation = " ".join(f"{accuracy[name]:>7.2f}" for name in RELATIONS)
    return (
        f"{label:<26s} {threads:>7d} {seconds:>8.3f} {n_words * epochs / seconds:>10,.0f} {accuracy['all']:>5.2f} "
        f"{per_relation} {ratio:>9s}"
    )


def seconds_to(level: float, curve: list[tuple[float, float]]) -> float | None:
    """The fewest training seconds at which a run of ``curve`` [(seconds, accuracy)] had reached ``level``."""
    return min((seconds for seconds, accuracy in curve if accuracy >= level - 1e-9), default=None)


def equal_accuracy_rows(kind: str, threads: int, epochs: int, tiny: list, gensim: list) -> list[tuple[str, float]]:
    """Lines of the equal-accuracy table for one kind and thread count, and the ratio of each line (gensim's
    seconds to the level / tinyformer's; for ">" lines, a lower bound). ``tiny``: tinyformer's
    [(seconds, accuracy)] over one run; ``gensim``: [(epochs, seconds, accuracy)] of its runs."""
    gensim_curve = [(seconds, accuracy) for _, seconds, accuracy in gensim]
    notebook_level = next(accuracy for e, _, accuracy in gensim if e == epochs)
    out = []
    for what, level in ((f"gensim's at {epochs} ep.", notebook_level), ("tinyformer's", max(a for _, a in tiny))):
        t = seconds_to(level, tiny)
        g = seconds_to(level, gensim_curve)
        bound = "" if g is not None else ">"
        g = g if g is not None else gensim[-1][1]
        if t is None:  # tinyformer's copies never reached gensim's level
            out.append(
                (
                    f"  {kind:<9s} {threads} thr.  {what:<20s} {level:5.2f}: tinyformer not reached, gensim {g:.3f} s",
                    0.0,
                )
            )
            continue
        ratio = g / t
        out.append(
            (
                f"  {kind:<9s} {threads} thr.  {what:<20s} {level:5.2f}: tinyformer {t:7.3f} s, gensim {bound}{g:.3f} s"
                f"   {bound}{ratio:.2f}x",
                ratio,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--repeats", type=int, default=1, help="measurements of each pair (default: 1)")
    args = parser.parse_args()
    print(
        f"corpus: {len(sentences)} sentences, {n_words} words, {len(vocab)} ids; {len(pairs)} skip-gram pairs "
        f"({steps_per_epoch} batches of {BATCH}), {len(centres)} CBOW windows (batches of {CBOW_BATCH}); "
        f"{len(q_ids)} analogy questions; torch {torch.__version__}, gensim {gensim.__version__}"
    )
    print(
        f"{'method':<26s} {'threads':>7s} {'train s':>8s} {'words/s':>10s} {'acc':>5s} "
        + " ".join(f"{SHORT[name]:>7s}" for name in RELATIONS)
        + f" {'tf/gensim':>9s}"
    )
    ratios: dict[tuple[str, int], list[float]] = {}
    equal: dict[tuple[str, int], list[list[tuple[str, float]]]] = {}
    for threads in args.threads:
        for _ in range(args.repeats):
            for kind, sg, train in (("skip-gram", 1, train_skipgram), ("CBOW", 0, train_cbow)):
                torch.set_num_threads(threads)
                checkpoints, curve = train()
                for epochs, seconds, table in checkpoints:  # tinyformer, then gensim at the same epochs
                    g_seconds, g_table = train_gensim(sg, epochs, threads)
                    ratio = g_seconds / seconds  # = tinyformer's words/s / gensim's
                    ratios.setdefault((f"{kind} {epochs} ep.", threads), []).append(ratio)
                    print(row(f"tinyformer {kind} {epochs} ep.", threads, epochs, seconds, table))
                    print(row(f"gensim {kind} {epochs} ep.", threads, epochs, g_seconds, g_table, f"{ratio:.3f}x"))
                gensim_runs = []
                for g_epochs in GENSIM_EPOCHS:
                    g_seconds, g_table = train_gensim(sg, g_epochs, threads)
                    gensim_runs.append((g_epochs, g_seconds, analogy_accuracy(g_table)["all"]))
                tiny = [(at, analogy_accuracy(table)["all"]) for _, at, table in curve]
                tiny += [(seconds, analogy_accuracy(table)["all"]) for _, seconds, table in checkpoints]
                notebook_epochs = EPOCHS if kind == "skip-gram" else CBOW_EPOCHS
                equal.setdefault((kind, threads), []).append(
                    equal_accuracy_rows(kind, threads, notebook_epochs, tiny, gensim_runs)
                )
    print(f"\ntinyformer / gensim words per second, median of {args.repeats} measurement(s):")
    for (name, threads), values in ratios.items():
        print(f"  {name:<16s} {threads} thread(s): {statistics.median(values):.3f}x")
    print(
        "\nAt equal analogy accuracy: training seconds to reach a level, and gensim's seconds / tinyformer's "
        f"(above 1: tinyformer first); the measurement with the median ratio of {args.repeats}:"
    )
    for measured in equal.values():
        for line in range(len(measured[0])):
            ordered = sorted(measured, key=lambda rows: rows[line][1])
            print(ordered[len(ordered) // 2][line][0])


if __name__ == "__main__":
    main()

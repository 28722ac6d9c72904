"""Chapter 02 — from token ids to word2vec embeddings.

Reference of the pieces the learner writes in ``solutions/02-word2vec``.
Its generated regions are copies: edit those pieces in solutions/02-word2vec/, then run `python -m grader reference`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# generated from solutions/02-word2vec/02-word2vec.ipynb (Vocabulary): edit it there, then python -m grader reference
# fmt: off
class Vocabulary:
    """Words <-> integer ids. Ids 0 and 1 are the specials ``<pad>`` and ``<unk>``;
    then the words seen at least ``min_count`` times,
    the most frequent first (ties in alphabetical order).

    Attributes:
        itos:   list[str], id -> word (``itos[0] == "<pad>"``, ``itos[1] == "<unk>"``).
        stoi:   dict[str, int], word -> id.
        counts: (len(vocab),) int64 tensor, how often each word
                occurs in the sentences (0 for the specials).
    """

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, sentences: Iterable[list[str]], min_count: int = 1):
        frequency = Counter(word for sentence in sentences for word in sentence)
        kept = sorted(
            (w for w, n in frequency.items() if n >= min_count),
            key=lambda w: (-frequency[w], w),
        )
        self.itos = [self.PAD, self.UNK] + kept
        self.stoi = {word: i for i, word in enumerate(self.itos)}
        self.counts = torch.tensor(
            [0, 0] + [frequency[w] for w in kept], dtype=torch.int64
        )

    @property
    def pad_id(self) -> int:
        return self.stoi[self.PAD]

    @property
    def unk_id(self) -> int:
        return self.stoi[self.UNK]

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, words: list[str]) -> list[int]:
        """A sentence (list of words) -> its ids; unknown words become ``unk_id``."""
        return [self.stoi.get(word, self.unk_id) for word in words]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids (a list, or a 1-D tensor) -> words."""
        return [self.itos[int(i)] for i in ids]
# fmt: on


# end of generated Vocabulary


# generated from solutions/02-word2vec/02-word2vec.ipynb (one_hot): edit it there, then python -m grader reference
# fmt: off
def one_hot(ids: Tensor, vocab_size: int) -> Tensor:
    """One-hot vectors: a 1 at each id, 0 elsewhere.

    Args:
        ids:        (...) int64 token ids in 0..vocab_size-1, any shape.
        vocab_size: V, the length of each vector.

    Returns:
        (..., V) float32 tensor, out[..., ids[...]] = 1.
    """
    out = torch.zeros(*ids.shape, vocab_size, device=ids.device)  # (..., V)
    return out.scatter_(-1, ids.unsqueeze(-1), 1.0)
# fmt: on


# end of generated one_hot


# generated from solutions/02-word2vec/02-word2vec.ipynb (skipgram_pairs): edit it there, then python -m grader reference
# fmt: off
def skipgram_pairs(sentences: list[list[int]], window: int) -> Tensor:
    """Every (centre, context) pair of skip-gram: each word with each word at most
    ``window`` positions away in the same sentence
    (never itself, never across a sentence boundary).

    Args:
        sentences: encoded sentences, lists of ids of any lengths.
        window:    the largest distance between a centre word and a context word (>= 1).

    Returns:
        (n_pairs, 2) int64 tensor, rows (centre id, context id), sentence by sentence,
        centre by centre, contexts from left to right.
    """
    pairs = []
    for sentence in sentences:
        for i, centre in enumerate(sentence):
            for j in range(max(0, i - window), min(len(sentence), i + window + 1)):
                if j != i:
                    pairs.append((centre, sentence[j]))
    return torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2)
# fmt: on


# end of generated skipgram_pairs


# generated from solutions/02-word2vec/02-word2vec.ipynb (cbow_windows): edit it there, then python -m grader reference
# fmt: off
def cbow_windows(
    sentences: list[list[int]], window: int, pad_id: int
) -> tuple[Tensor, Tensor]:
    """The CBOW examples: each word (the centre)
    with the ``2 * window`` words around it.

    Slot k of a context row holds the word at offset ``(-window, ..., -1, +1, ...,
    +window)[k]`` from the centre, or ``pad_id``
    where that offset falls outside the sentence.

    Args:
        sentences: encoded sentences, lists of ids of any lengths.
        window:    how many words on each side (>= 1).
        pad_id:    the id that fills the slots outside the sentence.

    Returns:
        contexts: (n_words, 2 * window) int64, one row per word of the corpus, in order.
        centres:  (n_words,) int64, the centre word of each row.
    """
    offsets = [d for d in range(-window, window + 1) if d != 0]
    contexts, centres = [], []
    for sentence in sentences:
        for i, centre in enumerate(sentence):
            contexts.append(
                [
                    sentence[i + d] if 0 <= i + d < len(sentence) else pad_id
                    for d in offsets
                ]
            )
            centres.append(centre)
    return torch.tensor(contexts, dtype=torch.int64).reshape(
        -1, 2 * window
    ), torch.tensor(centres, dtype=torch.int64)
# fmt: on


# end of generated cbow_windows


# generated from solutions/02-word2vec/02-word2vec.ipynb (noise_distribution): edit it there, then python -m grader reference
# fmt: off
def noise_distribution(counts: Tensor, power: float = 0.75) -> Tensor:
    """The distribution negatives are drawn from: the
    unigram distribution raised to ``power``, renormalised.

    Args:
        counts: (V,) how often each word occurs (int or float).
        power:  0.75 in word2vec: frequent words are drawn
                less than their frequency, rare words more.

    Returns:
        (V,) floating-point probabilities summing to 1 (float32
        for integer counts), proportional to counts ** power.
    """
    weights = counts.float().pow(power)  # (V,)
    return weights / weights.sum()
# fmt: on


# end of generated noise_distribution


# generated from solutions/02-word2vec/02-word2vec.ipynb (SkipGramNegativeSampling): edit it there, then python -m grader reference
# fmt: off
class SkipGramNegativeSampling(nn.Module):
    """Skip-gram with negative sampling: a centre word's vector should score its true
    context words high and ``n_negatives`` random words
    (drawn from ``noise_distribution(counts)``) low.

    loss = mean over the batch of  -log σ(u_o · v_c) - Σ_k log σ(-u_k · v_c)

    with v_c = in_embed(centre), u_o = out_embed(context), u_k = out_embed(negative k).

    Attributes:
        in_embed:  nn.Embedding(V, d), the word vectors v (the product of word2vec).
        out_embed: nn.Embedding(V, d), the context vectors u.
        noise:     (V,) buffer, the noise distribution.
    """

    def __init__(self, counts: Tensor, d_embed: int, n_negatives: int = 5):
        super().__init__()
        vocab_size = counts.shape[0]
        self.n_negatives = n_negatives
        self.in_embed = nn.Embedding(vocab_size, d_embed)
        self.out_embed = nn.Embedding(vocab_size, d_embed)
        nn.init.uniform_(self.in_embed.weight, -0.5 / d_embed, 0.5 / d_embed)
        nn.init.zeros_(self.out_embed.weight)
        self.register_buffer("noise", noise_distribution(counts))

    def sample_negatives(self, batch: int) -> Tensor:
        """(batch, n_negatives) int64 ids drawn from ``self.noise``
        with replacement (torch's global generator)."""
        flat = torch.multinomial(self.noise, batch * self.n_negatives, replacement=True)
        return flat.view(batch, self.n_negatives)

    def forward(
        self, centres: Tensor, contexts: Tensor, negatives: Tensor | None = None
    ) -> Tensor:
        """The loss of a batch of pairs.

        Args:
            centres:   (batch,) int64 centre word ids.
            contexts:  (batch,) int64 true context word ids.
            negatives: (batch, n_negatives) int64 noise ids;
                       drawn with ``sample_negatives`` when None.

        Returns:
            () the mean loss over the batch.
        """
        if negatives is None:
            negatives = self.sample_negatives(centres.shape[0])
        v = self.in_embed(centres)  # (batch, d)
        u_pos = self.out_embed(contexts)  # (batch, d)
        u_neg = self.out_embed(negatives)  # (batch, K, d)
        pos = F.logsigmoid((v * u_pos).sum(-1))  # (batch,)
        neg = F.logsigmoid(-(u_neg @ v.unsqueeze(-1)).squeeze(-1)).sum(-1)  # (batch,)
        return -(pos + neg).mean()
# fmt: on


# end of generated SkipGramNegativeSampling


# generated from solutions/02-word2vec/02-word2vec.ipynb (CBOWNegativeSampling): edit it there, then python -m grader reference
# fmt: off
class CBOWNegativeSampling(SkipGramNegativeSampling):
    """CBOW with negative sampling: the average of the context words' vectors should
    score the centre word high and ``n_negatives`` random words (drawn from
    ``noise_distribution(counts)``) low. It is skip-gram's loss
    with the centre's vector v_c replaced by that average h:

    loss = mean over the batch of  -log σ(u_o · h) - Σ_k log σ(-u_k · h)

    with h = the mean of in_embed(w) over the context words w (``pad_id`` slots left
    out), u_o = out_embed(centre), u_k = out_embed(negative k). The tables, their
    initialisation, the noise and ``sample_negatives`` are skip-gram's.

    Attributes:
        in_embed:  nn.Embedding(V, d), the word vectors v (the product of word2vec).
        out_embed: nn.Embedding(V, d), the vectors u of the predicted (centre) words.
        noise:     (V,) buffer, the noise distribution.
        pad_id:    the id of the empty context slots.
    """

    def __init__(
        self, counts: Tensor, d_embed: int, n_negatives: int = 5, pad_id: int = 0
    ):
        super().__init__(counts, d_embed, n_negatives)
        self.pad_id = pad_id

    def context_vector(self, contexts: Tensor) -> Tensor:
        """(batch, 2 * window) context ids -> (batch, d) the
        mean vector of the context words that are not padding."""
        # (batch, 2w, 1): padding does not count
        present = (contexts != self.pad_id).unsqueeze(-1).float()
        summed = (self.in_embed(contexts) * present).sum(1)  # (batch, d)
        return summed / present.sum(1).clamp(min=1.0)  # (batch, d)

    def forward(
        self, contexts: Tensor, centres: Tensor, negatives: Tensor | None = None
    ) -> Tensor:
        """The loss of a batch of windows.

        Args:
            contexts:  (batch, 2 * window) int64 context
                       ids, ``pad_id`` where a slot is empty.
            centres:   (batch,) int64 centre word ids, the words to predict.
            negatives: (batch, n_negatives) int64 noise ids;
                       drawn with ``sample_negatives`` when None.

        Returns:
            () the mean loss over the batch.
        """
        if negatives is None:
            negatives = self.sample_negatives(centres.shape[0])
        h = self.context_vector(contexts)  # (batch, d)
        u_pos = self.out_embed(centres)  # (batch, d)
        u_neg = self.out_embed(negatives)  # (batch, K, d)
        pos = F.logsigmoid((h * u_pos).sum(-1))  # (batch,)
        # (batch, K) dot products u_k . h as a product and a sum: for small batches
        # faster than skip-gram's batch of matrix products (equal up to rounding)
        neg = F.logsigmoid(-(u_neg * h.unsqueeze(1)).sum(-1)).sum(-1)  # (batch,)
        return -(pos + neg).mean()
# fmt: on


# end of generated CBOWNegativeSampling


class CBOW(nn.Module):
    """Continuous bag of words: average the context words' vectors, predict the centre word with a softmax
    over the whole vocabulary (small here; word2vec uses negative sampling for large vocabularies).

    Attributes:
        in_embed: nn.Embedding(V, d, padding_idx=pad_id), the word vectors (the product).
        out:      nn.Linear(d, V, bias=False), one output vector per word.
    """

    def __init__(self, vocab_size: int, d_embed: int, pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        self.in_embed = nn.Embedding(vocab_size, d_embed, padding_idx=pad_id)
        self.out = nn.Linear(d_embed, vocab_size, bias=False)

    def forward(self, contexts: Tensor) -> Tensor:
        """(batch, 2 * window) context ids -> (batch, V) logits of the centre word."""
        present = (contexts != self.pad_id).unsqueeze(-1).float()  # (batch, 2w, 1): padding does not count
        summed = (self.in_embed(contexts) * present).sum(1)  # (batch, d)
        mean = summed / present.sum(1).clamp(min=1.0)  # (batch, d)
        return self.out(mean)


# generated from solutions/02-word2vec/02-word2vec.ipynb (cosine_similarity_matrix): edit it there, then python -m grader reference
# fmt: off
def cosine_similarity_matrix(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b``.

    out[i, j] = a_i · b_j / (max(||a_i||, eps) * max(||b_j||, eps))

    Args:
        a: (n, d) vectors.
        b: (m, d) vectors.
        eps: lower bound of a norm, so that a zero vector gives 0 and not NaN.

    Returns:
        (n, m) similarities in [-1, 1].
    """
    a_unit = a / a.norm(dim=-1, keepdim=True).clamp(min=eps)  # (n, d)
    b_unit = b / b.norm(dim=-1, keepdim=True).clamp(min=eps)  # (m, d)
    return a_unit @ b_unit.T
# fmt: on


# end of generated cosine_similarity_matrix


# generated from solutions/02-word2vec/02-word2vec.ipynb (nearest_neighbours): edit it there, then python -m grader reference
# fmt: off
def nearest_neighbours(embeddings: Tensor, ids: Tensor, k: int) -> Tensor:
    """The ``k`` words most similar (cosine) to
    each query word, the query itself excluded.

    Args:
        embeddings: (V, d) one vector per word.
        ids:        (n,) int64 query word ids.
        k:          how many neighbours (< V).

    Returns:
        (n, k) int64 ids, the most similar first.
    """
    similarity = cosine_similarity_matrix(embeddings[ids], embeddings)  # (n, V)
    # never the word itself
    similarity[torch.arange(len(ids), device=ids.device), ids] = float("-inf")
    return similarity.topk(k, dim=-1).indices
# fmt: on


# end of generated nearest_neighbours


# generated from solutions/02-word2vec/02-word2vec.ipynb (analogy): edit it there, then python -m grader reference
# fmt: off
def analogy(embeddings: Tensor, a: Tensor, b: Tensor, c: Tensor, k: int = 1) -> Tensor:
    """Answer "a - b + c = ?": the ``k`` words whose vectors are most similar (cosine)
    to ê_a - ê_b + ê_c (ê: the unit-length vectors), never a, b or c themselves.

    Args:
        embeddings: (V, d) one vector per word.
        a, b, c:    (n,) int64 word ids, n questions at once.
        k:          how many answers per question.

    Returns:
        (n, k) int64 ids, the best answer first.
    """
    unit = embeddings / embeddings.norm(dim=-1, keepdim=True).clamp(min=1e-8)  # (V, d)
    target = unit[a] - unit[b] + unit[c]  # (n, d)
    similarity = cosine_similarity_matrix(target, unit)  # (n, V)
    rows = torch.arange(len(a), device=a.device)
    for ids in (a, b, c):
        similarity[rows, ids] = float("-inf")  # the inputs are never the answer
    return similarity.topk(k, dim=-1).indices
# fmt: on


# end of generated analogy

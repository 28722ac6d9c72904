"""tinyformer.word2vec (chapter 02): each piece pinned on fixed inputs and against independent references."""

import math

import pytest
import torch
import torch.nn.functional as F

from tinyformer.corpus import analogy_questions, generate_corpus
from tinyformer.word2vec import (
    CBOW,
    CBOWNegativeSampling,
    SkipGramNegativeSampling,
    Vocabulary,
    analogy,
    cbow_windows,
    cosine_similarity_matrix,
    nearest_neighbours,
    noise_distribution,
    one_hot,
    skipgram_pairs,
)


def test_vocabulary_orders_by_frequency_then_alphabet_after_the_specials():
    vocab = Vocabulary([["b", "a", "b"], ["c", "b", "a", "d"]])
    assert vocab.itos == ["<pad>", "<unk>", "b", "a", "c", "d"]
    assert vocab.stoi == {w: i for i, w in enumerate(vocab.itos)}
    assert (vocab.pad_id, vocab.unk_id, len(vocab)) == (0, 1, 6)
    assert vocab.counts.tolist() == [0, 0, 3, 2, 1, 1] and vocab.counts.dtype == torch.int64
    assert vocab.encode(["d", "zebra", "b"]) == [5, 1, 2]
    assert vocab.decode(torch.tensor([3, 0, 1])) == ["a", "<pad>", "<unk>"]


def test_vocabulary_min_count_sends_rare_words_to_unk():
    vocab = Vocabulary([["x", "y", "x"], ["z", "y"]], min_count=2)
    assert vocab.itos == ["<pad>", "<unk>", "x", "y"]
    assert vocab.encode(["z", "x"]) == [vocab.unk_id, 2]


def test_vocabulary_round_trips_the_corpus():
    sentences = generate_corpus(300, seed=1)
    vocab = Vocabulary(sentences)
    assert all(vocab.decode(vocab.encode(s)) == s for s in sentences)
    assert int(vocab.counts.sum()) == sum(map(len, sentences))


def test_one_hot_matches_torch_and_keeps_shape():
    ids = torch.tensor([[3, 0], [1, 3]])
    out = one_hot(ids, 5)
    assert out.shape == (2, 2, 5) and out.dtype == torch.float32
    torch.testing.assert_close(out, F.one_hot(ids, 5).float())
    assert one_hot(torch.tensor(2), 3).tolist() == [0.0, 0.0, 1.0]


def test_skipgram_pairs_by_hand():
    pairs = skipgram_pairs([[10, 11, 12], [20, 21]], window=1)
    assert pairs.dtype == torch.int64
    assert pairs.tolist() == [[10, 11], [11, 10], [11, 12], [12, 11], [20, 21], [21, 20]]


@pytest.mark.parametrize("window", [1, 2, 3, 10])
def test_skipgram_pairs_count_and_no_crossing(window):
    sentences = [list(range(100 * k, 100 * k + n)) for k, n in enumerate([1, 4, 7, 2])]
    pairs = skipgram_pairs(sentences, window)
    expected = sum(sum(min(i, window) + min(n - 1 - i, window) for i in range(n)) for n in [1, 4, 7, 2])
    assert pairs.shape == (expected, 2)
    assert ((pairs[:, 0] // 100) == (pairs[:, 1] // 100)).all(), "a pair crossed a sentence boundary"
    distance = (pairs[:, 0] - pairs[:, 1]).abs()
    assert ((distance >= 1) & (distance <= window)).all()


def test_skipgram_pairs_of_single_words_is_empty():
    assert skipgram_pairs([[5], [6]], window=2).shape == (0, 2)


def test_cbow_windows_slots_and_padding():
    contexts, centres = cbow_windows([[10, 11, 12], [20]], window=2, pad_id=0)
    assert centres.tolist() == [10, 11, 12, 20]
    assert contexts.tolist() == [[0, 0, 11, 12], [0, 10, 12, 0], [10, 11, 0, 0], [0, 0, 0, 0]]
    assert contexts.dtype == centres.dtype == torch.int64


def test_cbow_windows_and_skipgram_pairs_agree():
    sentences = [generate_corpus(1, seed=s)[0] for s in range(20)]
    vocab = Vocabulary(sentences)
    encoded = [vocab.encode(s) for s in sentences]
    contexts, centres = cbow_windows(encoded, 3, vocab.pad_id)
    from_cbow = sorted((c, w) for row, c in zip(contexts.tolist(), centres.tolist()) for w in row if w != vocab.pad_id)
    assert from_cbow == sorted(map(tuple, skipgram_pairs(encoded, 3).tolist()))


def test_noise_distribution_is_unigram_to_the_three_quarters():
    p = noise_distribution(torch.tensor([0, 0, 1, 16, 81]))
    torch.testing.assert_close(p, torch.tensor([0.0, 0.0, 1.0, 8.0, 27.0]) / 36)
    assert p.dtype == torch.float32
    torch.testing.assert_close(noise_distribution(torch.tensor([1.0, 3.0]), power=1.0), torch.tensor([0.25, 0.75]))


def loss_by_loop(V, U, centres, contexts, negatives):
    total = 0.0
    for c, o, ns in zip(centres.tolist(), contexts.tolist(), negatives.tolist()):
        total += -math.log(1 / (1 + math.exp(-float(U[o] @ V[c]))))
        total += sum(-math.log(1 / (1 + math.exp(float(U[n] @ V[c])))) for n in ns)
    return total / len(centres)


def test_sgns_loss_equals_the_formula():
    g = torch.Generator().manual_seed(0)
    model = SkipGramNegativeSampling(torch.tensor([0, 0, 4, 2, 7, 1]), d_embed=3, n_negatives=2)
    V, U = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    with torch.no_grad():
        model.in_embed.weight.copy_(V)
        model.out_embed.weight.copy_(U)
    centres, contexts = torch.tensor([2, 3, 4]), torch.tensor([3, 5, 2])
    negatives = torch.tensor([[4, 5], [2, 2], [3, 4]])
    loss = model(centres, contexts, negatives)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(loss_by_loop(V, U, centres, contexts, negatives), rel=1e-5)


def test_sgns_untrained_loss_is_k_plus_one_log_two():
    model = SkipGramNegativeSampling(torch.tensor([0, 0, 3, 3]), d_embed=8, n_negatives=5)
    assert model(torch.tensor([2, 3]), torch.tensor([3, 2])).item() == pytest.approx(6 * math.log(2))


def test_sgns_negatives_follow_the_noise_distribution():
    counts = torch.tensor([0, 0, 1, 10, 100, 1000])
    model = SkipGramNegativeSampling(counts, d_embed=2, n_negatives=4)
    torch.manual_seed(0)
    draws = model.sample_negatives(50_000)
    assert draws.shape == (50_000, 4) and draws.dtype == torch.int64
    freq = torch.bincount(draws.flatten(), minlength=6).double() / draws.numel()
    assert freq[:2].sum() == 0, "the specials must never be drawn"
    torch.testing.assert_close(freq, noise_distribution(counts).double(), atol=0.005, rtol=0)


def test_cbow_ignores_padding():
    model = CBOW(6, 4, pad_id=0)
    with torch.no_grad():
        model.in_embed.weight[0] = 100.0  # would change the mean if padding counted
    a = model(torch.tensor([[0, 2, 3, 0]]))
    b = model(torch.tensor([[2, 3]]))
    torch.testing.assert_close(a, b)
    assert model(torch.tensor([[0, 0]])).abs().sum() == 0  # all padding: a zero context


def test_cbow_negative_sampling_is_skipgrams_loss_on_the_mean_context_vector():
    counts = torch.tensor([0, 0, 5, 3, 9, 1, 2])
    model = CBOWNegativeSampling(counts, d_embed=4, n_negatives=3)
    contexts = torch.tensor([[0, 2, 3, 0], [4, 5, 6, 2]])
    centres = torch.tensor([4, 3])
    assert model(contexts, centres).item() == pytest.approx(4 * math.log(2))  # out_embed starts at 0: K + 1 scores of 0
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.in_embed.weight.copy_(torch.randn(7, 4, generator=g))
        model.out_embed.weight.copy_(torch.randn(7, 4, generator=g))
        model.in_embed.weight[0] = 100.0  # the padding row: it must not count
    negatives = torch.tensor([[2, 5, 6], [4, 4, 2]])
    V, U = model.in_embed.weight.detach(), model.out_embed.weight.detach()
    expected = []
    for row, o, ns in zip(contexts.tolist(), centres.tolist(), negatives.tolist()):
        h = torch.stack([V[w] for w in row if w != 0]).mean(0)
        expected.append(-F.logsigmoid(U[o] @ h) - sum(F.logsigmoid(-(U[n] @ h)) for n in ns))
    torch.testing.assert_close(model(contexts, centres, negatives), torch.stack(expected).mean())
    torch.testing.assert_close(
        model.context_vector(torch.tensor([[0, 0]])), torch.zeros(1, 4)
    )  # all padding: a zero context
    model(contexts, centres, negatives).backward()
    assert model.in_embed.weight.grad[0].abs().sum() == 0 and model.in_embed.weight.grad[[2, 3]].abs().sum() > 0
    assert model.noise.sum().item() == pytest.approx(1.0) and model.sample_negatives(5).shape == (5, 3)


def test_cosine_similarity_matrix_by_hand_and_against_torch():
    a = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    torch.testing.assert_close(cosine_similarity_matrix(a, b), torch.tensor([[0.6, 0.8], [0.0, 0.0]]))
    x, y = torch.randn(4, 5, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64) * 3
    torch.testing.assert_close(cosine_similarity_matrix(x, y), F.cosine_similarity(x[:, None], y[None], dim=-1))


def test_nearest_neighbours_use_cosine_and_exclude_the_query():
    E = torch.tensor([[1.0, 0.0], [0.1, 0.01], [5.0, 5.0], [0.0, 1.0], [-1.0, 0.0]])
    assert nearest_neighbours(E, torch.tensor([0, 3]), k=2).tolist() == [[1, 2], [2, 1]]


def test_analogy_excludes_the_inputs():
    R, C, M, Fe, N4, N5 = torch.eye(6)
    E = torch.stack([R + 0.3 * M, R + 0.3 * Fe + 0.5 * N5, C + 0.3 * M, C + 0.3 * Fe, N4, N5])
    a, b, c = torch.tensor([0]), torch.tensor([2]), torch.tensor([3])
    unit = E / E.norm(dim=1, keepdim=True)
    assert cosine_similarity_matrix(unit[a] - unit[b] + unit[c], E).argmax().item() == 0  # king itself is closest
    assert analogy(E, a, b, c).tolist() == [[1]]  # queen, once the inputs are excluded
    top = analogy(E, a, b, c, k=3)
    assert top.shape == (1, 3) and not set(top[0].tolist()) & {0, 2, 3}


def test_skipgram_learns_the_corpus_analogies():
    """The chapter's experiment: a few seconds of training answer nearly every analogy question."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and stays fast on a busy machine
    try:
        accuracy, E, vocab = train_skipgram()
    finally:
        torch.set_num_threads(threads)
    assert accuracy >= 0.9, accuracy
    assert vocab.decode(nearest_neighbours(E, torch.tensor(vocab.encode(["king"])), 1)[0]) != ["king"]


def train_skipgram():
    torch.manual_seed(0)
    sentences = generate_corpus(4000, seed=0)
    vocab = Vocabulary(sentences)
    pairs = skipgram_pairs([vocab.encode(s) for s in sentences], 4)
    model = SkipGramNegativeSampling(vocab.counts, 32)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        order = torch.randperm(len(pairs), generator=g)
        for i in range(0, len(pairs), 256):
            batch = pairs[order[i : i + 256]]
            loss = model(batch[:, 0], batch[:, 1])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    E = model.in_embed.weight.detach().clone()
    E[:2] = 0
    q = torch.tensor([vocab.encode(question) for question in analogy_questions()])
    accuracy = (analogy(E, q[:, 0], q[:, 1], q[:, 2])[:, 0] == q[:, 3]).float().mean().item()
    return accuracy, E, vocab

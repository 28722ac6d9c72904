"""Chapter 02 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (windows off by one or crossing sentences, the wrong noise distribution, cosine
without normalisation, an analogy that answers with an input) each lose points."""

import pytest

from tests.submissions import grade_class, messages

CHAPTER = "02-word2vec"
OFF_BY_ONE = '''def skipgram_pairs(sentences, window):
    pairs = []
    for sentence in sentences:
        for i, centre in enumerate(sentence):
            for j in range(max(0, i - window), min(len(sentence), i + window)):  # misses the right edge
                if j != i:
                    pairs.append((centre, sentence[j]))
    return torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2)


def cbow_windows(sentences, window, pad_id):
    flat = [w for s in sentences for w in s]  # crosses sentence boundaries
    offsets = [d for d in range(-window, window + 1) if d != 0]
    rows = [[flat[i + d] if 0 <= i + d < len(flat) else pad_id for d in offsets] for i in range(len(flat))]
    return torch.tensor(rows, dtype=torch.int64), torch.tensor(flat, dtype=torch.int64)
'''

UNIFORM_NOISE = '''def noise_distribution(counts, power=0.75):
    return torch.full((counts.shape[0],), 1.0 / counts.shape[0])
'''

DOT_COSINE = '''def cosine_similarity_matrix(a, b, eps=1e-8):
    return a @ b.T  # no normalisation


def nearest_neighbours(embeddings, ids, k):
    similarity = cosine_similarity_matrix(embeddings[ids], embeddings)
    similarity[torch.arange(len(ids)), ids] = float("-inf")
    return similarity.topk(k, dim=-1).indices
'''

INPUT_ANALOGY = '''def analogy(embeddings, a, b, c, k=1):
    unit = embeddings / embeddings.norm(dim=-1, keepdim=True)
    target = unit[a] - unit[b] + unit[c]
    return cosine_similarity_matrix(target, unit).topk(k, dim=-1).indices  # inputs not excluded
'''

EXPECTED = {  # student -> autograded score out of 18
    "reference": 18, "untouched": 0,
    "off_by_one_windows": 14, "uniform_noise": 17, "dot_product_cosine": 14, "analogy_returns_input": 15,
}
ANSWERS = {
    "off_by_one_windows": {"skipgram_pairs": OFF_BY_ONE},
    "uniform_noise": {"noise_distribution": UNIFORM_NOISE},
    "dot_product_cosine": {"cosine_similarity": DOT_COSINE},
    "analogy_returns_input": {"analogy": INPUT_ANALOGY},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_class(CHAPTER, ANSWERS, tmp_path_factory.mktemp("submissions02"))


def test_scores(results):
    assert results["reference"].max_score == 18
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_messages_name_the_mistake(results):
    assert "uniform distribution" in messages(results["uniform_noise"])
    assert "dot product" in messages(results["dot_product_cosine"])
    assert "one of the inputs" in messages(results["analogy_returns_input"])

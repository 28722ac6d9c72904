"""Chapter 03 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (softmax over the wrong axis, no scaling, scaling by d_k, the mask applied after the
softmax, q and k swapped, NaN for a fully masked row, additive attention without tanh, self-attention
without a value projection) each lose points."""

import pytest

from tests.submissions import grade_class, messages

CHAPTER = "03-attention"


def attention(scores: str = "q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))", softmax_axis: int = -1,
              mask_after: bool = False, zero_empty_rows: bool = True) -> str:
    """A scaled_dot_product_attention with one part changed."""
    lines = ["def scaled_dot_product_attention(q, k, v, mask=None):", f"    scores = {scores}"]
    if mask_after:
        lines += [f"    weights = torch.softmax(scores, dim={softmax_axis})",
                  "    if mask is not None:",
                  "        weights = weights * mask  # zeroed after the softmax, not renormalised"]
    else:
        lines += ["    if mask is not None:",
                  "        scores = scores.masked_fill(~mask, float('-inf'))",
                  f"    weights = torch.softmax(scores, dim={softmax_axis})"]
        if zero_empty_rows:
            lines += ["    if mask is not None:",
                      "        weights = torch.where(mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights))"]
    lines += ["    return weights @ v, weights", ""]
    return "\n".join(lines)


NW_WRONG_AXIS = '''def nadaraya_watson(x_query, x_train, y_train, bandwidth):
    distances = x_query[:, None] - x_train[None, :]
    weights = torch.softmax(-(distances**2) / (2 * bandwidth**2), dim=0)  # over the queries
    return weights @ y_train, weights
'''

ADDITIVE_NO_TANH = '''class AdditiveAttention(nn.Module):
    def __init__(self, d_query, d_key, d_hidden):
        super().__init__()
        self.W_q = nn.Linear(d_query, d_hidden, bias=False)
        self.W_k = nn.Linear(d_key, d_hidden, bias=False)
        self.v_a = nn.Linear(d_hidden, 1, bias=False)

    def forward(self, q, k, v, mask=None):
        features = self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3)  # no tanh
        scores = self.v_a(features).squeeze(-1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = torch.where(mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights))
        return weights @ v, weights
'''

SELF_ATTENTION_RAW_VALUES = '''class SelfAttention(nn.Module):
    def __init__(self, d_model, d_k=None):
        super().__init__()
        d_k = d_model if d_k is None else d_k
        self.W_q = nn.Linear(d_model, d_k, bias=False)
        self.W_k = nn.Linear(d_model, d_k, bias=False)
        self.W_v = nn.Linear(d_model, d_k, bias=False)

    def forward(self, x, mask=None):
        return scaled_dot_product_attention(self.W_q(x), self.W_k(x), x, mask)  # values not projected
'''

ANSWERS = {
    "nadaraya_watson_wrong_axis": {"nadaraya_watson": NW_WRONG_AXIS},
    "softmax_wrong_axis": {"scaled_dot_product_attention": attention(softmax_axis=-2)},
    "no_scaling": {"scaled_dot_product_attention": attention(scores="q @ k.transpose(-2, -1)")},
    "scaled_by_d_k": {"scaled_dot_product_attention": attention(scores="q @ k.transpose(-2, -1) / q.size(-1)")},
    "mask_after_softmax": {"scaled_dot_product_attention": attention(mask_after=True)},
    "q_k_swapped": {"scaled_dot_product_attention": attention(scores="k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))")},
    "nan_for_fully_masked_row": {"scaled_dot_product_attention": attention(zero_empty_rows=False)},
    "additive_without_tanh": {"additive_attention": ADDITIVE_NO_TANH},
    "self_attention_raw_values": {"self_attention": SELF_ATTENTION_RAW_VALUES},
}
EXPECTED = {  # student -> autograded score out of 13 (the written question, 2 more points, is graded by hand)
    "reference": 13, "untouched": 0,
    "nadaraya_watson_wrong_axis": 11,
    "softmax_wrong_axis": 7, "no_scaling": 7, "scaled_by_d_k": 7, "q_k_swapped": 7,
    "mask_after_softmax": 10, "nan_for_fully_masked_row": 10,
    "additive_without_tanh": 10, "self_attention_raw_values": 11,
}
MESSAGES = {  # student -> what the failing tests' messages must say
    "nadaraya_watson_wrong_axis": "softmax over the key axis?",
    "softmax_wrong_axis": "softmax over the key axis?",
    "no_scaling": "did you scale by √d_k?",
    "scaled_by_d_k": "not by d_k",
    "mask_after_softmax": "apply the mask before the softmax",
    "q_k_swapped": "q @ k.transpose(-2, -1)",
    "nan_for_fully_masked_row": "softmax(-inf, ..., -inf) is 0/0",
    "additive_without_tanh": "the tanh is missing",
    "self_attention_raw_values": "the values should be W_v(x), not x itself",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_class(CHAPTER, ANSWERS, tmp_path_factory.mktemp("submissions03"))


def test_scores(results):
    assert results["reference"].max_score == 13
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_messages_name_the_mistake(results):
    for student, phrase in MESSAGES.items():
        said = messages(results[student])
        assert phrase in said, f"{student}: {phrase!r} not in {said!r}"


def test_self_attention_is_graded_apart_from_the_attention_function(results):
    """A wrong scaled_dot_product_attention costs the points of its own tests, not those of SelfAttention."""
    cells = {c.grade_id: c for c in results["no_scaling"].cells}
    assert cells["test_self_attention"].score == cells["test_self_attention"].max_score

"""Chapter 04 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (heads split along the wrong axis, a merge that scrambles the heads, no W_o, a
per-example mask not broadcast over the heads, scores divided by sqrt(d_model), a loop over the heads, a
parameter count without W_o) each lose points."""

import pytest

from tests.submissions import grade_class, messages

CHAPTER = "04-multi-head"

SPLIT_WRONG_AXIS = '''def split_heads(x, n_heads):
    batch, seq, d_model = x.shape
    return x.view(batch, n_heads, seq, d_model // n_heads)  # right shape, wrong content
'''

MERGE_SCRAMBLED = '''def merge_heads(x):
    batch, n_heads, seq, d_head = x.shape
    return x.reshape(batch, seq, n_heads * d_head)  # no transpose: heads and positions mixed
'''

MHA_TEMPLATE = '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0, bias=True, fast=True):
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads, self.d_head, self.dropout, self.fast = n_heads, d_model // n_heads, dropout, fast
        self.W_q = nn.Linear(d_model, d_model, bias=bias)
        self.W_k = nn.Linear(d_model, d_model, bias=bias)
        self.W_v = nn.Linear(d_model, d_model, bias=bias)
        self.W_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key_value=None, mask=None, need_weights=False):
        key_value = query if key_value is None else key_value
        q = split_heads(self.W_q(query), self.n_heads)
        k = split_heads(self.W_k(key_value), self.n_heads)
        v = split_heads(self.W_v(key_value), self.n_heads)
{body}
'''

CORRECT_TAIL = '''        p = self.dropout if self.training else 0.0
        if self.fast and not need_weights:
            out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p), None
        else:
            out, weights = scaled_dot_product_attention(q, k, v, mask)
            if p > 0:
                out = F.dropout(weights, p) @ v
'''

UNSQUEEZE = '''        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
'''

NO_W_O = MHA_TEMPLATE.format(body=UNSQUEEZE + CORRECT_TAIL + '''        return merge_heads(out), weights  # W_o forgotten
''')

MASK_NOT_PER_HEAD = MHA_TEMPLATE.format(body=CORRECT_TAIL + '''        return self.W_o(merge_heads(out)), weights  # a 3-D mask is used as it is
''')

SCALE_BY_D_MODEL = MHA_TEMPLATE.format(body=UNSQUEEZE + '''        p = self.dropout if self.training else 0.0
        d_model = self.n_heads * self.d_head
        if self.fast and not need_weights:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, scale=1 / math.sqrt(d_model))
            weights = None
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(d_model)  # should be sqrt(d_head)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = scores.softmax(-1)
            out = F.dropout(weights, p) @ v
        return self.W_o(merge_heads(out)), weights
''')

LOOP_OVER_HEADS = MHA_TEMPLATE.format(body=UNSQUEEZE + '''        p = self.dropout if self.training else 0.0
        outs, all_weights = [], []
        for h in range(self.n_heads):  # one head at a time: right numbers, no batching
            m = None if mask is None else mask.expand(q.shape[0], self.n_heads, q.shape[2], k.shape[2])[:, h]
            o, w = scaled_dot_product_attention(q[:, h], k[:, h], v[:, h], m)
            if p > 0:
                o = F.dropout(w, p) @ v[:, h]
            outs.append(o)
            all_weights.append(w)
        weights = torch.stack(all_weights, dim=1)
        out = torch.stack(outs, dim=1)
        return self.W_o(merge_heads(out)), (weights if need_weights or not self.fast else None)
''')

COUNT_WITHOUT_W_O = '''def mha_parameter_count(d_model, n_heads, bias=True, d_head=None):
    inner = n_heads * (d_model // n_heads if d_head is None else d_head)
    return 3 * (d_model * inner + (inner if bias else 0))  # W_o forgotten
'''

EXPECTED = {  # student -> autograded score out of 14
    "reference": 14, "untouched": 0,
    "split_wrong_axis": 4, "merge_scrambled": 4, "missing_w_o": 6, "mask_not_per_head": 11,
    "scale_by_sqrt_d_model": 6, "loop_over_heads": 12, "count_without_w_o": 12,
}
ANSWERS = {
    "split_wrong_axis": {"split_heads": SPLIT_WRONG_AXIS},
    "merge_scrambled": {"merge_heads": MERGE_SCRAMBLED},
    "missing_w_o": {"multi_head_attention": NO_W_O},
    "mask_not_per_head": {"multi_head_attention": MASK_NOT_PER_HEAD},
    "scale_by_sqrt_d_model": {"multi_head_attention": SCALE_BY_D_MODEL},
    "loop_over_heads": {"multi_head_attention": LOOP_OVER_HEADS},
    "count_without_w_o": {"mha_parameter_count": COUNT_WITHOUT_W_O},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_class(CHAPTER, ANSWERS, tmp_path_factory.mktemp("submissions04"))


def test_scores(results):
    assert results["reference"].max_score == 14
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_messages_name_the_mistake(results):
    assert "wrong axis" in messages(results["split_wrong_axis"])
    assert "scrambled" in messages(results["merge_scrambled"])
    assert "apply W_o" in messages(results["missing_w_o"])
    assert "unsqueeze(1)" in messages(results["mask_not_per_head"])
    assert "sqrt(d_head)" in messages(results["scale_by_sqrt_d_model"])
    assert "do not loop over" in messages(results["loop_over_heads"])
    assert "count the output projection W_o" in messages(results["count_without_w_o"])

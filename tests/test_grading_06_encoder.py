"""Chapter 06 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (LayerNorm over the wrong axis, with the unbiased variance, with eps outside the
square root; the residual taken after the norm in Pre-LN; a padding mask that never reaches attention)
each lose points, with a message that names the mistake."""

import pytest

from tests.submissions import grade_class

CHAPTER = "06-encoder"


def layer_norm(mean_var_and_out: str) -> str:
    return f'''class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
{mean_var_and_out}
'''


WRONG_AXIS = layer_norm('''        mean = x.mean(dim=0, keepdim=True)  # down the tokens, not over the features
        var = x.var(dim=0, keepdim=True, correction=0)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias''')
UNBIASED = layer_norm('''        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True)  # unbiased: divides by d - 1
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias''')
EPS_OUTSIDE = layer_norm('''        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True, correction=0)
        return (x - mean) / (std + self.eps) * self.weight + self.bias  # eps outside the square root''')

ENCODER_LAYER = '''class EncoderLayer(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
{body}
'''
RESIDUAL_AFTER_NORM = ENCODER_LAYER.format(body='''        if self.norm_first:
            h = self.norm1(x)
            x = h + self.dropout1(self.self_attn(h, mask=mask)[0])  # the residual adds the normalised x
            h = self.norm2(x)
            return h + self.dropout2(self.ff(h))
        x = self.norm1(x + self.dropout1(self.self_attn(x, mask=mask)[0]))
        return self.norm2(x + self.dropout2(self.ff(x)))''')
MASK_IGNORED_IN_LAYER = ENCODER_LAYER.format(body='''        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x))[0])  # mask never passed
            return x + self.dropout2(self.ff(self.norm2(x)))
        x = self.norm1(x + self.dropout1(self.self_attn(x)[0]))
        return self.norm2(x + self.dropout2(self.ff(x)))''')
# A correct alternative: attention called with key_value given explicitly, the residual written with a temporary.
EXPLICIT_LAYER = ENCODER_LAYER.format(body='''        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, mask)[0])
            return x + self.dropout2(self.ff(self.norm2(x)))
        attended, _ = self.self_attn(x, x, mask=mask)
        x = self.norm1(x + self.dropout1(attended))
        return self.norm2(x + self.dropout2(self.ff(x)))''')

ENCODER = '''class Encoder(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, d_ff, n_layers, max_len=512, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.positions = PositionalEncoding(d_model, max_len, dropout)
        self.layers = nn.ModuleList([EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation) for _ in range(n_layers)])
        self.norm = LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(self, tokens, mask=None):
{body}
'''
MASK_NOT_PASSED = ENCODER.format(body='''        x = self.positions(self.embedding(tokens) * math.sqrt(self.d_model))
        for layer in self.layers:
            x = layer(x)  # the mask stops here
        return self.norm(x)''')
NO_SCALE = ENCODER.format(body='''        x = self.positions(self.embedding(tokens))  # no sqrt(d_model)
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)''')

BATCH_NORM_OVER_FEATURES = '''def batch_norm(x, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)  # that is LayerNorm
    var = x.var(dim=-1, keepdim=True, correction=0)
    return (x - mean) / torch.sqrt(var + eps)
'''
FEED_FORWARD_ALWAYS_RELU = '''class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff, dropout=0.0, activation="relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = nn.ReLU()  # activation="gelu" ignored

    def forward(self, x):
        return self.linear2(self.dropout(self.activation(self.linear1(x))))
'''
# Correct alternatives: einsum-free functional forms and a hand-written variance.
LAYER_NORM_BY_HAND = layer_norm('''        centred = x - x.mean(-1, keepdim=True)
        return centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight + self.bias''')
BATCH_NORM_FLAT = '''def batch_norm(x, eps=1e-5):
    flat = x.reshape(-1, x.shape[-1])
    return ((flat - flat.mean(0)) / (flat.var(0, unbiased=False) + eps).sqrt()).reshape(x.shape)
'''

# Each mistake: the solution cell it is made in, its source, and the test cells it must fail with a word
# of their message. Every test cell grades one piece only (the tests swap in known-good LayerNorms,
# feed-forward networks and layers around the piece under test), so mistakes in different cells are
# graded together in one notebook: each must cost exactly its own cells.
MISTAKES = {
    "layer_norm_wrong_axis": ("layer_norm", WRONG_AXIS, {"test_layer_norm": "wrong axis"}),
    "layer_norm_unbiased": ("layer_norm", UNBIASED, {"test_layer_norm": "unbiased variance"}),
    "layer_norm_eps_outside_sqrt": ("layer_norm", EPS_OUTSIDE, {"test_layer_norm": "inside the square root"}),
    "batch_norm_over_features": ("batch_norm", BATCH_NORM_OVER_FEATURES, {"test_batch_norm": "that is LayerNorm"}),
    "feed_forward_ignores_gelu": ("feed_forward", FEED_FORWARD_ALWAYS_RELU, {"test_feed_forward": "should use GELU"}),
    "pre_ln_residual_after_norm": ("encoder_layer", RESIDUAL_AFTER_NORM, {"test_encoder_layer_pre_ln": "un-normalised input"}),
    "mask_ignored_in_layer": ("encoder_layer", MASK_IGNORED_IN_LAYER, {"test_encoder_layer_post_ln": "padding mask was ignored",
                                                                      "test_encoder_layer_pre_ln": "padding mask was ignored"}),
    "mask_not_passed_by_encoder": ("encoder", MASK_NOT_PASSED, {"test_encoder": "padding mask was ignored"}),
    "embedding_not_scaled": ("encoder", NO_SCALE, {"test_encoder": "sqrt(d_model)"}),
}
WITH_MISTAKES = {  # submission -> the mistakes it makes (at most one per solution cell)
    "mistakes_a": ["layer_norm_wrong_axis", "batch_norm_over_features", "pre_ln_residual_after_norm", "mask_not_passed_by_encoder"],
    "mistakes_b": ["layer_norm_unbiased", "feed_forward_ignores_gelu", "mask_ignored_in_layer", "embedding_not_scaled"],
    "mistakes_c": ["layer_norm_eps_outside_sqrt"],
}
EXPECTED = {  # student -> autograded score out of 15
    "reference": 15, "untouched": 0, "correct_alternatives": 15,
    "mistakes_a": 5,  # - layer norm 3, batch norm 2, Pre-LN layer 2, encoder 3
    "mistakes_b": 3,  # - layer norm 3, feed-forward 2, both layer tests 4, encoder 3
    "mistakes_c": 12,  # - layer norm 3
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    answers = {"correct_alternatives": {"layer_norm": LAYER_NORM_BY_HAND, "batch_norm": BATCH_NORM_FLAT,
                                        "encoder_layer": EXPLICIT_LAYER}}
    for student, mistakes in WITH_MISTAKES.items():
        answers[student] = {MISTAKES[m][0]: MISTAKES[m][1] for m in mistakes}
        assert len(answers[student]) == len(mistakes), f"{student} makes two mistakes in one cell"
    return grade_class(CHAPTER, answers, tmp_path_factory.mktemp("submissions06"))


def test_scores(results):
    assert results["reference"].max_score == 15
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_the_written_answer_is_left_for_manual_grading(results):
    assert [c.grade_id for c in results["reference"].cells if c.manual] == ["written_post_vs_pre_ln"]


def test_mistakes_cost_their_own_cells_with_messages_that_name_them(results):
    for student, mistakes in WITH_MISTAKES.items():
        cells = {c.grade_id: c for c in results[student].cells if not c.manual}
        failing = {grade_id for grade_id, c in cells.items() if c.score < c.max_score}
        expected = {grade_id for m in mistakes for grade_id in MISTAKES[m][2]}
        assert failing == expected, f"{student}: failing cells {sorted(failing)}, expected {sorted(expected)}"
        for mistake in mistakes:
            for grade_id, words in MISTAKES[mistake][2].items():
                assert words in (cells[grade_id].message or ""), f"{mistake}: {words!r} not in {cells[grade_id].message!r}"

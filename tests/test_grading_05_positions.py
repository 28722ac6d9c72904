"""Chapter 05 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (sine and cosine swapped, the exponent i instead of 2i, the 10000 base forgotten,
a table built on the CPU in forward or kept out of the module's buffers, RoPE rotating the pairs
(i, i + d/2), learned positions indexed from the CPU, an equivariance check that forgets to shuffle the
output) each lose points."""

import pytest

from tests.submissions import grade_class, messages

CHAPTER = "05-positions"

SIN_COS_SWAPPED = '''def sinusoidal_encoding(max_len, d_model):
    positions = torch.arange(max_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = positions / 10000 ** (two_i / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.cos(angles)  # swapped
    pe[:, 1::2] = torch.sin(angles[:, : d_model // 2])
    return pe
'''

EXPONENT_I = '''def sinusoidal_encoding(max_len, d_model):
    positions = torch.arange(max_len, dtype=torch.float32)[:, None]
    i = torch.arange((d_model + 1) // 2, dtype=torch.float32)  # the pair index, used where 2i belongs
    angles = positions / 10000 ** (i / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
'''

NO_BASE = '''def sinusoidal_encoding(max_len, d_model):
    positions = torch.arange(max_len, dtype=torch.float32)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = positions * torch.exp(-two_i / d_model)  # the log(10000) factor forgotten
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe
'''

TABLE_BUILT_IN_FORWARD = '''class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x):
        # a fresh table on the CPU at every call, instead of the buffer that moved with the module
        return self.dropout(x + sinusoidal_encoding(x.size(1), x.size(2)).to(x.dtype))
'''

TABLE_NOT_A_BUFFER = '''class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.pe = sinusoidal_encoding(max_len, d_model)  # a plain attribute: .to(device) leaves it behind

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(1)].to(x.dtype))
'''

LEARNED_ON_CPU = '''class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, offset=0):
        positions = torch.arange(offset, offset + x.size(1))  # on the CPU, whatever x.device
        return self.dropout(x + self.embedding(positions).to(x.dtype))
'''

ROPE_HALF_SPLIT = '''def apply_rope(x, offset=0, base=10000.0):
    seq, d = x.shape[-2], x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    positions = torch.arange(offset, offset + seq, device=x.device, dtype=torch.float32)
    angles = positions[:, None] * theta[None, :]
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]  # pairs (i, i + d/2): the rotate_half convention
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
'''

GAP_UNSHUFFLED = '''def permutation_equivariance_gap(layer, x, perm):
    def output(inputs):
        out = layer(inputs)
        return out[0] if isinstance(out, tuple) else out

    with torch.no_grad():
        return (output(x[:, perm]) - output(x)).abs().max().item()  # the output is not shuffled
'''

EXPECTED = {  # student -> autograded score out of 14
    "reference": 14, "untouched": 0,
    "sin_cos_swapped": 11, "exponent_i_not_2i": 11, "no_10000_base": 11,
    "table_built_in_forward": 11, "table_not_a_buffer": 11, "learned_positions_on_cpu": 12,
    "rope_half_split": 11, "gap_output_unshuffled": 12,
}
ANSWERS = {
    "sin_cos_swapped": {"sinusoidal_encoding": SIN_COS_SWAPPED},
    "exponent_i_not_2i": {"sinusoidal_encoding": EXPONENT_I},
    "no_10000_base": {"sinusoidal_encoding": NO_BASE},
    "table_built_in_forward": {"positional_encoding": TABLE_BUILT_IN_FORWARD},
    "table_not_a_buffer": {"positional_encoding": TABLE_NOT_A_BUFFER},
    "learned_positions_on_cpu": {"learned_positional_embedding": LEARNED_ON_CPU},
    "rope_half_split": {"apply_rope": ROPE_HALF_SPLIT},
    "gap_output_unshuffled": {"permutation_equivariance_gap": GAP_UNSHUFFLED},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_class(CHAPTER, ANSWERS, tmp_path_factory.mktemp("submissions05"))


def test_scores(results):
    assert results["reference"].max_score == 14
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_the_lost_points_are_in_the_right_cell(results):
    lost = {student: sorted(c.grade_id for c in results[student].auto_cells if c.score < c.max_score)
            for student in ANSWERS}
    assert lost == {
        "sin_cos_swapped": ["test_sinusoidal_encoding"],
        "exponent_i_not_2i": ["test_sinusoidal_encoding"],
        "no_10000_base": ["test_sinusoidal_encoding"],
        "table_built_in_forward": ["test_positional_encoding"],
        "table_not_a_buffer": ["test_positional_encoding"],
        "learned_positions_on_cpu": ["test_learned_positional_embedding"],
        "rope_half_split": ["test_apply_rope"],  # still a valid rotary embedding: the relative property holds
        "gap_output_unshuffled": ["test_permutation_equivariance_gap"],
    }


def test_messages_name_the_mistake(results):
    assert "sine and cosine are swapped" in messages(results["sin_cos_swapped"])
    assert "you used i/d_model" in messages(results["exponent_i_not_2i"])
    assert "the base is 10000" in messages(results["no_10000_base"])
    assert "not a table built on the CPU in forward" in messages(results["table_built_in_forward"])
    assert "register_buffer" in messages(results["table_not_a_buffer"])
    assert "device=x.device" in messages(results["learned_positions_on_cpu"])
    assert "(2i, 2i+1)" in messages(results["rope_half_split"])
    assert "layer(x)[:, perm]" in messages(results["gap_output_unshuffled"])

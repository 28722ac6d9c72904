"""Chapter 05 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (sine and cosine swapped, the exponent i instead of 2i, the 10000 base forgotten,
a table built on the CPU in forward or kept out of the module's buffers, RoPE rotating the pairs
(i, i + d/2), learned positions indexed from the CPU, an equivariance check that forgets to shuffle the
output) each lose points."""

from tests.submissions import case_makers, messages, mutate, round_trip

CHAPTER = "05-positions"

GAP_LINE = "gap = output(x[:, perm]) - output(x)[:, perm]  # (batch, seq, d_out)"
GAP_RETURN = "return gap.abs().max().item()"
POSITIONS = "positions = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)"
TWO_I = "# (ceil(d/2),) = 0, 2, 4, ...\n    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)"
ANGLES = "angles = positions / 10000 ** (two_i / d_model)  # (max_len, ceil(d/2))"
FILL = "pe[:, 0::2] = torch.sin(angles)\n    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])"
ADD = "return self.dropout(x + self.pe[:seq].to(x.dtype))"
LEARNED_LINES = "positions = torch.arange(offset, offset + x.size(1), device=x.device)\n        return self.dropout(x + self.embedding(positions).to(x.dtype))"
ROPE_POSITIONS = "positions = torch.arange(offset, offset + seq, device=x.device, dtype=torch.float32)"
ROTATED = (
    "# (..., seq, d/2, 2)\n"
    "    rotated = torch.stack(\n"
    "        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n"
    "    )"
)
COS_SIN = "cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)"
LENGTH_CHECK = (
    "        if seq > self.pe.size(0):\n"
    "            raise ValueError(\n"
    '                f"a sequence of {seq} tokens is longer "\n'
    '                f"than max_len={self.pe.size(0)}: build "\n'
    '                "PositionalEncoding with a larger max_len"\n'
    "            )\n"
)
PAIRS = "x_even, x_odd = x[..., 0::2], x[..., 1::2]  # the two coordinates of each pair"


# The wrong answers graded through nbgrader: each the reference of its cell with the one mistake.
SIN_COS_SWAPPED = mutate(
    CHAPTER,
    "sinusoidal_encoding",
    (FILL, "pe[:, 0::2] = torch.cos(angles)  # swapped\n    pe[:, 1::2] = torch.sin(angles[:, : d_model // 2])"),
    case="sin_cos_swapped",
)
EXPONENT_I = mutate(
    CHAPTER,
    "sinusoidal_encoding",
    (
        f"{TWO_I}\n    {ANGLES}",
        "i = torch.arange((d_model + 1) // 2, dtype=torch.float32)  # the pair index, used where 2i "
        "belongs\n    angles = positions / 10000 ** (i / d_model)",
    ),
    case="exponent_i_not_2i",
)
NO_BASE = mutate(
    CHAPTER,
    "sinusoidal_encoding",
    (ANGLES, "angles = positions * torch.exp(-two_i / d_model)  # the log(10000) factor forgotten"),
    case="no_10000_base",
)
TABLE_BUILT_IN_FORWARD = mutate(
    CHAPTER,
    "positional_encoding",
    (
        f"seq = x.size(1)\n{LENGTH_CHECK}        {ADD}",
        "# a fresh table on the CPU at every call, instead of the buffer that "
        "moved with the module\n        return self.dropout(x + sinusoidal_encoding(x.size(1), x.size(2)).to(x.dtype))",
    ),
    case="table_built_in_forward",
)
TABLE_NOT_A_BUFFER = mutate(
    CHAPTER,
    "positional_encoding",
    (
        "# moves with .to(device)\n"
        '        self.register_buffer(\n            "pe", sinusoidal_encoding(max_len, d_model), persistent=False\n        )',
        "# a plain attribute: .to(device) leaves it behind\n        self.pe = sinusoidal_encoding(max_len, d_model)",
    ),
    case="table_not_a_buffer",
)
LEARNED_ON_CPU = mutate(
    CHAPTER,
    "learned_positional_embedding",
    (
        "positions = torch.arange(offset, offset + x.size(1), device=x.device)",
        "positions = torch.arange(offset, offset + x.size(1))  # on the CPU, whatever x.device",
    ),
    case="learned_positions_on_cpu",
)
ROPE_HALF_SPLIT = mutate(
    CHAPTER,
    "apply_rope",
    (
        f"{PAIRS}\n    {ROTATED}\n    return rotated.flatten(-2)",
        "x1, x2 = x[..., : d // 2], x[..., d // 2 :]  # pairs (i, i + d/2): the rotate_half convention\n"
        "    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)",
    ),
    case="rope_half_split",
)
GAP_UNSHUFFLED = mutate(
    CHAPTER,
    "permutation_equivariance_gap",
    (
        f"{GAP_LINE}\n    {GAP_RETURN}",
        "return (output(x[:, perm]) - output(x)).abs().max().item()  # the output is not shuffled",
    ),
    case="gap_output_unshuffled",
)

EXPECTED = {  # student -> autograded score out of 14
    "reference": 14,
    "untouched": 0,
    "sin_cos_swapped": 11,
    "exponent_i_not_2i": 11,
    "no_10000_base": 11,
    "table_built_in_forward": 11,
    "table_not_a_buffer": 11,
    "learned_positions_on_cpu": 12,
    "rope_half_split": 11,
    "gap_output_unshuffled": 12,
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


GAP, SIN, PE, LEARNED = (
    ("test_permutation_equivariance_gap",),
    ("test_sinusoidal_encoding",),
    ("test_positional_encoding",),
    ("test_learned_positional_embedding",),
)
ROPE, ROPE_BOTH = ("test_apply_rope",), ("test_apply_rope", "test_rope_relative")


case, ok = case_makers(CHAPTER)


CASES = [
    # permutation_equivariance_gap
    case(
        "gap_unshuffled_output",
        "permutation_equivariance_gap",
        GAP,
        (GAP_LINE, "gap = output(x[:, perm]) - output(x)"),
        says="layer(x)[:, perm]",
    ),
    case(
        "gap_inverse_permutation",
        "permutation_equivariance_gap",
        GAP,
        (GAP_LINE, "gap = output(x[:, perm]) - output(x)[:, perm.argsort()]"),
        says="inverse permutation",
    ),
    case(
        "gap_batch_shuffled", "permutation_equivariance_gap", GAP, (GAP_LINE, "gap = output(x[perm]) - output(x)[perm]")
    ),
    case(
        "gap_tuple_not_unpacked",
        "permutation_equivariance_gap",
        GAP,
        ("return out[0] if isinstance(out, tuple) else out", "return out"),
        says="first element",
    ),
    case("gap_mean", "permutation_equivariance_gap", GAP, (GAP_RETURN, "return gap.abs().mean().item()")),
    case("gap_no_abs", "permutation_equivariance_gap", GAP, (GAP_RETURN, "return gap.max().item()"), says="absolute"),
    case(
        "gap_tensor_returned",
        "permutation_equivariance_gap",
        GAP,
        (GAP_RETURN, "return gap.abs().max()"),
        says="Python float",
    ),
    case("gap_l2_norm", "permutation_equivariance_gap", GAP, (GAP_RETURN, "return gap.norm().item()")),
    ok(
        "gap_unshuffle_the_shuffled",
        "permutation_equivariance_gap",
        (GAP_LINE, "gap = output(x[:, perm])[:, torch.argsort(perm)] - output(x)"),
    ),
    ok(
        "gap_index_select_float",
        "permutation_equivariance_gap",
        (GAP_LINE, "gap = output(x.index_select(1, perm)) - output(x).index_select(1, perm)"),
        (GAP_RETURN, "return float(torch.max(torch.abs(gap)))"),
    ),
    ok(
        "gap_detach_without_no_grad",
        "permutation_equivariance_gap",
        (
            "    with torch.no_grad():\n        " + GAP_LINE + "\n    " + GAP_RETURN,
            "    shuffled = output(x[:, perm]).detach()\n    return (shuffled - output(x).detach()[:, perm]).abs().amax().item()",
        ),
    ),
    # sinusoidal_encoding
    case(
        "sin_cos_swapped_in_cell",
        "sinusoidal_encoding",
        SIN,
        (FILL, "pe[:, 0::2] = torch.cos(angles)\n    pe[:, 1::2] = torch.sin(angles[:, : d_model // 2])"),
        says="swapped",
    ),
    case(
        "exponent_i_over_d",
        "sinusoidal_encoding",
        SIN,
        ("torch.arange(0, d_model,", "torch.arange((d_model + 1) //"),
        says="i/d_model",
    ),
    case(
        "exponent_4i_over_d",
        "sinusoidal_encoding",
        SIN,
        (ANGLES, "angles = positions / 10000 ** (2 * two_i / d_model)"),
        says="4i/d_model",
    ),
    case(
        "exp_without_log_base",
        "sinusoidal_encoding",
        SIN,
        (ANGLES, "angles = positions * torch.exp(-two_i / d_model)"),
        says="log(10000)",
    ),
    case(
        "base_1000",
        "sinusoidal_encoding",
        SIN,
        (ANGLES, "angles = positions / 1000 ** (two_i / d_model)"),
        says="the base is 10000",
    ),
    case("angles_multiplied", "sinusoidal_encoding", SIN, (ANGLES, "angles = positions * 10000 ** (two_i / d_model)")),
    case(
        "sines_then_cosines",
        "sinusoidal_encoding",
        SIN,
        (FILL, "pe = torch.cat([torch.sin(angles), torch.cos(angles[:, : d_model // 2])], dim=-1)"),
        says="interleave",
    ),
    case(
        "alternating_over_time_steps",
        "sinusoidal_encoding",
        SIN,
        (
            FILL,
            "full = positions / 10000 ** ((torch.arange(d_model) // 2 * 2) / d_model)\n    pe = torch.where(positions.long() % 2 == 0, torch.sin(full), torch.cos(full))",
        ),
        says="not over the positions",
    ),
    case(
        "frequency_per_dimension",
        "sinusoidal_encoding",
        SIN,
        (
            FILL,
            "full = positions / 10000 ** (torch.arange(d_model) / d_model)\n    pe[:, 0::2] = torch.sin(full[:, 0::2])\n    pe[:, 1::2] = torch.cos(full[:, 1::2])",
        ),
        says="share one frequency",
    ),
    case(
        "positions_from_one",
        "sinusoidal_encoding",
        SIN,
        (POSITIONS, "positions = torch.arange(1, max_len + 1, dtype=torch.float32)[:, None]"),
        says="positions start at 0",
    ),
    case(
        "odd_d_model_crashes",
        "sinusoidal_encoding",
        SIN,
        (FILL, "pe[:, 0::2] = torch.sin(angles)\n    pe[:, 1::2] = torch.cos(angles)"),
        says="odd d_model",
    ),
    case(
        "odd_d_model_last_column_cosine",
        "sinusoidal_encoding",
        SIN,
        (FILL, "pe = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)[:, -d_model:]"),
    ),
    case(
        "float64_table",
        "sinusoidal_encoding",
        SIN,
        (POSITIONS, "positions = torch.arange(max_len, dtype=torch.float64)[:, None]"),
        ("dtype=torch.float32)", "dtype=torch.float64)"),
        ("pe = torch.zeros(max_len, d_model)", "pe = torch.zeros(max_len, d_model, dtype=torch.float64)"),
        says="float32",
    ),
    case(
        "cosine_forgotten",
        "sinusoidal_encoding",
        SIN,
        (FILL, "pe[:, 0::2] = torch.sin(angles)\n    pe[:, 1::2] = torch.sin(angles[:, : d_model // 2])"),
    ),
    case("table_transposed", "sinusoidal_encoding", SIN, ("    return pe", "    return pe.T")),
    ok(
        "sin_exp_log_form",
        "sinusoidal_encoding",
        (ANGLES, "angles = positions * torch.exp(two_i * (-math.log(10000.0) / d_model))"),
    ),
    ok(
        "sin_stack_flatten_trim",
        "sinusoidal_encoding",
        (FILL, "pe = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)[:, :d_model]"),
    ),
    ok(
        "sin_float64_then_float",
        "sinusoidal_encoding",
        (POSITIONS, "positions = torch.arange(max_len, dtype=torch.float64)[:, None]"),
        ("dtype=torch.float32)", "dtype=torch.float64)"),
        ("    return pe", "    return pe.float()"),
        ("pe = torch.zeros(max_len, d_model)", "pe = torch.zeros(max_len, d_model, dtype=torch.float64)"),
    ),
    ok(
        "sin_python_loops",
        "sinusoidal_encoding",
        (
            "positions = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)\n    # (ceil(d/2),) = 0, 2, 4, ...\n    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)\n    angles = positions / 10000 ** (two_i / d_model)  # (max_len, ceil(d/2))\n    pe = torch.zeros(max_len, d_model)\n    pe[:, 0::2] = torch.sin(angles)\n    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])",
            "pe = torch.zeros(max_len, d_model)\n    for pos in range(max_len):\n        for j in range(d_model):\n            angle = pos / 10000 ** ((j - j % 2) / d_model)\n            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)",
        ),
    ),
    ok(
        "sin_outer_pow",
        "sinusoidal_encoding",
        (ANGLES, "angles = torch.outer(positions[:, 0], torch.pow(10000.0, -two_i / d_model))"),
    ),
    # PositionalEncoding
    case(
        "pe_table_rebuilt_in_forward",
        "positional_encoding",
        PE,
        (ADD, "return self.dropout(x + sinusoidal_encoding(seq, x.size(-1)).to(x.dtype))"),
        says="not a table built",
    ),
    case(
        "pe_plain_attribute",
        "positional_encoding",
        PE,
        (
            'self.register_buffer(\n            "pe", sinusoidal_encoding(max_len, d_model), persistent=False\n        )',
            "self.pe = sinusoidal_encoding(max_len, d_model)",
        ),
        says="register_buffer",
    ),
    case(
        "pe_parameter",
        "positional_encoding",
        PE,
        (
            'self.register_buffer(\n            "pe", sinusoidal_encoding(max_len, d_model), persistent=False',
            "self.pe = nn.Parameter(\n            sinusoidal_encoding(max_len, d_model), requires_grad=False",
        ),
        says="buffer",
    ),
    case(
        "pe_persistent",
        "positional_encoding",
        PE,
        (
            'self.register_buffer(\n            "pe", sinusoidal_encoding(max_len, d_model), persistent=False\n        )',
            'self.register_buffer("pe", sinusoidal_encoding(max_len, d_model))',
        ),
        says="persistent=False",
    ),
    case(
        "pe_no_dtype_cast", "positional_encoding", PE, (ADD, "return self.dropout(x + self.pe[:seq])"), says="x's dtype"
    ),
    case(
        "pe_no_dropout",
        "positional_encoding",
        PE,
        (ADD, "return x + self.pe[:seq].to(x.dtype)"),
        says="apply self.dropout",
    ),
    case(
        "pe_dropout_on_x_only", "positional_encoding", PE, (ADD, "return self.dropout(x) + self.pe[:seq].to(x.dtype)")
    ),
    case(
        "pe_rows_by_batch_size",
        "positional_encoding",
        PE,
        (ADD, "return self.dropout(x + self.pe[: x.size(0), None, :].to(x.dtype))"),
        says="dimension 1",
    ),
    case(
        "pe_scales_x",
        "positional_encoding",
        PE,
        (ADD, "return self.dropout(x * math.sqrt(x.size(-1)) + self.pe[:seq].to(x.dtype))"),
        says="sqrt(d_model)",
    ),
    case(
        "pe_max_len_ignored",
        "positional_encoding",
        PE,
        (
            'self.register_buffer(\n            "pe", sinusoidal_encoding(max_len, d_model), persistent=False\n        )',
            'self.register_buffer("pe", sinusoidal_encoding(5000, d_model), persistent=False)',
        ),
    ),
    case(
        "pe_in_place",
        "positional_encoding",
        PE,
        (ADD, "x += self.pe[:seq].to(x.dtype)\n        return self.dropout(x)"),
        says="in place",
    ),
    ok(
        "pe_batch_axis_buffer",
        "positional_encoding",
        ("sinusoidal_encoding(max_len, d_model),", "sinusoidal_encoding(max_len, d_model).unsqueeze(0),"),
        ("seq = x.size(1)\n        if seq > self.pe.size(0):", "seq = x.size(1)\n        if seq > self.pe.size(1):"),
        (ADD, "return self.dropout(x + self.pe[:, :seq].type_as(x))"),
    ),
    ok(
        "pe_functional_dropout",
        "positional_encoding",
        (ADD, "return F.dropout(x + self.pe[:seq].to(dtype=x.dtype), self.dropout.p, self.training)"),
    ),
    ok(
        "pe_narrow",
        "positional_encoding",
        (ADD, "return self.dropout(x + self.pe.narrow(0, 0, seq).to(x.dtype).unsqueeze(0))"),
    ),
    # LearnedPositionalEmbedding
    case(
        "learned_positions_on_the_cpu",
        "learned_positional_embedding",
        LEARNED,
        (
            LEARNED_LINES,
            "positions = torch.arange(offset, offset + x.size(1))\n        return self.dropout(x + self.embedding(positions).to(x.dtype))",
        ),
        says="device=x.device",
    ),
    case(
        "learned_offset_ignored",
        "learned_positional_embedding",
        LEARNED,
        (
            "positions = torch.arange(offset, offset + x.size(1), device=x.device)",
            "positions = torch.arange(x.size(1), device=x.device)",
        ),
        says="offset was ignored",
    ),
    case(
        "learned_offset_length",
        "learned_positional_embedding",
        LEARNED,
        (
            "positions = torch.arange(offset, offset + x.size(1), device=x.device)",
            "positions = torch.arange(offset, x.size(1), device=x.device)",
        ),
    ),
    case(
        "learned_no_dtype_cast",
        "learned_positional_embedding",
        LEARNED,
        (
            "return self.dropout(x + self.embedding(positions).to(x.dtype))",
            "return self.dropout(x + self.embedding(positions))",
        ),
        says="x's dtype",
    ),
    case(
        "learned_no_dropout",
        "learned_positional_embedding",
        LEARNED,
        (
            "return self.dropout(x + self.embedding(positions).to(x.dtype))",
            "return x + self.embedding(positions).to(x.dtype)",
        ),
    ),
    case(
        "learned_dropout_on_x_only",
        "learned_positional_embedding",
        LEARNED,
        (
            "return self.dropout(x + self.embedding(positions).to(x.dtype))",
            "return self.dropout(x) + self.embedding(positions).to(x.dtype)",
        ),
    ),
    case(
        "learned_table_too_small",
        "learned_positional_embedding",
        LEARNED,
        ("self.embedding = nn.Embedding(max_len, d_model)", "self.embedding = nn.Embedding(max_len - 1, d_model)"),
    ),
    case(
        "learned_table_transposed",
        "learned_positional_embedding",
        LEARNED,
        ("self.embedding = nn.Embedding(max_len, d_model)", "self.embedding = nn.Embedding(d_model, max_len)"),
    ),
    case(
        "learned_rows_detached",
        "learned_positional_embedding",
        LEARNED,
        (
            "return self.dropout(x + self.embedding(positions).to(x.dtype))",
            "return self.dropout(x + self.embedding.weight.detach()[positions].to(x.dtype))",
        ),
    ),
    ok(
        "learned_weight_slice",
        "learned_positional_embedding",
        (LEARNED_LINES, "return self.dropout(x + self.embedding.weight[offset : offset + x.shape[1]].to(x.dtype))"),
    ),
    ok(
        "learned_expanded_ids",
        "learned_positional_embedding",
        (
            LEARNED_LINES,
            "ids = (torch.arange(x.size(1), device=x.device) + offset).expand(x.size(0), -1)\n        return self.dropout(x + self.embedding(ids).type_as(x))",
        ),
    ),
    # apply_rope
    case(
        "rope_half_split_pairs",
        "apply_rope",
        ROPE,
        ("x_even, x_odd = x[..., 0::2], x[..., 1::2]", "x_even, x_odd = x[..., : d // 2], x[..., d // 2 :]"),
        (
            "rotated = torch.stack(\n        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n    )\n    return rotated.flatten(-2)",
            "return torch.cat((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)",
        ),
        says="(i, i + d/2)",
    ),
    case(
        "rope_rotation_reversed",
        "apply_rope",
        ROPE,
        ("- x_odd * sin, x_even", "+ x_odd * sin, -x_even"),
        says="wrong way",
    ),
    case(
        "rope_theta_i_over_d",
        "apply_rope",
        ROPE,
        ("(-torch.arange(0, d,", "(-torch.arange(d //"),
        says="base^(-i/d)",
    ),
    case(
        "rope_offset_ignored",
        "apply_rope",
        ROPE,
        (ROPE_POSITIONS, "positions = torch.arange(seq, device=x.device, dtype=torch.float32)"),
        says="offset was ignored",
    ),
    case(
        "rope_positions_from_one",
        "apply_rope",
        ROPE,
        (
            ROPE_POSITIONS,
            "positions = torch.arange(offset + 1, offset + seq + 1, device=x.device, dtype=torch.float32)",
        ),
        says="positions start at offset",
    ),
    case(
        "rope_base_ignored",
        "apply_rope",
        ROPE,
        (
            "base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)",
            "10000.0 ** (\n        -torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d\n    )",
        ),
        says="base argument",
    ),
    case(
        "rope_halves_not_interleaved",
        "apply_rope",
        ROPE,
        (
            "rotated = torch.stack(\n        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n    )\n    return rotated.flatten(-2)",
            "return torch.cat((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)",
        ),
        says="interleave",
    ),
    case(
        "rope_theta_positive_exponent",
        "apply_rope",
        ROPE_BOTH,
        ("(-torch.arange(0,", "(torch.arange(0,"),
    ),
    case(
        "rope_positions_on_cpu",
        "apply_rope",
        ROPE,
        (ROPE_POSITIONS, "positions = torch.arange(offset, offset + seq, dtype=torch.float32)"),
        says="device=x.device",
    ),
    case(
        "rope_in_place",
        "apply_rope",
        ROPE,
        (
            "rotated = torch.stack(\n        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n    )\n    return rotated.flatten(-2)",
            "even = x_even.clone()\n    x[..., 0::2] = x_even * cos - x_odd * sin\n    x[..., 1::2] = even * sin + x_odd * cos\n    return x",
        ),
        says="in place",
    ),
    case(
        "rope_same_angle_everywhere",
        "apply_rope",
        ROPE_BOTH,
        (
            "angles = positions[:, None] * theta[None, :]  # (seq, d/2)",
            "angles = offset * theta[None, :].expand(seq, -1)",
        ),
    ),
    case(
        "rope_complex_in_bfloat16",
        "apply_rope",
        ROPE,
        (
            "cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)\n    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # the two coordinates of each pair\n    # (..., seq, d/2, 2)\n    rotated = torch.stack(\n        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n    )\n    return rotated.flatten(-2)",
            "z = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())\n    return torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).flatten(\n        -2\n    )",
        ),
        says="bfloat16",
    ),
    ok(
        "rope_complex_in_float32",
        "apply_rope",
        (
            "cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)\n    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # the two coordinates of each pair\n    # (..., seq, d/2, 2)\n    rotated = torch.stack(\n        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n    )\n    return rotated.flatten(-2)",
            "work = torch.float64 if x.dtype == torch.float64 else torch.float32\n    z = torch.view_as_complex(x.to(work).reshape(*x.shape[:-1], d // 2, 2).contiguous())\n    turn = torch.polar(torch.ones_like(angles, dtype=work), angles.to(work))\n    return torch.view_as_real(z * turn).flatten(-2).to(x.dtype)",
        ),
    ),
    ok(
        "rope_rotate_every_two",
        "apply_rope",
        (
            "cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)\n    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # the two coordinates of each pair\n    # (..., seq, d/2, 2)\n    rotated = torch.stack(\n        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n    )\n    return rotated.flatten(-2)",
            "cos = torch.cos(angles).repeat_interleave(2, dim=-1).to(x.dtype)\n    sin = torch.sin(angles).repeat_interleave(2, dim=-1).to(x.dtype)\n    # (-x_2i+1, x_2i)\n    rotated = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)\n    return x * cos + rotated * sin",
        ),
    ),
    ok(
        "rope_outer_and_empty_like",
        "apply_rope",
        ("angles = positions[:, None] * theta[None, :]  # (seq, d/2)", "angles = torch.outer(positions, theta)"),
        (
            "rotated = torch.stack(\n        (x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1\n    )\n    return rotated.flatten(-2)",
            "out = torch.empty_like(x)\n    out[..., 0::2] = x_even * cos - x_odd * sin\n    out[..., 1::2] = x_even * sin + x_odd * cos\n    return out",
        ),
    ),
    # found by a mutation test (stop 36): the rotation cut from the graph, positions in bfloat16
    case(
        "rope_output_detached",
        "apply_rope",
        ("test_apply_rope",),
        ("return rotated.flatten(-2)", "return rotated.flatten(-2).detach()"),
        says="the gradient of apply_rope",
    ),
    case(
        "rope_positions_in_the_dtype_of_x",
        "apply_rope",
        ("test_apply_rope",),
        (
            "positions = torch.arange(offset, offset + seq, device=x.device, dtype=torch.float32)",
            "positions = torch.arange(offset, offset + seq, device=x.device, dtype=x.dtype)",
        ),
        says="bfloat16 x at positions 1000-1003",
    ),
    case(
        "table_requires_grad",
        "sinusoidal_encoding",
        SIN,
        ("    return pe", "    return pe.requires_grad_()"),
        says="the table requires gradients",
    ),
]


graded, results, test_wrong_answers_lose_points_and_alternatives_get_full_marks, test_every_case_in_process = (
    round_trip(CHAPTER, CASES, extra=ANSWERS)
)


def test_scores(results):
    assert results["reference"].max_score == 14
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_the_lost_points_are_in_the_right_cell(results):
    lost = {
        student: sorted(c.grade_id for c in results[student].auto_cells if c.score < c.max_score) for student in ANSWERS
    }
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


CASE = {c.name: c for c in CASES}


def test_a_learner_sees_the_mistake_in_a_visible_test_and_the_experiments_stop_with_one_message():
    """The student edition run top to bottom (visible tests only, tests/visible.py): a table that breaks on an odd
    width fails the visible test with a message that names the case, sinusoidal_encoding(6, 7); a RoPE that turns the
    wrong way fails its visible test, and the experiment cells that use it stop with one NotReady line each."""
    from tests import visible

    raised = visible.errors(
        visible.run(
            CHAPTER,
            {
                "sinusoidal_encoding": CASE["odd_d_model_crashes"].source,
                "apply_rope": CASE["rope_rotation_reversed"].source,
            },
        )
    )
    said = dict(raised)
    assert "sinusoidal_encoding(6, 7) raised RuntimeError" in said.get("test_sinusoidal_encoding", ""), raised
    assert "odd d_model" in said["test_sinusoidal_encoding"], raised
    assert "wrong way" in said.get("test_apply_rope", ""), raised
    experiments = [(where, error) for where, error in raised if not where.startswith("test_")]
    assert len(experiments) >= 5, raised
    for where, error in experiments:
        assert error.startswith("NotReady: this cell needs your "), f"cell {where}: {error}"


def test_the_reference_runs_top_to_bottom_without_an_error():
    from tests import visible

    assert visible.errors(visible.run(CHAPTER, {})) == []

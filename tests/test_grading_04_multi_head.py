"""Chapter 04 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (heads split along the wrong axis, a merge that scrambles the heads, no W_o, a
per-example mask not broadcast over the heads, scores divided by sqrt(d_model), a loop over the heads, a
parameter count without W_o) each lose points."""

from tests.submissions import case_makers, messages, mutate, round_trip

CHAPTER = "04-multi-head"

SPLIT_LINE = "return x.view(batch, seq, n_heads, d_model // n_heads).transpose(1, 2)"
MERGE_LINE = "return x.transpose(1, 2).reshape(batch, seq, n_heads * d_head)"
UNSQUEEZE = "if mask is not None and mask.dim() == 3:\n            # (batch, 1, q_len, k_len): the same mask for every head\n            mask = mask.unsqueeze(1)"
P = "p = self.dropout if self.training else 0.0"
FUSED = (
    "out, weights = (\n"
    "                F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p),\n"
    "                None,\n"
    "            )"
)
SLOW = "out, weights = scaled_dot_product_attention(q, k, v, mask)\n            if p > 0:\n                out = F.dropout(weights, p) @ v"
RETURN = "return self.W_o(merge_heads(out)), weights"
ATTENTION = f"{P}\n        if self.fast and not need_weights:\n            {FUSED}\n        else:\n            {SLOW}\n        {RETURN}"
COUNT_LINES = "projections = 3 * (d_model * inner + (inner if bias else 0))  # W_q, W_k, W_v\n    output = inner * d_model + (d_model if bias else 0)  # W_o"


def mha_answer(name: str, *edits: tuple[str, str]) -> str:
    """The reference MultiHeadAttention with one mistake."""
    return mutate(CHAPTER, "multi_head_attention", *edits, case=name)


SPLIT_WRONG_AXIS = mutate(
    CHAPTER,
    "split_heads",
    (SPLIT_LINE, "return x.view(batch, n_heads, seq, d_model // n_heads)  # right shape, wrong content"),
    case="split_wrong_axis",
)
MERGE_SCRAMBLED = mutate(
    CHAPTER,
    "merge_heads",
    (MERGE_LINE, "return x.reshape(batch, seq, n_heads * d_head)  # no transpose: heads and positions mixed"),
    case="merge_scrambled",
)
NO_W_O = mha_answer("missing_w_o", (RETURN, "return merge_heads(out), weights  # W_o forgotten"))
MASK_NOT_PER_HEAD = mha_answer("mask_not_per_head", (UNSQUEEZE, ""))  # a 3-D mask is used as it is
SCALE_BY_D_MODEL = mha_answer(
    "scale_by_sqrt_d_model",
    (
        ATTENTION,
        f"""{P}
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
        {RETURN}""",
    ),
)
LOOP_OVER_HEADS = mha_answer(
    "loop_over_heads",
    (
        ATTENTION,
        f"""{P}
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
        return self.W_o(merge_heads(out)), (weights if need_weights or not self.fast else None)""",
    ),
)
COUNT_WITHOUT_W_O = mutate(
    CHAPTER,
    "mha_parameter_count",
    (
        COUNT_LINES + "\n    return projections + output",
        "return 3 * (d_model * inner + (inner if bias else 0))  # W_o forgotten",
    ),
    case="count_without_w_o",
)

EXPECTED = {  # student -> autograded score out of 14
    "reference": 14,
    "untouched": 0,
    "split_wrong_axis": 12,
    "merge_scrambled": 12,
    "missing_w_o": 6,
    "mask_not_per_head": 11,
    "scale_by_sqrt_d_model": 6,
    "loop_over_heads": 12,
    "count_without_w_o": 12,
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


SPLIT, MERGE, COUNT = ("test_split_heads",), ("test_merge_heads",), ("test_mha_parameter_count",)
MHA = ("test_mha_self_attention", "test_mha_cross_attention_and_masks", "test_mha_fast_path")
FAST = ("test_mha_fast_path",)


case, ok = case_makers(CHAPTER)


mha, mha_ok = case_makers(CHAPTER, "multi_head_attention", MHA)


DROPPED_FEATURES = "dropout zeroed single features of the output"
CASES = [
    # split_heads
    case(
        "split_no_transpose",
        "split_heads",
        SPLIT,
        (SPLIT_LINE, "return x.view(batch, seq, n_heads, d_model // n_heads)"),
        says="transpose the seq and heads axes",
    ),
    case(
        "split_interleaved",
        "split_heads",
        SPLIT,
        (SPLIT_LINE, "return x.view(batch, seq, d_model // n_heads, n_heads).permute(0, 3, 1, 2)"),
        says="contiguous features",
    ),
    case(
        "split_last_axes_swapped",
        "split_heads",
        SPLIT,
        (SPLIT_LINE, "return x.view(batch, seq, n_heads, d_model // n_heads).transpose(-2, -1)"),
    ),
    case(
        "split_heads_last",
        "split_heads",
        SPLIT,
        (SPLIT_LINE, "return x.view(batch, seq, n_heads, d_model // n_heads).permute(0, 2, 3, 1)"),
    ),
    case(
        "split_d_head_as_heads",
        "split_heads",
        SPLIT,
        (SPLIT_LINE, "return x.view(batch, seq, d_model // n_heads, n_heads).transpose(1, 2)"),
    ),
    ok("split_chunk_stack", "split_heads", (SPLIT_LINE, "return torch.stack(x.chunk(n_heads, dim=-1), dim=1)")),
    ok(
        "split_reshape_permute",
        "split_heads",
        (SPLIT_LINE, "return x.reshape(batch, seq, n_heads, -1).permute(0, 2, 1, 3)"),
    ),
    ok(
        "split_split_stack",
        "split_heads",
        (SPLIT_LINE, "return torch.stack(x.split(d_model // n_heads, dim=-1), dim=1)"),
    ),
    # merge_heads
    case(
        "merge_interleaved",
        "merge_heads",
        MERGE,
        (MERGE_LINE, "return x.permute(0, 2, 3, 1).reshape(batch, seq, n_heads * d_head)"),
        says="interleaved",
    ),
    case(
        "merge_view_after_transpose",
        "merge_heads",
        MERGE,
        (MERGE_LINE, "return x.transpose(1, 2).view(batch, seq, n_heads * d_head)"),
        says="use reshape",
    ),
    case(
        "merge_not_joined",
        "merge_heads",
        MERGE,
        (MERGE_LINE, "return x.transpose(1, 2)"),
        says="join the heads and d_head axes",
    ),
    case("merge_cat_along_seq", "merge_heads", MERGE, (MERGE_LINE, "return torch.cat(x.unbind(1), dim=1)")),
    ok("merge_cat_unbind", "merge_heads", (MERGE_LINE, "return torch.cat(x.unbind(1), dim=-1)")),
    ok(
        "merge_contiguous_view",
        "merge_heads",
        (MERGE_LINE, "return x.permute(0, 2, 1, 3).contiguous().view(batch, seq, -1)"),
    ),
    ok("merge_flatten", "merge_heads", (MERGE_LINE, "return x.transpose(1, 2).flatten(2)")),
    # MultiHeadAttention: dropout in the wrong place (the cases), both paths
    mha_ok(
        "fused_under_another_name",
        (
            "out, weights = (\n                F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p),\n                None,\n            )",
            "from torch.nn.functional import (\n                scaled_dot_product_attention as fused_attention,\n            )\n\n            out, weights = fused_attention(q, k, v, attn_mask=mask, dropout_p=p), None",
        ),
    ),
    mha(
        "dropout_on_output_slow",
        (SLOW, "out, weights = scaled_dot_product_attention(q, k, v, mask)\n            out = F.dropout(out, p)"),
        loses=FAST,
        says=DROPPED_FEATURES,
    ),
    mha(
        "dropout_on_output_fast",
        (
            "F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p),",
            "F.dropout(F.scaled_dot_product_attention(q, k, v, attn_mask=mask), p),",
        ),
        loses=FAST,
        says=DROPPED_FEATURES,
    ),
    mha(
        "dropout_on_values",
        (
            "p = self.dropout if self.training else 0.0",
            "p = self.dropout if self.training else 0.0\n        v = F.dropout(v, p)",
        ),
        (FUSED, "out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None"),
        (SLOW, "out, weights = scaled_dot_product_attention(q, k, v, mask)"),
        loses=FAST,
        says=DROPPED_FEATURES,
    ),
    mha(
        "dropout_after_w_o",
        (FUSED, "out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None"),
        (SLOW, "out, weights = scaled_dot_product_attention(q, k, v, mask)"),
        (RETURN, "return F.dropout(self.W_o(merge_heads(out)), p), weights"),
        loses=FAST,
        says=DROPPED_FEATURES,
    ),
    mha(
        "dropout_in_eval_mode",
        ("p = self.dropout if self.training else 0.0", "p = self.dropout"),
        loses=FAST,
        says="in eval mode",
    ),
    mha(
        "dropout_not_rescaled",
        (
            SLOW,
            "out, weights = scaled_dot_product_attention(q, k, v, mask)\n            if p > 0:\n                out = (weights * (torch.rand_like(weights) >= p)) @ v",
        ),
        loses=FAST,
        says="1 / (1 - p)",
    ),
    mha(
        "dropout_on_returned_weights",
        (
            SLOW,
            "out, weights = scaled_dot_product_attention(q, k, v, mask)\n            weights = F.dropout(weights, p)\n            out = weights @ v",
        ),
        loses=FAST,
        says="return the weights before dropout",
    ),
    mha(
        "dropout_ignored",
        (FUSED, "out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None"),
        (SLOW, "out, weights = scaled_dot_product_attention(q, k, v, mask)"),
        loses=FAST,
        says="should drop attention weights at random",
    ),
    # MultiHeadAttention: other mistakes
    mha("fast_mask_ignored", (FUSED, "out, weights = F.scaled_dot_product_attention(q, k, v, dropout_p=p), None")),
    mha(
        "fast_mask_inverted",
        (
            "F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p),",
            "F.scaled_dot_product_attention(\n                    q, k, v, attn_mask=None if mask is None else ~mask, dropout_p=p\n                ),",
        ),
    ),
    mha(
        "fast_always_causal",
        ("attn_mask=mask,", "is_causal=True,"),
    ),
    mha("never_fast", ("if self.fast and not need_weights:", "if False:"), loses=FAST, says="return weights None"),
    mha(
        "weights_averaged",
        (RETURN, "return self.W_o(merge_heads(out)), None if weights is None else weights.mean(1)"),
        says="not their average",
    ),
    mha(
        "cross_keys_from_query",
        ("k = split_heads(self.W_k(key_value), self.n_heads)", "k = split_heads(self.W_k(query), self.n_heads)"),
        ("v = split_heads(self.W_v(key_value), self.n_heads)", "v = split_heads(self.W_v(query), self.n_heads)"),
        loses=("test_mha_cross_attention_and_masks",),
    ),
    mha(
        "keys_by_w_q",
        ("k = split_heads(self.W_k(key_value), self.n_heads)", "k = split_heads(self.W_q(key_value), self.n_heads)"),
    ),
    mha(
        "values_not_projected",
        ("v = split_heads(self.W_v(key_value), self.n_heads)", "v = split_heads(key_value, self.n_heads)"),
    ),
    mha(
        "slow_scaled_twice",
        (
            SLOW,
            "out, weights = scaled_dot_product_attention(q / math.sqrt(self.d_head), k, v, mask)\n            if p > 0:\n                out = F.dropout(weights, p) @ v",
        ),
    ),
    mha(
        "slow_mask_inverted",
        (
            SLOW,
            "out, weights = scaled_dot_product_attention(q, k, v, None if mask is None else ~mask)\n            if p > 0:\n                out = F.dropout(weights, p) @ v",
        ),
    ),
    mha(
        "mask_unsqueezed_first_axis",
        ("mask = mask.unsqueeze(1)", "mask = mask.unsqueeze(0)"),
        loses=("test_mha_cross_attention_and_masks",),
        says="unsqueeze(1)",
    ),
    mha(
        "output_not_merged_by_merge_heads",
        (RETURN, "return self.W_o(out.reshape(out.shape[0], out.shape[2], -1)), weights"),
    ),
    # MultiHeadAttention: valid alternatives
    mha_ok(
        "dropout_module",
        (
            "self.W_o = nn.Linear(d_model, d_model, bias=bias)",
            "self.W_o = nn.Linear(d_model, d_model, bias=bias)\n        self.attn_dropout = nn.Dropout(dropout)",
        ),
        (
            SLOW,
            "out, weights = scaled_dot_product_attention(q, k, v, mask)\n            out = self.attn_dropout(weights) @ v",
        ),
    ),
    mha_ok(
        "inline_einsum_attention",
        (
            SLOW,
            "scores = torch.einsum('bhqd,bhkd->bhqk', q, k) / math.sqrt(self.d_head)\n"
            "            if mask is not None:\n                scores = scores.masked_fill(~mask, float('-inf'))\n"
            "            weights = scores.softmax(dim=-1)\n"
            "            if mask is not None:\n                weights = torch.where(mask.any(-1, keepdim=True), weights, torch.zeros_like(weights))\n"
            "            out = torch.einsum('bhqk,bhkd->bhqd', F.dropout(weights, p=self.dropout, training=self.training), v)",
        ),
    ),
    mha_ok(
        "own_reshapes_and_full_module_path",
        (
            "q = split_heads(self.W_q(query), self.n_heads)  # (batch, heads, q_len, d_head)",
            "b, lq, lk = query.shape[0], query.shape[1], key_value.shape[1]\n        q = self.W_q(query).view(b, lq, self.n_heads, self.d_head).transpose(1, 2)",
        ),
        ("mask = mask.unsqueeze(1)", "mask = mask[:, None, :, :]"),
        (
            "F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p),",
            "torch.nn.functional.scaled_dot_product_attention(\n                    q, k, v, attn_mask=mask, dropout_p=p\n                ),",
        ),
        (RETURN, "return self.W_o(out.transpose(1, 2).reshape(b, lq, -1)), weights"),
    ),
    # mha_parameter_count
    case(
        "count_without_biases",
        "mha_parameter_count",
        COUNT,
        (COUNT_LINES, "projections = 3 * d_model * inner\n    output = inner * d_model"),
        says="count the biases too",
    ),
    case(
        "count_bias_per_inner",
        "mha_parameter_count",
        COUNT,
        (
            COUNT_LINES,
            "projections = 3 * (d_model * inner + (inner if bias else 0))\n    output = inner * d_model + (inner if bias else 0)",
        ),
    ),
    case(
        "count_w_o_square",
        "mha_parameter_count",
        COUNT,
        (
            COUNT_LINES,
            "projections = 3 * (d_model * inner + (inner if bias else 0))\n    output = inner * inner + (d_model if bias else 0)",
        ),
    ),
    case(
        "count_d_head_ignored",
        "mha_parameter_count",
        COUNT,
        ("inner = n_heads * (d_model // n_heads if d_head is None else d_head)", "inner = d_model"),
    ),
    case(
        "count_float",
        "mha_parameter_count",
        COUNT,
        (
            "inner = n_heads * (d_model // n_heads if d_head is None else d_head)",
            "inner = n_heads * (d_model / n_heads if d_head is None else d_head)",
        ),
        says="Python int",
    ),
    case(
        "count_full_matrices_per_head",
        "mha_parameter_count",
        COUNT,
        (
            "inner = n_heads * (d_model // n_heads if d_head is None else d_head)",
            "inner = n_heads * (d_model if d_head is None else d_head)",
        ),
    ),
    ok(
        "count_by_layers",
        "mha_parameter_count",
        (
            COUNT_LINES + "\n    return projections + output",
            "layers = [nn.Linear(d_model, inner, bias=bias) for _ in range(3)] + [nn.Linear(inner, d_model, bias=bias)]\n"
            "    return sum(p.numel() for layer in layers for p in layer.parameters())",
        ),
    ),
    ok(
        "count_one_formula",
        "mha_parameter_count",
        (
            COUNT_LINES + "\n    return projections + output",
            "return 4 * d_model * inner + (3 * inner + d_model) * int(bias)",
        ),
    ),
    # found by a mutation test (stop 36): the output cut from the graph, a query with no key to read
    mha(
        "mha_output_detached",
        (RETURN, "return self.W_o(merge_heads(out)).detach(), weights"),
        loses=("test_mha_cross_attention_and_masks", "test_mha_fast_path"),
        says="the gradient of MultiHeadAttention",
    ),
    mha(
        "mha_own_masked_softmax_nan_for_an_empty_row",
        (
            "out, weights = scaled_dot_product_attention(q, k, v, mask)",
            "scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)\n"
            "            if mask is not None:\n"
            "                scores = scores.masked_fill(~mask, float('-inf'))\n"
            "            weights = scores.softmax(-1)\n"
            "            out = weights @ v",
        ),
        loses=("test_mha_cross_attention_and_masks",),
        says="got NaN",
    ),
    mha(
        "mha_own_masked_softmax_minus_1e9",
        (
            "out, weights = scaled_dot_product_attention(q, k, v, mask)",
            "scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)\n"
            "            if mask is not None:\n"
            "                scores = scores.masked_fill(~mask, -1e9)\n"
            "            weights = scores.softmax(-1)\n"
            "            out = weights @ v",
        ),
        loses=("test_mha_cross_attention_and_masks",),
        says="averaged all the values",
    ),
    mha(
        "mha_fast_path_float_mask_minus_1e9",
        (
            "attn_mask=mask,",
            "attn_mask=None if mask is None else torch.zeros(mask.shape).masked_fill(~mask, -1e9),",
        ),
        loses=("test_mha_fast_path",),
        says="averaged all the values",
    ),
    mha(
        "mha_slow_path_weights_only_when_asked",
        (RETURN, "return self.W_o(merge_heads(out)), weights if need_weights else None"),
        loses=("test_mha_cross_attention_and_masks",),
        says="also without need_weights",
    ),
]


graded, results, test_wrong_answers_lose_points_and_alternatives_get_full_marks, test_every_case_in_process = (
    round_trip(CHAPTER, CASES, extra=ANSWERS)
)


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

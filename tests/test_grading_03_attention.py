"""Chapter 03 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (softmax over the wrong axis, no scaling, scaling by d_k, the mask applied after the
softmax, q and k swapped, NaN for a fully masked row, additive attention without tanh, self-attention
without a value projection) each lose points."""

from tests.submissions import case_makers, messages, mutate, round_trip

CHAPTER = "03-attention"


SCORES = "scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., q_len, k_len)"
FILL = '# before the softmax, so the rest renormalise\n        scores = scores.masked_fill(~mask, float("-inf"))'
SOFTMAX = "torch.softmax(scores, dim=-1)"
ZERO_ROWS = (
    "# no key: 0, not NaN\n"
    "        weights = torch.where(\n"
    "            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n"
    "        )"
)
ADD_SCORES = "scores = self.v_a(features).squeeze(-1)  # (..., q_len, k_len)"
SELF_CALL = "return scaled_dot_product_attention(self.W_q(x), self.W_k(x), self.W_v(x), mask)"


def attention(name: str, *edits: tuple[str, str]) -> str:
    """The reference scaled_dot_product_attention with one part changed."""
    return mutate(CHAPTER, "scaled_dot_product_attention", *edits, case=name)


# The wrong answers graded through nbgrader: each the reference of its cell with the one mistake.
ANSWERS = {
    "nadaraya_watson_wrong_axis": {
        "nadaraya_watson": mutate(
            CHAPTER,
            "nadaraya_watson",
            (
                "# softmax over the keys\n    weights = torch.softmax(-(distances**2) / (2 * bandwidth**2), dim=-1)",
                "# over the queries\n    weights = torch.softmax(-(distances**2) / (2 * bandwidth**2), dim=0)",
            ),
            case="nadaraya_watson_wrong_axis",
        )
    },
    "softmax_wrong_axis": {
        "scaled_dot_product_attention": attention("softmax_wrong_axis", (SOFTMAX, "torch.softmax(scores, dim=-2)"))
    },
    "no_scaling": {
        "scaled_dot_product_attention": attention("no_scaling", (SCORES, "scores = q @ k.transpose(-2, -1)"))
    },
    "scaled_by_d_k": {
        "scaled_dot_product_attention": attention(
            "scaled_by_d_k", (SCORES, "scores = q @ k.transpose(-2, -1) / q.size(-1)")
        )
    },
    "mask_after_softmax": {
        "scaled_dot_product_attention": attention(
            "mask_after_softmax",
            (f"    if mask is not None:\n        {FILL}\n", ""),
            (ZERO_ROWS, "weights = weights * mask  # zeroed after the softmax, not renormalised"),
        )
    },
    "q_k_swapped": {
        "scaled_dot_product_attention": attention(
            "q_k_swapped", (SCORES, "scores = k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))")
        )
    },
    "nan_for_fully_masked_row": {
        "scaled_dot_product_attention": attention(
            "nan_for_fully_masked_row", (f"    if mask is not None:\n        {ZERO_ROWS}\n", "")
        )
    },
    "additive_without_tanh": {
        "additive_attention": mutate(
            CHAPTER,
            "additive_attention",
            (
                "torch.tanh(self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3))",
                "self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3)  # no tanh",
            ),
            case="additive_without_tanh",
        )
    },
    "self_attention_raw_values": {
        "self_attention": mutate(
            CHAPTER,
            "self_attention",
            (
                SELF_CALL,
                "return scaled_dot_product_attention(self.W_q(x), self.W_k(x), x, mask)  # values not projected",
            ),
            case="self_attention_raw_values",
        )
    },
}
EXPECTED = {  # student -> autograded score out of 13 (the written question, 2 more points, is graded by hand)
    "reference": 13,
    "untouched": 0,
    "nadaraya_watson_wrong_axis": 11,
    "softmax_wrong_axis": 7,
    "no_scaling": 7,
    "scaled_by_d_k": 7,
    "q_k_swapped": 7,
    "mask_after_softmax": 10,
    "nan_for_fully_masked_row": 10,
    "additive_without_tanh": 10,
    "self_attention_raw_values": 11,
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


NW, SDPA = ("test_nadaraya_watson",), ("test_scaled_dot_product_attention", "test_scaled_dot_product_attention_mask")
SDPA_MASK, ADDITIVE, SELF = (
    ("test_scaled_dot_product_attention_mask",),
    ("test_additive_attention",),
    ("test_self_attention",),
)


case, ok = case_makers(CHAPTER)


CASES = [
    # nadaraya_watson
    case(
        "nw_wrong_axis",
        "nadaraya_watson",
        NW,
        ("bandwidth**2), dim=-1)", "bandwidth**2), dim=0)"),
        says="softmax over the key axis?",
    ),
    case(
        "nw_no_factor_2",
        "nadaraya_watson",
        NW,
        ("(2 * bandwidth**2),", "bandwidth**2,"),
        says="the factor 2 is missing",
    ),
    case(
        "nw_h_not_squared",
        "nadaraya_watson",
        NW,
        ("bandwidth**2),", "bandwidth),"),
        says="square the bandwidth",
    ),
    case(
        "nw_sign",
        "nadaraya_watson",
        NW,
        ("torch.softmax(-(distances**2)", "torch.softmax(distances**2"),
        says="minus the squared distance",
    ),
    case(
        "nw_exp_over_sum",
        "nadaraya_watson",
        NW,
        (
            "weights = torch.softmax(-(distances**2) / (2 * bandwidth**2), dim=-1)",
            "kernel = torch.exp(-(distances**2) / (2 * bandwidth**2))\n    weights = kernel / kernel.sum(-1, keepdim=True)",
        ),
        says="underflows",
    ),
    case(
        "nw_abs_distance",
        "nadaraya_watson",
        NW,
        ("torch.softmax(-(distances**2)", "torch.softmax(-distances.abs()"),
    ),
    case(
        "nw_weights_transposed",
        "nadaraya_watson",
        NW,
        ("return weights @ y_train, weights", "return weights @ y_train, weights.T"),
    ),
    case(
        "nw_squeezed",
        "nadaraya_watson",
        NW,
        ("return weights @ y_train, weights", "return (weights @ y_train).squeeze(), weights.squeeze()"),
    ),
    ok(
        "nw_cdist",
        "nadaraya_watson",
        (
            "distances = x_query[:, None] - x_train[None, :]  # (n_query, n_train)",
            "distances = torch.cdist(x_query[:, None], x_train[:, None])",
        ),
        ("return weights @ y_train, weights", "return (weights * y_train).sum(-1), weights"),
    ),
    ok(
        "nw_F_softmax_einsum",
        "nadaraya_watson",
        (
            "torch.softmax(-(distances**2) / (2 * bandwidth**2), dim=-1)",
            "F.softmax(\n        -0.5 * ((x_query.unsqueeze(1) - x_train.unsqueeze(0)) / bandwidth) ** 2, dim=1\n    )",
        ),
        ("return weights @ y_train, weights", "return torch.einsum('qn,n->q', weights, y_train), weights"),
    ),
    # scaled_dot_product_attention
    case(
        "sdpa_scale_by_d_v",
        "scaled_dot_product_attention",
        SDPA,
        (SCORES, "scores = q @ k.transpose(-2, -1) / math.sqrt(v.size(-1))"),
    ),
    case(
        "sdpa_k_T",
        "scaled_dot_product_attention",
        SDPA,
        (SCORES, "scores = q @ k.transpose(1, 2) / math.sqrt(q.size(-1))"),
    ),
    case("sdpa_fill_zero", "scaled_dot_product_attention", SDPA_MASK, ('float("-inf"))', "0.0)")),
    case(
        "sdpa_mask_inverted",
        "scaled_dot_product_attention",
        SDPA_MASK,
        ("scores.masked_fill(~mask,", "scores.masked_fill(mask,"),
    ),
    case(
        "sdpa_fill_large_negative",
        "scaled_dot_product_attention",
        SDPA_MASK,
        ('float("-inf"))', "-1e9)"),
        (
            "weights = torch.where(\n            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n        )",
            "pass",
        ),
        says="not a uniform average",
    ),
    ok(
        "sdpa_nan_to_num",
        "scaled_dot_product_attention",
        (
            "torch.where(\n            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n        )",
            "torch.nan_to_num(weights)",
        ),
    ),
    case(
        "sdpa_mask_ignored",
        "scaled_dot_product_attention",
        SDPA_MASK,
        ('scores = scores.masked_fill(~mask, float("-inf"))', "pass"),
        (
            "weights = torch.where(\n            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n        )",
            "pass",
        ),
    ),
    case(
        "sdpa_nan_times_zero",
        "scaled_dot_product_attention",
        SDPA_MASK,
        (
            "torch.where(\n            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n        )",
            "weights * mask.any(-1, keepdim=True)",
        ),
        says="NaN",
    ),
    case(
        "sdpa_additive_mask_nan_gradients",
        "scaled_dot_product_attention",
        SDPA_MASK,
        (
            'scores.masked_fill(~mask, float("-inf"))',
            'scores + torch.zeros_like(scores).masked_fill(\n            mask.logical_not(), float("-inf")\n        )',
        ),
        (
            "torch.where(\n            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n        )",
            "weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)",
        ),
        says="gradients contain NaN",
    ),
    case(
        "sdpa_float32_scale_tensor",
        "scaled_dot_product_attention",
        SDPA,
        (
            SCORES,
            "scores = (q @ k.transpose(-2, -1)) / torch.tensor(q.size(-1), dtype=torch.float32).sqrt().to(q.dtype).half().float()",
        ),
    ),
    ok(
        "sdpa_einsum_where",
        "scaled_dot_product_attention",
        (SCORES, "scores = torch.einsum('...qd,...kd->...qk', q, k) * q.shape[-1] ** -0.5"),
        (
            'scores.masked_fill(~mask, float("-inf"))',
            'torch.where(\n            mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype)\n        )',
        ),
    ),
    ok(
        "sdpa_mT_masked_fill_rows",
        "scaled_dot_product_attention",
        (SCORES, "scores = torch.matmul(q, k.mT) / q.shape[-1] ** 0.5"),
        ("scores.masked_fill(~mask,", "scores.masked_fill(mask == 0,"),
        (
            "torch.where(\n            mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n        )",
            "weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)",
        ),
    ),
    # AdditiveAttention
    case(
        "additive_squeeze_all",
        "additive_attention",
        ADDITIVE,
        (ADD_SCORES, "scores = self.v_a(features).squeeze()"),
        says="squeeze(-1) only",
    ),
    case(
        "additive_relu",
        "additive_attention",
        ADDITIVE,
        ("torch.tanh(self.W_q(q).unsqueeze(-2)", "torch.relu(self.W_q(q).unsqueeze(-2)"),
    ),
    case(
        "additive_scaled",
        "additive_attention",
        ADDITIVE,
        (ADD_SCORES, "scores = self.v_a(features).squeeze(-1) / 2.0"),
        says="no scaling",
    ),
    case(
        "additive_with_bias",
        "additive_attention",
        ADDITIVE,
        ("self.W_q = nn.Linear(d_query, d_hidden, bias=False)", "self.W_q = nn.Linear(d_query, d_hidden)"),
        says="no bias",
    ),
    case(
        "additive_wrong_axis",
        "additive_attention",
        ADDITIVE,
        ("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-2)"),
        says="softmax over the key axis?",
    ),
    case(
        "additive_mask_ignored",
        "additive_attention",
        ADDITIVE,
        ('scores = scores.masked_fill(~mask, float("-inf"))', "pass"),
        (
            "weights = torch.where(\n                mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n            )",
            "pass",
        ),
    ),
    case(
        "additive_nan_rows",
        "additive_attention",
        ADDITIVE,
        (
            "weights = torch.where(\n                mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights)\n            )",
            "pass",
        ),
        says="NaN",
    ),
    case(
        "additive_unsqueeze_swapped",
        "additive_attention",
        ADDITIVE,
        (
            "torch.tanh(self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3))",
            "torch.tanh(self.W_q(q).unsqueeze(-3) + self.W_k(k).unsqueeze(-2))",
        ),
    ),
    case(
        "additive_batch_first_indexing",
        "additive_attention",
        ADDITIVE,
        (
            "torch.tanh(self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3))",
            "torch.tanh(self.W_q(q)[:, :, None, :] + self.W_k(k)[:, None, :, :])",
        ),
    ),
    ok(
        "additive_einsum",
        "additive_attention",
        (ADD_SCORES, "scores = torch.einsum('...qkh,h->...qk', features, self.v_a.weight[0])"),
    ),
    ok(
        "additive_matmul_index",
        "additive_attention",
        (
            "torch.tanh(self.W_q(q).unsqueeze(-2) + self.W_k(k).unsqueeze(-3))",
            "(self.W_q(q)[..., :, None, :] + self.W_k(k)[..., None, :, :]).tanh()",
        ),
        (ADD_SCORES, "scores = (features @ self.v_a.weight.T)[..., 0]"),
    ),
    # SelfAttention
    case(
        "self_q_k_swapped",
        "self_attention",
        SELF,
        (SELF_CALL, "return scaled_dot_product_attention(self.W_k(x), self.W_q(x), self.W_v(x), mask)"),
        says="W_q and W_k are swapped",
    ),
    case(
        "self_mask_dropped",
        "self_attention",
        SELF,
        (SELF_CALL, "return scaled_dot_product_attention(self.W_q(x), self.W_k(x), self.W_v(x))"),
        says="the mask was ignored",
    ),
    case(
        "self_values_by_w_q",
        "self_attention",
        SELF,
        (SELF_CALL, "return scaled_dot_product_attention(self.W_q(x), self.W_k(x), self.W_q(x), mask)"),
        says="not W_q(x)",
    ),
    case(
        "self_with_bias",
        "self_attention",
        SELF,
        ("self.W_q = nn.Linear(d_model, d_k, bias=False)", "self.W_q = nn.Linear(d_model, d_k)"),
        says="no bias",
    ),
    case("self_d_k_ignored", "self_attention", SELF, ("d_k = d_model if d_k is None else d_k", "d_k = d_model")),
    case(
        "self_squeezed_batch",
        "self_attention",
        SELF,
        (
            SELF_CALL,
            "out, weights = scaled_dot_product_attention(self.W_q(x), self.W_k(x), self.W_v(x), mask)\n        return out.squeeze(0), weights.squeeze(0)",
        ),
    ),
    ok(
        "self_inline_attention",
        "self_attention",
        (
            SELF_CALL,
            "q, k, v = self.W_q(x), self.W_k(x), self.W_v(x)\n"
            "        scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])\n"
            "        if mask is not None:\n"
            "            scores = scores.masked_fill(~mask, float('-inf'))\n"
            "        weights = scores.softmax(-1)\n"
            "        if mask is not None:\n"
            "            weights = torch.where(mask.any(-1, keepdim=True), weights, 0.0)\n"
            "        return weights @ v, weights",
        ),
    ),
    ok(
        "self_keyword_call",
        "self_attention",
        (
            SELF_CALL,
            "q, k, v = (layer(x) for layer in (self.W_q, self.W_k, self.W_v))\n        return scaled_dot_product_attention(q, k, v, mask=mask)",
        ),
    ),
    # found by a mutation test (stop 36): a softmax by exp that overflows
    case(
        "sdpa_softmax_by_exp",
        "scaled_dot_product_attention",
        ("test_scaled_dot_product_attention",),
        ("weights = torch.softmax(scores, dim=-1)", "e = scores.exp()\n    weights = e / e.sum(-1, keepdim=True)"),
        says="overflows",
    ),
    case(
        "additive_softmax_by_exp",
        "additive_attention",
        ADDITIVE,
        (
            "weights = torch.softmax(scores, dim=-1)",
            "weights = scores.exp() / scores.exp().sum(-1, keepdim=True)",
        ),
        says="exp() of a large score overflows",
    ),
]


graded, results, test_wrong_answers_lose_points_and_alternatives_get_full_marks, test_every_case_in_process = (
    round_trip(CHAPTER, CASES, extra=ANSWERS)
)


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

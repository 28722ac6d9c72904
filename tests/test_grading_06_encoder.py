"""Chapter 06 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (LayerNorm over the wrong axis, with the unbiased variance, with eps outside the
square root; the residual taken after the norm in Pre-LN; a padding mask that never reaches attention)
each lose points, with a message that names the mistake."""

import pytest

from tests.submissions import case_failures, case_makers, grade_cases_in_process, grade_class, mutate

CHAPTER = "06-encoder"


MEAN = "mean = x.mean(dim=-1, keepdim=True)"
VAR = "var = x.var(dim=-1, keepdim=True, correction=0)"
NORMALISE = "return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias"
BN_LINES = "mean = x.mean(dim=(0, 1), keepdim=True)  # (1, 1, d)\n    var = x.var(dim=(0, 1), keepdim=True, correction=0)  # (1, 1, d)"
FF_FORWARD = "return self.linear2(self.dropout(self.activation(self.linear1(x))))"
FF_ACT = 'self.activation = {"relu": nn.ReLU(), "gelu": nn.GELU()}[activation]'
PRE_ATTN = "x = x + self.dropout1(self.self_attn(self.norm1(x), mask=mask)[0])"
PRE_FF = "x = x + self.dropout2(self.ff(self.norm2(x)))"
POST_ATTN = "x = self.norm1(x + self.dropout1(self.self_attn(x, mask=mask)[0]))"
POST_FF = "x = self.norm2(x + self.dropout2(self.ff(x)))"
EMBED = "x = self.positions(self.embedding(tokens) * math.sqrt(self.d_model))"
LAYERS = "for layer in self.layers:\n            x = layer(x, mask)"


def patched_cell(cell: str, name: str, *edits: tuple[str, str]) -> str:
    """The reference of one solution cell with one mistake (or written another valid way)."""
    return mutate(CHAPTER, cell, *edits, case=name)


WRONG_AXIS = patched_cell(
    "layer_norm",
    "layer_norm_wrong_axis",
    (MEAN, "mean = x.mean(dim=0, keepdim=True)  # down the tokens, not over the features"),
    (VAR, "var = x.var(dim=0, keepdim=True, correction=0)"),
)
UNBIASED = patched_cell(
    "layer_norm", "layer_norm_unbiased", (VAR, "var = x.var(dim=-1, keepdim=True)  # unbiased: divides by d - 1")
)
EPS_OUTSIDE = patched_cell(
    "layer_norm",
    "layer_norm_eps_outside_sqrt",
    (
        f"{VAR}\n        {NORMALISE}",
        "std = x.std(dim=-1, keepdim=True, correction=0)\n"
        "        return (x - mean) / (std + self.eps) * self.weight + self.bias  # eps outside the square root",
    ),
)

RESIDUAL_AFTER_NORM = patched_cell(
    "encoder_layer",
    "pre_ln_residual_after_norm",
    (
        PRE_ATTN,
        "h = self.norm1(x)\n            x = h + self.dropout1(self.self_attn(h, mask=mask)[0])  # the residual adds the "
        "normalised x",
    ),
    (PRE_FF, "h = self.norm2(x)\n            x = h + self.dropout2(self.ff(h))"),
)
MASK_IGNORED_IN_LAYER = patched_cell(
    "encoder_layer",
    "mask_ignored_in_layer",
    (PRE_ATTN, "x = x + self.dropout1(self.self_attn(self.norm1(x))[0])  # mask never passed"),
    (POST_ATTN, "x = self.norm1(x + self.dropout1(self.self_attn(x)[0]))"),
)
# A correct alternative: attention called with key_value given explicitly, the residual written with a temporary.
EXPLICIT_LAYER = patched_cell(
    "encoder_layer",
    "explicit_layer",
    (PRE_ATTN, "h = self.norm1(x)\n            x = x + self.dropout1(self.self_attn(h, h, mask)[0])"),
    (
        POST_ATTN,
        "attended, _ = self.self_attn(x, x, mask=mask)\n            x = self.norm1(x + self.dropout1(attended))",
    ),
)

MASK_NOT_PASSED = patched_cell(
    "encoder",
    "mask_not_passed_by_encoder",
    (LAYERS, "for layer in self.layers:\n            x = layer(x)  # the mask stops here"),
)
NO_SCALE = patched_cell(
    "encoder", "embedding_not_scaled", (EMBED, "x = self.positions(self.embedding(tokens))  # no sqrt(d_model)")
)

BATCH_NORM_OVER_FEATURES = patched_cell(
    "batch_norm",
    "batch_norm_over_features",
    (
        BN_LINES,
        "mean = x.mean(dim=-1, keepdim=True)  # that is LayerNorm\n    var = x.var(dim=-1, keepdim=True, correction=0)",
    ),
)
FEED_FORWARD_ALWAYS_RELU = patched_cell(
    "feed_forward", "feed_forward_ignores_gelu", (FF_ACT, 'self.activation = nn.ReLU()  # activation="gelu" ignored')
)
# Correct alternatives: einsum-free functional forms and a hand-written variance.
LAYER_NORM_BY_HAND = patched_cell(
    "layer_norm",
    "layer_norm_by_hand",
    (
        f"{MEAN}\n        {VAR}\n        {NORMALISE}",
        "centred = x - x.mean(-1, keepdim=True)\n        return centred * "
        "torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight + self.bias",
    ),
)
BATCH_NORM_FLAT = patched_cell(
    "batch_norm",
    "batch_norm_flat",
    (
        f"{BN_LINES}\n    return (x - mean) / torch.sqrt(var + eps)",
        "flat = x.reshape(-1, x.shape[-1])\n"
        "    return ((flat - flat.mean(0)) / (flat.var(0, unbiased=False) + eps).sqrt()).reshape(x.shape)",
    ),
)

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
    "pre_ln_residual_after_norm": (
        "encoder_layer",
        RESIDUAL_AFTER_NORM,
        {"test_encoder_layer_pre_ln": "un-normalised input"},
    ),
    "mask_ignored_in_layer": (
        "encoder_layer",
        MASK_IGNORED_IN_LAYER,
        {
            "test_encoder_layer_post_ln": "padding mask was ignored",
            "test_encoder_layer_pre_ln": "padding mask was ignored",
        },
    ),
    "mask_not_passed_by_encoder": ("encoder", MASK_NOT_PASSED, {"test_encoder": "padding mask was ignored"}),
    "embedding_not_scaled": ("encoder", NO_SCALE, {"test_encoder": "sqrt(d_model)"}),
}
WITH_MISTAKES = {  # submission -> the mistakes it makes (at most one per solution cell)
    "mistakes_a": [
        "layer_norm_wrong_axis",
        "batch_norm_over_features",
        "pre_ln_residual_after_norm",
        "mask_not_passed_by_encoder",
    ],
    "mistakes_b": ["layer_norm_unbiased", "feed_forward_ignores_gelu", "mask_ignored_in_layer", "embedding_not_scaled"],
    "mistakes_c": ["layer_norm_eps_outside_sqrt"],
}
EXPECTED = {  # student -> autograded score out of 15
    "reference": 15,
    "untouched": 0,
    "correct_alternatives": 15,
    "mistakes_a": 5,  # - layer norm 3, batch norm 2, Pre-LN layer 2, encoder 3
    "mistakes_b": 3,  # - layer norm 3, feed-forward 2, both layer tests 4, encoder 3
    "mistakes_c": 12,  # - layer norm 3
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    answers = {
        "correct_alternatives": {
            "layer_norm": LAYER_NORM_BY_HAND,
            "batch_norm": BATCH_NORM_FLAT,
            "encoder_layer": EXPLICIT_LAYER,
        }
    }
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
                assert words in (cells[grade_id].message or ""), (
                    f"{mistake}: {words!r} not in {cells[grade_id].message!r}"
                )


# Mutation testing: every case graded in process by the notebook's own test cells (tests/case_runner.py).
LN, LN_PARAMS, BN, FF = (
    ("test_layer_norm",),
    ("test_layer_norm_parameters",),
    ("test_batch_norm",),
    ("test_feed_forward",),
)
POST, PRE, ENC = ("test_encoder_layer_post_ln",), ("test_encoder_layer_pre_ln",), ("test_encoder",)
BOTH = POST + PRE
DROPPED_STREAM = "dropping the sum drops the residual stream"


case, ok = case_makers(CHAPTER)


CASES = [
    # EncoderLayer: the case first, dropout on the residual sum, in each norm order
    case(
        "dropout_on_residual_sum_post_ln",
        "encoder_layer",
        POST,
        (POST_ATTN, "x = self.norm1(self.dropout1(x + self.self_attn(x, mask=mask)[0]))"),
        (POST_FF, "x = self.norm2(self.dropout2(x + self.ff(x)))"),
        says=DROPPED_STREAM,
    ),
    case(
        "dropout_on_residual_sum_pre_ln",
        "encoder_layer",
        PRE,
        (PRE_ATTN, "x = self.dropout1(x + self.self_attn(self.norm1(x), mask=mask)[0])"),
        (PRE_FF, "x = self.dropout2(x + self.ff(self.norm2(x)))"),
        says=DROPPED_STREAM,
    ),
    case(
        "dropout_on_ff_sum_only_post_ln",
        "encoder_layer",
        POST,
        (POST_FF, "x = self.dropout2(self.norm2(x + self.ff(x)))"),
        says=DROPPED_STREAM,
    ),
    case(
        "dropout_forgotten_on_attention",
        "encoder_layer",
        BOTH,
        (POST_ATTN, "x = self.norm1(x + self.self_attn(x, mask=mask)[0])"),
        (PRE_ATTN, "x = x + self.self_attn(self.norm1(x), mask=mask)[0]"),
        says="without dropout",
    ),
    case("dropout_in_eval_mode", "encoder_layer", PRE, (PRE_FF, "x = x + F.dropout(self.ff(self.norm2(x)), 0.5)")),
    case(
        "no_residual",
        "encoder_layer",
        POST,
        (POST_ATTN, "x = self.norm1(self.dropout1(self.self_attn(x, mask=mask)[0]))"),
        (POST_FF, "x = self.norm2(self.dropout2(self.ff(x)))"),
        says="residual connections are missing",
    ),
    case(
        "post_ln_norm_on_sublayer",
        "encoder_layer",
        POST,
        (POST_ATTN, "x = x + self.norm1(self.dropout1(self.self_attn(x, mask=mask)[0]))"),
        (POST_FF, "x = x + self.norm2(self.dropout2(self.ff(x)))"),
        says="normalises the sum",
    ),
    case(
        "pre_ln_missing",
        "encoder_layer",
        PRE,
        ("if self.norm_first:", "if False:  # norm_first ignored: always Post-LN"),
        says="that is Post-LN",
    ),
    case(
        "norm_orders_swapped",
        "encoder_layer",
        BOTH,
        ("if self.norm_first:", "if not self.norm_first:"),
        says="that is Post-LN",
    ),
    case(
        "pre_ln_residual_after_norm_case",
        "encoder_layer",
        PRE,
        (PRE_ATTN, "x = self.norm1(x)\n            x = x + self.dropout1(self.self_attn(x, mask=mask)[0])"),
        (PRE_FF, "x = self.norm2(x)\n            x = x + self.dropout2(self.ff(x))"),
        says="un-normalised input",
    ),
    case(
        "mask_ignored",
        "encoder_layer",
        BOTH,
        (PRE_ATTN, "x = x + self.dropout1(self.self_attn(self.norm1(x))[0])"),
        (POST_ATTN, "x = self.norm1(x + self.dropout1(self.self_attn(x)[0]))"),
        says="padding mask was ignored",
    ),
    case("ff_forgotten", "encoder_layer", POST, (POST_FF, "pass"), says="feed-forward sublayer is missing"),
    case(
        "one_norm_twice",
        "encoder_layer",
        BOTH,
        (POST_FF, "x = self.norm1(x + self.dropout2(self.ff(x)))"),
        (PRE_FF, "x = x + self.dropout2(self.ff(self.norm1(x)))"),
    ),
    case("pre_ln_output_normalised", "encoder_layer", PRE, (PRE_FF, PRE_FF + "\n            x = self.norm2(x)")),
    case(
        "attention_weights_added",
        "encoder_layer",
        POST,
        (
            POST_ATTN,
            "out, weights = self.self_attn(x, mask=mask, need_weights=True)\n            x = self.norm1(x + self.dropout1(weights.mean(1) @ x))",
        ),
    ),
    ok(
        "layer_functional_dropout",
        "encoder_layer",
        (
            POST_ATTN,
            "x = self.norm1(x + F.dropout(self.self_attn(x, mask=mask)[0], p=self.dropout1.p, training=self.training))",
        ),
        (PRE_FF, "x = x + F.dropout(self.ff(self.norm2(x)), self.dropout2.p, self.training)"),
    ),
    ok(
        "layer_temporaries_keywords",
        "encoder_layer",
        (
            PRE_ATTN,
            "h = self.norm1(x)\n            attended, _ = self.self_attn(query=h, key_value=h, mask=mask)\n            x = x + self.dropout1(attended)",
        ),
    ),
    ok(
        "layer_sublayer_loop",
        "encoder_layer",
        (
            "        if self.norm_first:\n            "
            + PRE_ATTN
            + "\n            "
            + PRE_FF
            + "\n        else:\n            "
            + POST_ATTN
            + "\n            "
            + POST_FF,
            "        steps = [(lambda h: self.self_attn(h, mask=mask)[0], self.norm1, self.dropout1), (self.ff, self.norm2, self.dropout2)]\n"
            "        for sublayer, norm, drop in steps:\n            x = x + drop(sublayer(norm(x))) if self.norm_first else norm(x + drop(sublayer(x)))",
        ),
    ),
    # LayerNorm
    case(
        "ln_wrong_axis",
        "layer_norm",
        LN,
        (MEAN, "mean = x.mean(dim=0, keepdim=True)"),
        (VAR, "var = x.var(dim=0, keepdim=True, correction=0)"),
        says="wrong axis",
    ),
    case("ln_unbiased", "layer_norm", LN, (VAR, "var = x.var(dim=-1, keepdim=True)"), says="unbiased variance"),
    case(
        "ln_eps_outside_sqrt",
        "layer_norm",
        LN,
        (NORMALISE, "return (x - mean) / (torch.sqrt(var) + self.eps) * self.weight + self.bias"),
        says="inside the square root",
    ),
    case(
        "ln_no_eps",
        "layer_norm",
        LN,
        (NORMALISE, "return (x - mean) / torch.sqrt(var) * self.weight + self.bias"),
        says="add eps",
    ),
    case(
        "ln_eps_hard_coded",
        "layer_norm",
        LN,
        (NORMALISE, "return (x - mean) / torch.sqrt(var + 1e-5) * self.weight + self.bias"),
        says="self.eps",
    ),
    case(
        "ln_no_affine",
        "layer_norm",
        LN,
        (NORMALISE, "return (x - mean) / torch.sqrt(var + self.eps)"),
        says="scale by weight",
    ),
    case(
        "ln_std_not_variance",
        "layer_norm",
        LN,
        (NORMALISE, "return (x - mean) / (var + self.eps) * self.weight + self.bias"),
    ),
    case(
        "ln_no_keepdim", "layer_norm", LN, (MEAN, "mean = x.mean(dim=-1)"), (VAR, "var = x.var(dim=-1, correction=0)")
    ),
    case(
        "ln_not_centred",
        "layer_norm",
        LN,
        (NORMALISE, "return x / torch.sqrt(var + self.eps) * self.weight + self.bias"),
    ),
    case(
        "ln_last_two_axes",
        "layer_norm",
        LN,
        (MEAN, "mean = x.mean(dim=(-2, -1), keepdim=True)"),
        (VAR, "var = x.var(dim=(-2, -1), keepdim=True, correction=0)"),
    ),
    case(
        "ln_bias_before_scale",
        "layer_norm",
        LN,
        (NORMALISE, "return ((x - mean) / torch.sqrt(var + self.eps) + self.bias) * self.weight"),
    ),
    case(
        "ln_plain_tensors",
        "layer_norm",
        LN_PARAMS + LN,
        ("self.weight = nn.Parameter(torch.ones(d_model))", "self.weight = torch.ones(d_model)"),
        ("self.bias = nn.Parameter(torch.zeros(d_model))", "self.bias = torch.zeros(d_model)"),
        says="nn.Parameter",
    ),
    case(
        "ln_weight_zeros",
        "layer_norm",
        LN_PARAMS + LN,
        ("self.weight = nn.Parameter(torch.ones(d_model))", "self.weight = nn.Parameter(torch.zeros(d_model))"),
        says="ones",
    ),
    case(
        "ln_detached",
        "layer_norm",
        LN,
        (NORMALISE, "return ((x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias).detach()"),
    ),
    ok(
        "ln_rsqrt_by_hand",
        "layer_norm",
        (
            VAR + "\n        " + NORMALISE,
            "centred = x - mean\n        return centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight + self.bias",
        ),
    ),
    ok(
        "ln_var_mean",
        "layer_norm",
        (MEAN + "\n        " + VAR, "var, mean = torch.var_mean(x, dim=-1, keepdim=True, unbiased=False)"),
    ),
    ok("ln_std_squared", "layer_norm", (VAR, "var = x.std(dim=-1, keepdim=True, unbiased=False) ** 2")),
    ok(
        "ln_addcmul",
        "layer_norm",
        (NORMALISE, "return torch.addcmul(self.bias, (x - mean) / (var + self.eps).sqrt(), self.weight)"),
    ),
    # batch_norm
    case(
        "bn_over_features",
        "batch_norm",
        BN,
        (BN_LINES, "mean = x.mean(dim=-1, keepdim=True)\n    var = x.var(dim=-1, keepdim=True, correction=0)"),
        says="that is LayerNorm",
    ),
    case(
        "bn_batch_axis_only",
        "batch_norm",
        BN,
        (BN_LINES, "mean = x.mean(dim=0, keepdim=True)\n    var = x.var(dim=0, keepdim=True, correction=0)"),
        says="batch dimension only",
    ),
    case(
        "bn_per_sequence",
        "batch_norm",
        BN,
        (BN_LINES, "mean = x.mean(dim=1, keepdim=True)\n    var = x.var(dim=1, keepdim=True, correction=0)"),
        says="each sequence on its own",
    ),
    case(
        "bn_unbiased",
        "batch_norm",
        BN,
        ("var = x.var(dim=(0, 1), keepdim=True, correction=0)", "var = x.var(dim=(0, 1), keepdim=True)"),
        says="unbiased",
    ),
    case(
        "bn_eps_ignored",
        "batch_norm",
        BN,
        ("return (x - mean) / torch.sqrt(var + eps)", "return (x - mean) / torch.sqrt(var + 1e-5)"),
        says="eps argument",
    ),
    case(
        "bn_eps_outside",
        "batch_norm",
        BN,
        ("return (x - mean) / torch.sqrt(var + eps)", "return (x - mean) / (torch.sqrt(var) + eps)"),
        says="inside the square root",
    ),
    ok(
        "bn_flat",
        "batch_norm",
        (
            BN_LINES + "\n    return (x - mean) / torch.sqrt(var + eps)",
            "flat = x.reshape(-1, x.shape[-1])\n    return ((flat - flat.mean(0)) / (flat.var(0, unbiased=False) + eps).sqrt()).reshape(x.shape)",
        ),
    ),
    ok(
        "bn_functional",
        "batch_norm",
        (
            BN_LINES + "\n    return (x - mean) / torch.sqrt(var + eps)",
            "b, s, d = x.shape\n    return F.batch_norm(x.reshape(b * s, d), None, None, training=True, eps=eps).reshape(b, s, d)",
        ),
    ),
    # FeedForward
    case(
        "ff_no_activation",
        "feed_forward",
        FF,
        (FF_FORWARD, "return self.linear2(self.dropout(self.linear1(x)))"),
        says="ReLU is missing",
    ),
    case(
        "ff_activation_last",
        "feed_forward",
        FF,
        (FF_FORWARD, "return self.activation(self.linear2(self.dropout(self.linear1(x))))"),
        says="between the two linear layers",
    ),
    case("ff_gelu_ignored", "feed_forward", FF, (FF_ACT, "self.activation = nn.ReLU()"), says="should use GELU"),
    case(
        "ff_dropout_on_output",
        "feed_forward",
        FF,
        (FF_FORWARD, "return self.dropout(self.linear2(self.activation(self.linear1(x))))"),
        says="drop hidden units",
    ),
    case(
        "ff_dropout_on_input",
        "feed_forward",
        FF,
        (FF_FORWARD, "return self.linear2(self.activation(self.linear1(self.dropout(x))))"),
        says="drop hidden units",
    ),
    case("ff_no_dropout", "feed_forward", FF, (FF_FORWARD, "return self.linear2(self.activation(self.linear1(x)))")),
    case(
        "ff_no_bias",
        "feed_forward",
        FF,
        ("self.linear1 = nn.Linear(d_model, d_ff)", "self.linear1 = nn.Linear(d_model, d_ff, bias=False)"),
        says="have a bias",
    ),
    case(
        "ff_sizes_swapped",
        "feed_forward",
        FF,
        ("self.linear1 = nn.Linear(d_model, d_ff)", "self.linear1 = nn.Linear(d_model, d_model)"),
        ("self.linear2 = nn.Linear(d_ff, d_model)", "self.linear2 = nn.Linear(d_model, d_model)"),
    ),
    case(
        "ff_dropout_p_ignored",
        "feed_forward",
        FF,
        ("self.dropout = nn.Dropout(dropout)", "self.dropout = nn.Dropout(0.1)"),
    ),
    ok("ff_functional", "feed_forward", (FF_ACT, "self.activation = F.gelu if activation == 'gelu' else F.relu")),
    ok(
        "ff_functional_dropout",
        "feed_forward",
        (
            FF_FORWARD,
            "h = self.activation(self.linear1(x))\n        return self.linear2(F.dropout(h, self.dropout.p, self.training))",
        ),
    ),
    # Encoder
    case(
        "encoder_mask_not_passed",
        "encoder",
        ENC,
        (LAYERS, "for layer in self.layers:\n            x = layer(x)"),
        says="padding mask was ignored",
    ),
    case(
        "encoder_not_scaled",
        "encoder",
        ENC,
        (EMBED, "x = self.positions(self.embedding(tokens))"),
        says="sqrt(d_model)",
    ),
    case(
        "encoder_no_positions",
        "encoder",
        ENC,
        (EMBED, "x = self.embedding(tokens) * math.sqrt(self.d_model)"),
        says="add the positions",
    ),
    case(
        "encoder_scaled_by_d_model",
        "encoder",
        ENC,
        (EMBED, "x = self.positions(self.embedding(tokens) * self.d_model)"),
    ),
    case(
        "encoder_scaled_after_positions",
        "encoder",
        ENC,
        (EMBED, "x = self.positions(self.embedding(tokens)) * math.sqrt(self.d_model)"),
    ),
    case("encoder_no_final_norm", "encoder", ENC, ("return self.norm(x)", "return x"), says="self.norm"),
    case("encoder_first_layer_only", "encoder", ENC, (LAYERS, "x = self.layers[0](x, mask)"), says="every layer"),
    case(
        "encoder_layers_not_chained",
        "encoder",
        ENC,
        (LAYERS, "h = x\n        for layer in self.layers:\n            x = layer(h, mask)"),
        says="previous one's output",
    ),
    case(
        "encoder_mask_inverted",
        "encoder",
        ENC,
        (LAYERS, "for layer in self.layers:\n            x = layer(x, ~mask if mask is not None else None)"),
    ),
    ok("encoder_keyword_mask", "encoder", (LAYERS, "for layer in self.layers:\n            x = layer(x, mask=mask)")),
    ok(
        "encoder_sqrt_tensor",
        "encoder",
        (EMBED, "x = self.embedding(tokens) * self.d_model ** 0.5\n        x = self.positions(x)"),
    ),
    # found by a mutation test (stop 36): values right and gradients wrong (a detached variance, a sublayer or the
    # embedding cut from the graph), torch's own layer_norm, dropout before GELU, the positions added by hand
    case(
        "ln_variance_detached",
        "layer_norm",
        LN,
        (VAR, "var = x.var(dim=-1, keepdim=True, correction=0).detach()"),
        says="the gradient of LayerNorm",
    ),
    case(
        "ln_by_torch",
        "layer_norm",
        LN,
        (NORMALISE, "return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)"),
        says="calls torch's layer_norm",
    ),
    case(
        "ff_dropout_before_the_activation",
        "feed_forward",
        FF,
        (FF_FORWARD, "return self.linear2(self.activation(self.dropout(self.linear1(x))))"),
        says="drop the activation's output",
    ),
    case(
        "ff_under_no_grad",
        "feed_forward",
        FF,
        (FF_FORWARD, "with torch.no_grad():\n            " + FF_FORWARD),
        says="FeedForward(4, 8)",
    ),
    case(
        "attention_output_detached_post_ln",
        "encoder_layer",
        POST,
        (POST_ATTN, "x = self.norm1(x + self.dropout1(self.self_attn(x, mask=mask)[0]).detach())"),
        says="the gradient of EncoderLayer(norm_first=False)",
    ),
    case(
        "embedding_under_no_grad",
        "encoder",
        ENC,
        (
            EMBED,
            "with torch.no_grad():\n            e = self.embedding(tokens)\n"
            "        x = self.positions(e * math.sqrt(self.d_model))",
        ),
        says="Encoder(norm_first=False)",
    ),
    case(
        "positions_added_by_hand",
        "encoder",
        ENC,
        (EMBED, "x = self.embedding(tokens) * math.sqrt(self.d_model) + self.positions.pe[: tokens.shape[1]]"),
        says="add the positions with self.positions",
    ),
]


def test_every_case_in_process():
    """Every case, graded by the notebook's own test cells without nbgrader (seconds): each wrong answer loses the
    points of its own piece only, with its message; each valid alternative gets full marks."""
    assert case_failures(*grade_cases_in_process(CHAPTER, CASES)) == []


CASE = {c.name: c for c in CASES}


def test_a_learner_sees_the_mistake_in_a_visible_test_and_the_experiments_stop_with_one_message():
    """The student edition run top to bottom (visible tests only, tests/visible.py): LayerNorm without eps fails its
    visible test on a token of equal features, and every experiment cell that uses LayerNorm says so in one NotReady
    line instead of a traceback; a Pre-LN branch that is never taken fails the visible Pre-LN test."""
    from tests import visible

    raised = visible.errors(
        visible.run(CHAPTER, {"layer_norm": CASE["ln_no_eps"].source, "encoder_layer": CASE["pre_ln_missing"].source})
    )
    said = dict(raised)
    assert "variance 0" in said.get("test_layer_norm", ""), raised
    assert "that is Post-LN" in said.get("test_encoder_layer_pre_ln", ""), raised
    experiments = [(where, error) for where, error in raised if not where.startswith("test_")]
    assert len(experiments) > 5, raised
    for where, error in experiments:
        assert error.startswith("NotReady: this cell needs your "), f"cell {where}: {error}"
        assert "LayerNorm" in error or "EncoderLayer (Pre-LN)" in error, f"cell {where}: {error}"


def test_the_reference_runs_top_to_bottom_without_an_error():
    from tests import visible

    assert visible.errors(visible.run(CHAPTER, {})) == []

"""Chapter 07 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the hidden
tests exist for (a causal mask that includes the future or excludes the position itself, a mask applied after
the softmax, a mask made on the CPU whatever the device, a softmax over the queries, cross-attention fed the wrong tensors, a decoder layer without Pre-LN, a decoder without the causal mask, decoding that never stops
at EOS, a beam search that prefers any finished sequence) each lose the points of their exercise, and only those;
correct answers written differently (a mask from arange, zero-then-renormalise, a loop over sublayers, a textbook beam
search, ...) get full marks. The mistakes the issues named are seen by a *visible* test too, and a broken DecoderLayer
stops the experiments with one message per cell (tests/visible.py)."""

from tests import visible
from tests.submissions import case_makers, messages, mutate, round_trip

CHAPTER = "07-decoder"

TRIL = "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()"
MASKED = 'return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)'
PAD = "return (tokens != pad_id)[:, None, None, :]"
PRE_SELF = "x = x + self.dropout1(self.self_attn(self.norm1(x), mask=self_mask)[0])"
PRE_CROSS = (
    "x = x + self.dropout2(\n                self.cross_attn(self.norm2(x), memory, mask=memory_mask)[0]\n            )"
)
PRE_FF = "x = x + self.dropout3(self.ff(self.norm3(x)))"
POST_SELF = "x = self.norm1(x + self.dropout1(self.self_attn(x, mask=self_mask)[0]))"
POST_CROSS = (
    "x = self.norm2(\n                x + self.dropout2(self.cross_attn(x, memory, mask=memory_mask)[0])\n            )"
)
POST_FF = "x = self.norm3(x + self.dropout3(self.ff(x)))"
SHIFT_LINES = "bos = torch.full_like(tokens[:, :1], bos_id)\n    return torch.cat([bos, tokens[:, :-1]], dim=1)"
ENCODE = "return self.encoder(src, padding_mask(src, self.pad_id))"
HIDDEN = "hidden = self.decoder(tgt_in, memory, self_mask, padding_mask(src, self.pad_id))"
PAD_DONE = "# finished sequences only pad\n            next_token = next_token.masked_fill(done, model.pad_id)"
STOP = "if done.all():"
TOPK = "top = row.topk(beam_size)"
KEEP = "elif len(beams) < beam_size:"
BEAM_STOP = "if not beams or (finished and max(s for _, s in finished) >= beams[0][1]):"
LAYER_BODY = (
    f"if self.norm_first:\n            {PRE_SELF}\n            {PRE_CROSS}\n            {PRE_FF}\n"
    f"        else:\n            {POST_SELF}\n            {POST_CROSS}\n            {POST_FF}\n        return x"
)


def patched_cell(cell: str, name: str, *edits: tuple[str, str]) -> str:
    """The reference of one solution cell with one mistake (or written another valid way)."""
    return mutate(CHAPTER, cell, *edits, case=name)


# The wrong answers graded through nbgrader: each the reference of its cell with the one mistake (but for the beam
# search below, written from scratch).
FUTURE_MASK = patched_cell(
    "causal_mask",
    "mask_includes_future",
    (TRIL, "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).triu()  # the future, not the past"),
)
MASK_EXCLUDES_SELF = patched_cell(
    "causal_mask",
    "mask_excludes_self",
    (
        TRIL,
        "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril(-1)  # a position cannot see itself",
    ),
)
MASK_ON_THE_CPU = patched_cell(
    "causal_mask",
    "mask_on_the_cpu",
    (
        TRIL,
        "return torch.tril(torch.ones(seq_len, seq_len)).bool()  # device ignored: on a GPU the mask stays on the CPU",
    ),
)
SOFTMAX_OVER_QUERIES = patched_cell(
    "masked_softmax",
    "softmax_over_queries",
    (MASKED, 'return scores.masked_fill(~mask, float("-inf")).softmax(dim=-2)  # over the queries, not the keys'),
)
MASK_AFTER_SOFTMAX = patched_cell(
    "masked_softmax",
    "mask_after_softmax",
    (MASKED, "return scores.softmax(dim=-1) * mask  # zeroed after the softmax: no renormalisation"),
)
QUERIES_FROM_MEMORY = patched_cell(  # queries from the encoder, keys and values from the decoder
    "decoder_layer",
    "cross_attention_queries_from_memory",
    ("self.cross_attn(self.norm2(x), memory,", "self.cross_attn(memory, self.norm2(x),"),
    ("self.dropout2(self.cross_attn(x, memory,", "self.dropout2(self.cross_attn(memory, x,"),
)
KEYS_FROM_DECODER = patched_cell(  # "cross"-attention to the decoder itself: memory never read
    "decoder_layer",
    "cross_attention_keys_from_decoder",
    (
        "self.dropout2(\n                self.cross_attn(self.norm2(x), memory, mask=memory_mask)[0]\n            )",
        "self.dropout2(self.cross_attn(self.norm2(x), mask=self_mask)[0])",
    ),
    (
        "self.norm2(\n                x + self.dropout2(self.cross_attn(x, memory, mask=memory_mask)[0])\n            )",
        "self.norm2(x + self.dropout2(self.cross_attn(x, mask=self_mask)[0]))",
    ),
)
DECODE_WITHOUT_CAUSAL_MASK = patched_cell(
    "transformer",
    "decode_without_causal_mask",
    (
        "causal_mask(tgt_in.size(1), tgt_in.device) & padding_mask(\n            tgt_in, self.pad_id\n        )",
        "padding_mask(tgt_in, self.pad_id)  # the causal mask is missing",
    ),
)
GREEDY_NEVER_STOPS = patched_cell(
    "greedy_decode",
    "greedy_never_stops",
    ("        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)\n", ""),
    ("for _ in range(max_len):", "for _ in range(max_len):  # always max_len steps, whatever comes out"),
    (f"            {PAD_DONE}\n", ""),
    (f"            done |= next_token == eos_id\n            {STOP}\n                break\n", ""),
)

BEAM_NEVER_STOPS = """@torch.no_grad()
def beam_search(model, src, bos_id, eos_id, max_len, beam_size=4):
    memory = model.encode(src)
    beams = [([bos_id], 0.0)]
    for _ in range(max_len):  # finished hypotheses are extended like the others
        tokens = torch.tensor([seq for seq, _ in beams], dtype=torch.long)
        n = len(beams)
        log_probs = model.decode(tokens, memory.expand(n, -1, -1), src.expand(n, -1))[:, -1].log_softmax(dim=-1)
        candidates = []
        for (seq, score), row in zip(beams, log_probs):
            top = row.topk(beam_size)
            candidates += [(seq + [t], score + lp) for lp, t in zip(top.values.tolist(), top.indices.tolist())]
        beams = sorted(candidates, key=lambda c: c[1], reverse=True)[:beam_size]
    best, score = beams[0]
    return torch.tensor(best[1:], dtype=torch.long), score
"""


# Correct answers written differently from the reference: they must get full marks.
ALTERNATIVES = {
    "causal_mask": patched_cell(
        "causal_mask",
        "alternative_causal_mask",
        (TRIL, "positions = torch.arange(seq_len, device=device)\n    return positions[:, None] >= positions[None, :]"),
    ),
    "masked_softmax": patched_cell(
        "masked_softmax",
        "alternative_masked_softmax",
        (
            MASKED,
            "weights = (scores - scores.amax(dim=-1, keepdim=True)).exp() * mask  # zero, then renormalise: the same "
            "weights\n    return weights / weights.sum(dim=-1, keepdim=True)",
        ),
    ),
    "padding_mask": patched_cell(
        "padding_mask", "alternative_padding_mask", (PAD, "return (tokens != pad_id).unsqueeze(1).unsqueeze(2)")
    ),
    "decoder_layer": patched_cell(
        "decoder_layer",
        "alternative_decoder_layer",
        (
            LAYER_BODY,
            """sublayers = [
            (lambda h: self.self_attn(h, h, mask=self_mask)[0], self.norm1, self.dropout1),
            (lambda h: self.cross_attn(h, key_value=memory, mask=memory_mask)[0], self.norm2, self.dropout2),
            (self.ff, self.norm3, self.dropout3),
        ]
        for sublayer, norm, dropout in sublayers:
            x = x + dropout(sublayer(norm(x))) if self.norm_first else norm(x + dropout(sublayer(x)))
        return x""",
        ),
    ),
    "shift_right": patched_cell(
        "shift_right", "alternative_shift_right", (SHIFT_LINES, "return F.pad(tokens[:, :-1], (1, 0), value=bos_id)")
    ),
    "transformer": patched_cell(
        "transformer",
        "alternative_transformer",
        (
            "causal_mask(tgt_in.size(1), tgt_in.device) & padding_mask(\n            tgt_in, self.pad_id",
            "(\n            causal_mask(tgt_in.shape[1], device=tgt_in.device)[None, None]\n            & (tgt_in != self.pad_id)[:, None, None, :]",
        ),
    ),
    "greedy_decode": """@torch.no_grad()
def greedy_decode(model, src, bos_id, eos_id, max_len):
    memory = model.encode(src)
    tokens = torch.full((src.size(0), max_len + 1), model.pad_id, dtype=torch.long, device=src.device)
    tokens[:, 0] = bos_id
    finished = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    steps = 0
    while steps < max_len and not finished.all():
        choice = model.decode(tokens[:, : steps + 1], memory, src)[:, -1].argmax(dim=-1)
        tokens[:, steps + 1] = torch.where(finished, torch.full_like(choice, model.pad_id), choice)
        finished = finished | (choice == eos_id)
        steps += 1
    return tokens[:, 1 : steps + 1]
""",
    "beam_search": """@torch.no_grad()
def beam_search(model, src, bos_id, eos_id, max_len, beam_size=4):
    memory = model.encode(src)
    live, finished = [([bos_id], 0.0)], []
    for _ in range(max_len):
        candidates = []
        for seq, score in live:  # one sequence at a time, every next token
            log_p = model.decode(torch.tensor([seq], device=src.device), memory, src)[0, -1].log_softmax(dim=-1)
            candidates += [(seq + [t], score + float(log_p[t])) for t in range(log_p.numel())]
        top = sorted(candidates, key=lambda c: -c[1])[:beam_size]
        finished += [c for c in top if c[0][-1] == eos_id]
        live = [c for c in top if c[0][-1] != eos_id]
        if not live or (finished and max(s for _, s in finished) >= live[0][1]):
            break
    seq, score = max(finished + live, key=lambda c: c[1])
    return torch.tensor(seq[1:], dtype=torch.long, device=src.device), score
""",
}

EXPECTED = {  # student -> autograded score out of 18
    "reference": 18,
    "untouched": 0,
    "correct_alternatives": 18,
    "mask_includes_future": 16,
    "mask_excludes_self": 16,
    "mask_after_softmax": 16,
    "mask_on_the_cpu": 16,
    "softmax_over_queries": 16,
    "cross_attention_queries_from_memory": 14,
    "cross_attention_keys_from_decoder": 14,
    "decode_without_causal_mask": 16,
    "greedy_never_stops": 15,
    "beam_never_stops": 15,
}
ANSWERS = {
    "correct_alternatives": ALTERNATIVES,
    "mask_includes_future": {"causal_mask": FUTURE_MASK},
    "mask_excludes_self": {"causal_mask": MASK_EXCLUDES_SELF},
    "mask_after_softmax": {"masked_softmax": MASK_AFTER_SOFTMAX},
    "mask_on_the_cpu": {"causal_mask": MASK_ON_THE_CPU},
    "softmax_over_queries": {"masked_softmax": SOFTMAX_OVER_QUERIES},
    "cross_attention_queries_from_memory": {"decoder_layer": QUERIES_FROM_MEMORY},
    "cross_attention_keys_from_decoder": {"decoder_layer": KEYS_FROM_DECODER},
    "decode_without_causal_mask": {"transformer": DECODE_WITHOUT_CAUSAL_MASK},
    "greedy_never_stops": {"greedy_decode": GREEDY_NEVER_STOPS},
    "beam_never_stops": {"beam_search": BEAM_NEVER_STOPS},
}
NAMED = {  # student -> words the feedback must contain
    "mask_includes_future": "upper triangle",
    "mask_excludes_self": "may attend to itself",
    "mask_after_softmax": "zeroed the weights after the softmax",
    "mask_on_the_cpu": "build the mask on `device`",
    "softmax_over_queries": "softmax over the query axis?",
    "cross_attention_queries_from_memory": "queries from the decoder",
    "cross_attention_keys_from_decoder": "keys and values from memory",
    "decode_without_causal_mask": "saw the future",
    "greedy_never_stops": "did not stop at EOS",
    "beam_never_stops": "did not stop at EOS",
}


CAUSAL, SOFTMAX, PADDING, LAYER = (
    ("test_causal_mask",),
    ("test_masked_softmax",),
    ("test_padding_mask",),
    ("test_decoder_layer",),
)
SHIFT, MODEL, GREEDY, BEAM = (
    ("test_shift_right",),
    ("test_transformer",),
    ("test_greedy_decode",),
    ("test_beam_search",),
)
DROPPED_STREAM = "dropping the sum drops the residual stream"


case, ok = case_makers(CHAPTER)


def both(old_pre, new_pre, old_post, new_post):
    return (old_pre, new_pre), (old_post, new_post)


CASES = [
    # DecoderLayer: the issues' cases first (Pre-LN missing; dropout on the residual sum, in each sublayer and norm order)
    case(
        "pre_ln_missing",
        "decoder_layer",
        LAYER,
        ("if self.norm_first:", "if False:  # norm_first ignored: always Post-LN"),
        says="still computes Post-LN",
    ),
    case(
        "dropout_on_residual_sum_post_ln",
        "decoder_layer",
        LAYER,
        (POST_SELF, "x = self.norm1(self.dropout1(x + self.self_attn(x, mask=self_mask)[0]))"),
        ("x + self.dropout2(self.cross_attn(x,", "self.dropout2(x + self.cross_attn(x,"),
        (POST_FF, "x = self.norm3(self.dropout3(x + self.ff(x)))"),
        says=DROPPED_STREAM,
    ),
    case(
        "dropout_on_residual_sum_pre_ln",
        "decoder_layer",
        LAYER,
        (PRE_SELF, "x = self.dropout1(x + self.self_attn(self.norm1(x), mask=self_mask)[0])"),
        (
            "x = x + self.dropout2(\n                self.cross_attn(self.norm2(x), memory, mask=memory_mask)[0]",
            "x = self.dropout2(\n                x + self.cross_attn(self.norm2(x), memory, mask=memory_mask)[0]",
        ),
        (PRE_FF, "x = self.dropout3(x + self.ff(self.norm3(x)))"),
        says=DROPPED_STREAM,
    ),
    case(
        "dropout_on_ff_sum_only",
        "decoder_layer",
        LAYER,
        (POST_FF, "x = self.norm3(self.dropout3(x + self.ff(x)))"),
        says=DROPPED_STREAM,
    ),
    case(
        "dropout_after_the_norm",
        "decoder_layer",
        LAYER,
        (POST_SELF, "x = self.dropout1(self.norm1(x + self.self_attn(x, mask=self_mask)[0]))"),
        says=DROPPED_STREAM,
    ),
    case(
        "dropout_forgotten_on_cross",
        "decoder_layer",
        LAYER,
        (
            "self.dropout2(\n                self.cross_attn(self.norm2(x), memory, mask=memory_mask)[0]\n            )",
            "self.cross_attn(self.norm2(x), memory, mask=memory_mask)[0]",
        ),
        says="cross-attention (dropout2)",
    ),
    case("dropout_in_eval_mode", "decoder_layer", LAYER, (POST_FF, "x = self.norm3(x + F.dropout(self.ff(x), 0.5))")),
    case(
        "no_residual_post_ln",
        "decoder_layer",
        LAYER,
        (POST_SELF, "x = self.norm1(self.dropout1(self.self_attn(x, mask=self_mask)[0]))"),
    ),
    case(
        "pre_and_post_swapped",
        "decoder_layer",
        LAYER,
        ("if self.norm_first:", "if not self.norm_first:"),
        says="that is Pre-LN",
    ),
    case(
        "cross_attention_to_itself",
        "decoder_layer",
        LAYER,
        *both(
            PRE_CROSS,
            "x = x + self.dropout2(self.cross_attn(self.norm2(x), mask=self_mask)[0])",
            POST_CROSS,
            "x = self.norm2(x + self.dropout2(self.cross_attn(x, mask=self_mask)[0]))",
        ),
        says="keys and values from memory",
    ),
    case(
        "cross_queries_from_memory",
        "decoder_layer",
        LAYER,
        *both(
            PRE_CROSS,
            "x = x + self.dropout2(self.cross_attn(memory, self.norm2(x), mask=memory_mask)[0])",
            POST_CROSS,
            "x = self.norm2(x + self.dropout2(self.cross_attn(memory, x, mask=memory_mask)[0]))",
        ),
    ),
    case(
        "memory_mask_ignored",
        "decoder_layer",
        LAYER,
        *both(
            PRE_CROSS,
            "x = x + self.dropout2(self.cross_attn(self.norm2(x), memory)[0])",
            POST_CROSS,
            "x = self.norm2(x + self.dropout2(self.cross_attn(x, memory)[0]))",
        ),
        says="memory_mask",
    ),
    case(
        "self_mask_ignored",
        "decoder_layer",
        LAYER,
        *both(
            PRE_SELF,
            "x = x + self.dropout1(self.self_attn(self.norm1(x))[0])",
            POST_SELF,
            "x = self.norm1(x + self.dropout1(self.self_attn(x)[0]))",
        ),
        says="saw its future",
    ),
    case(
        "masks_swapped",
        "decoder_layer",
        LAYER,
        *both(
            PRE_SELF,
            "x = x + self.dropout1(self.self_attn(self.norm1(x), mask=memory_mask)[0])",
            POST_SELF,
            "x = self.norm1(x + self.dropout1(self.self_attn(x, mask=memory_mask)[0]))",
        ),
        *both(
            PRE_CROSS,
            "x = x + self.dropout2(self.cross_attn(self.norm2(x), memory, mask=self_mask)[0])",
            POST_CROSS,
            "x = self.norm2(x + self.dropout2(self.cross_attn(x, memory, mask=self_mask)[0]))",
        ),
    ),
    case(
        "pre_ln_memory_normalised",
        "decoder_layer",
        LAYER,
        ("self.cross_attn(self.norm2(x), memory,", "self.cross_attn(self.norm2(x), self.norm2(memory),"),
    ),
    case(
        "pre_ln_residual_after_norm",
        "decoder_layer",
        LAYER,
        (PRE_SELF, "x = self.norm1(x)\n            x = x + self.dropout1(self.self_attn(x, mask=self_mask)[0])"),
    ),
    case(
        "one_norm_for_all",
        "decoder_layer",
        LAYER,
        ("x = self.norm2(", "x = self.norm1("),
        (POST_FF, "x = self.norm1(x + self.dropout3(self.ff(x)))"),
    ),
    case(
        "cross_before_self",
        "decoder_layer",
        LAYER,
        (
            POST_SELF + "\n            " + POST_CROSS,
            POST_CROSS.replace("norm2", "norm1").replace("dropout2", "dropout1")
            + "\n            "
            + POST_SELF.replace("norm1", "norm2").replace("dropout1", "dropout2"),
        ),
    ),
    case(
        "pre_ln_final_norm_inside_layer", "decoder_layer", LAYER, (PRE_FF, PRE_FF + "\n            x = self.norm3(x)")
    ),
    ok(
        "layer_functional_dropout",
        "decoder_layer",
        *both(
            PRE_SELF,
            "x = x + F.dropout(self.self_attn(self.norm1(x), mask=self_mask)[0], self.dropout1.p, self.training)",
            POST_FF,
            "x = self.norm3(x + F.dropout(self.ff(x), p=self.dropout3.p, training=self.training))",
        ),
    ),
    ok(
        "layer_one_dropout_module",
        "decoder_layer",
        ("self.dropout2(self.cross_attn(x,", "self.dropout1(self.cross_attn(x,"),
        (POST_FF, "x = self.norm3(x + self.dropout1(self.ff(x)))"),
    ),
    ok(
        "layer_temporaries_and_keywords",
        "decoder_layer",
        (
            "x = x + self.dropout1(self.self_attn(self.norm1(x), mask=self_mask)[0])\n            x = x + self.dropout2(\n                self.cross_attn(self.norm2(x), memory, mask=memory_mask)[0]\n            )",
            "h = self.norm1(x)\n            attended, _ = self.self_attn(h, h, self_mask)\n            x = x + self.dropout1(attended)\n            h = self.norm2(x)\n            attended, _ = self.cross_attn(query=h, key_value=memory, mask=memory_mask)\n            x = x + self.dropout2(attended)",
        ),
    ),
    # causal_mask
    case(
        "causal_on_the_cpu",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.tril(torch.ones(seq_len, seq_len)).bool()"),
        says="device",
    ),
    case(
        "causal_upper_triangle",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).triu()"),
        says="upper triangle",
    ),
    case(
        "causal_diagonal_excluded",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril(-1)"),
        says="may attend to itself",
    ),
    case(
        "causal_sees_next_token",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril(1)"),
        says="off by one",
    ),
    case(
        "causal_inverted",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).triu(1)"),
        says="may attend",
    ),
    case(
        "causal_float_additive",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.full((seq_len, seq_len), float('-inf'), device=device).triu(1)"),
        says="boolean",
    ),
    case(
        "causal_int",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.ones(seq_len, seq_len, dtype=torch.long, device=device).tril()"),
    ),
    case(
        "causal_batched",
        "causal_mask",
        CAUSAL,
        (TRIL, "return torch.ones(1, 1, seq_len, seq_len, dtype=torch.bool, device=device).tril()"),
    ),
    ok(
        "causal_by_arange",
        "causal_mask",
        (TRIL, "i = torch.arange(seq_len, device=device)\n    return i[None, :] <= i[:, None]"),
    ),
    ok(
        "causal_not_triu",
        "causal_mask",
        (TRIL, "return ~torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).triu(diagonal=1)"),
    ),
    ok(
        "causal_tril_of_ones_bool",
        "causal_mask",
        (TRIL, "return torch.tril(torch.ones(seq_len, seq_len, device=device)).bool()"),
    ),
    # masked_softmax
    case(
        "softmax_zeroed_after",
        "masked_softmax",
        SOFTMAX,
        (MASKED, "return scores.softmax(dim=-1) * mask"),
        says="after the softmax",
    ),
    case(
        "softmax_fill_zero",
        "masked_softmax",
        SOFTMAX,
        (MASKED, "return scores.masked_fill(~mask, 0.0).softmax(dim=-1)"),
        says="not -inf",
    ),
    case("softmax_times_mask", "masked_softmax", SOFTMAX, (MASKED, "return (scores * mask).softmax(dim=-1)")),
    case(
        "softmax_mask_inverted",
        "masked_softmax",
        SOFTMAX,
        (MASKED, 'return scores.masked_fill(mask, float("-inf")).softmax(dim=-1)'),
        says="*may attend*",
    ),
    case(
        "softmax_over_queries_dim",
        "masked_softmax",
        SOFTMAX,
        (MASKED, 'return scores.masked_fill(~mask, float("-inf")).softmax(dim=-2)'),
        says="query axis",
    ),
    case(
        "softmax_mask_ignored", "masked_softmax", SOFTMAX, (MASKED, "return scores.softmax(dim=-1)"), says="not applied"
    ),
    case(
        "softmax_over_dim_0",
        "masked_softmax",
        SOFTMAX,
        (MASKED, 'return scores.masked_fill(~mask, float("-inf")).softmax(dim=0)'),
    ),
    case(
        "softmax_in_place_fill",
        "masked_softmax",
        SOFTMAX,
        (MASKED, 'return scores.masked_fill_(~mask, float("-inf")).softmax(dim=-1)'),
    ),
    ok(
        "softmax_large_negative",
        "masked_softmax",
        (MASKED, "return torch.softmax(scores.masked_fill(mask == 0, -1e9), -1)"),
    ),
    ok(
        "softmax_finfo_min_where",
        "masked_softmax",
        (MASKED, "return F.softmax(torch.where(mask, scores, torch.finfo(scores.dtype).min), dim=-1)"),
    ),
    ok(
        "softmax_log_mask", "masked_softmax", (MASKED, "return (scores + torch.log(mask.to(scores.dtype))).softmax(-1)")
    ),
    ok(
        "softmax_then_renormalise",
        "masked_softmax",
        (MASKED, "w = scores.softmax(dim=-1) * mask\n    return w / w.sum(dim=-1, keepdim=True)"),
    ),
    # padding_mask
    case(
        "padding_inverted",
        "padding_mask",
        PADDING,
        (PAD, "return (tokens == pad_id)[:, None, None, :]"),
        says="*may attend*",
    ),
    case("padding_no_unsqueeze", "padding_mask", PADDING, (PAD, "return tokens != pad_id"), says="add two dimensions"),
    case(
        "padding_on_queries",
        "padding_mask",
        PADDING,
        (PAD, "return (tokens != pad_id)[:, None, :, None]"),
        says="hides keys",
    ),
    case(
        "padding_pad_zero",
        "padding_mask",
        PADDING,
        (PAD, "return (tokens != 0)[:, None, None, :]"),
        says="pad_id you are given",
    ),
    case(
        "padding_float",
        "padding_mask",
        PADDING,
        (PAD, "return (tokens != pad_id).float()[:, None, None, :]"),
        says="boolean",
    ),
    case("padding_three_dims", "padding_mask", PADDING, (PAD, "return (tokens != pad_id)[:, None, :]")),
    ok("padding_unsqueeze_twice", "padding_mask", (PAD, "return tokens.ne(pad_id).unsqueeze(1).unsqueeze(1)")),
    ok("padding_view", "padding_mask", (PAD, "return (tokens != pad_id).view(tokens.size(0), 1, 1, tokens.size(1))")),
    # shift_right
    case(
        "shift_keeps_last",
        "shift_right",
        SHIFT,
        (SHIFT_LINES, "return torch.cat([torch.full_like(tokens[:, :1], bos_id), tokens], dim=1)"),
        says="keep the length",
    ),
    case(
        "shift_left",
        "shift_right",
        SHIFT,
        (SHIFT_LINES, "return torch.cat([tokens[:, 1:], torch.full_like(tokens[:, :1], bos_id)], dim=1)"),
        says="shift to the left",
    ),
    case(
        "shift_bos_replaces_last",
        "shift_right",
        SHIFT,
        (SHIFT_LINES, "return torch.cat([tokens[:, :-1], torch.full_like(tokens[:, :1], bos_id)], dim=1)"),
        says="BOS goes in front",
    ),
    case(
        "shift_bos_hard_coded",
        "shift_right",
        SHIFT,
        (SHIFT_LINES, "return torch.cat([torch.ones_like(tokens[:, :1]), tokens[:, :-1]], dim=1)"),
        says="bos_id you are given",
    ),
    case(
        "shift_in_place",
        "shift_right",
        SHIFT,
        (SHIFT_LINES, "tokens[:, 1:] = tokens[:, :-1].clone()\n    tokens[:, 0] = bos_id\n    return tokens"),
        says="modified the tokens",
    ),
    case(
        "shift_bos_on_cpu",
        "shift_right",
        SHIFT,
        (
            SHIFT_LINES,
            "bos = torch.full((tokens.size(0), 1), bos_id, dtype=tokens.dtype)\n    return torch.cat([bos, tokens[:, :-1]], dim=1)",
        ),
        says="device",
    ),
    case(
        "shift_float_bos",
        "shift_right",
        SHIFT,
        (
            SHIFT_LINES,
            "bos = torch.full((tokens.size(0), 1), float(bos_id), device=tokens.device)\n    return torch.cat([bos, tokens[:, :-1]], dim=1)",
        ),
    ),
    ok("shift_pad", "shift_right", (SHIFT_LINES, "return F.pad(tokens[:, :-1], (1, 0), value=bos_id)")),
    ok(
        "shift_roll_copy",
        "shift_right",
        (SHIFT_LINES, "out = tokens.roll(1, dims=1)\n    out[:, 0] = bos_id\n    return out"),
    ),
    ok(
        "shift_new_full",
        "shift_right",
        (SHIFT_LINES, "out = tokens.new_full(tokens.shape, bos_id)\n    out[:, 1:] = tokens[:, :-1]\n    return out"),
    ),
    # Transformer
    case(
        "decode_masks_on_the_cpu",
        "transformer",
        MODEL,
        (
            "causal_mask(tgt_in.size(1), tgt_in.device) & padding_mask(\n            tgt_in, self.pad_id\n        )",
            "causal_mask(tgt_in.size(1)) & padding_mask(tgt_in, self.pad_id)",
        ),
        says="tokens' device",
    ),
    case(
        "decode_without_causal",
        "transformer",
        MODEL,
        (
            "causal_mask(tgt_in.size(1), tgt_in.device) & padding_mask(\n            tgt_in, self.pad_id\n        )",
            "padding_mask(tgt_in, self.pad_id)",
        ),
        says="saw the future",
    ),
    case(
        "decode_causal_or_padding",
        "transformer",
        MODEL,
        ("tgt_in.device) &", "tgt_in.device) |"),
        says="saw the future",
    ),
    case("encode_without_padding", "transformer", MODEL, (ENCODE, "return self.encoder(src)"), says="padding"),
    case(
        "cross_without_memory_mask",
        "transformer",
        MODEL,
        (HIDDEN, "hidden = self.decoder(tgt_in, memory, self_mask)"),
        says="padding",
    ),
    case(
        "cross_mask_from_target",
        "transformer",
        MODEL,
        (HIDDEN, "hidden = self.decoder(tgt_in, memory, self_mask, padding_mask(tgt_in, self.pad_id))"),
    ),
    case("no_generator", "transformer", MODEL, ("return self.generator(hidden)", "return hidden")),
    case(
        "softmax_logits",
        "transformer",
        MODEL,
        ("return self.generator(hidden)", "return self.generator(hidden).softmax(-1)"),
        says="return logits",
    ),
    case(
        "forward_shifts_again",
        "transformer",
        MODEL,
        (
            "return self.decode(tgt_in, self.encode(src), src)",
            "return self.decode(shift_right(tgt_in, 1), self.encode(src), src)",
        ),
    ),
    ok(
        "model_masks_by_hand",
        "transformer",
        (
            "self_mask = causal_mask(tgt_in.size(1), tgt_in.device) & padding_mask(\n            tgt_in, self.pad_id",
            "n = tgt_in.shape[1]\n        self_mask = (\n            torch.tril(torch.ones(n, n, dtype=torch.bool, device=tgt_in.device))[\n                None, None\n            ]\n            & (tgt_in != self.pad_id)[:, None, None, :]",
        ),
    ),
    ok(
        "model_keywords",
        "transformer",
        (
            HIDDEN,
            "hidden = self.decoder(tgt_in, memory, self_mask=self_mask, memory_mask=padding_mask(src, self.pad_id))",
        ),
    ),
    # greedy_decode
    case("greedy_never_stops_at_eos", "greedy_decode", GREEDY, (STOP, "if False:"), says="did not stop at EOS"),
    case("greedy_stops_at_first_eos", "greedy_decode", GREEDY, (STOP, "if done.any():")),
    case(
        "greedy_no_padding_after_eos",
        "greedy_decode",
        GREEDY,
        ("next_token = next_token.masked_fill(done, model.pad_id)", "pass"),
        says="only receives padding",
    ),
    case(
        "greedy_pads_with_zero",
        "greedy_decode",
        GREEDY,
        ("next_token.masked_fill(done, model.pad_id)", "next_token.masked_fill(done, 0)"),
        says="model.pad_id, not 0",
    ),
    case("greedy_keeps_bos", "greedy_decode", GREEDY, ("return out[:, 1:]", "return out"), says="leave the BOS out"),
    case(
        "greedy_argmin",
        "greedy_decode",
        GREEDY,
        ("-1].argmax(dim=-1)", "-1].argmin(dim=-1)"),
    ),
    case(
        "greedy_first_position",
        "greedy_decode",
        GREEDY,
        ("-1].argmax(dim=-1)", "0].argmax(dim=-1)"),
    ),
    case(
        "greedy_feeds_last_token_only",
        "greedy_decode",
        GREEDY,
        ("model.decode(out,", "model.decode(out[:, -1:],"),
        says="whole prefix",
    ),
    case(
        "greedy_one_step_short", "greedy_decode", GREEDY, ("for _ in range(max_len):", "for _ in range(max_len - 1):")
    ),
    case(
        "greedy_argmax_wrong_axis",
        "greedy_decode",
        GREEDY,
        ("src)[:, -1].argmax(dim=-1)", "src).argmax(dim=-1)[:, 0]"),
    ),
    ok(
        "greedy_softmax_then_argmax",
        "greedy_decode",
        ("-1].argmax(dim=-1)", "-1].softmax(-1).argmax(-1)"),
    ),
    ok(
        "greedy_by_forward",
        "greedy_decode",
        ("model.decode(out, memory, src)[:, -1].argmax(dim=-1)", "model(src, out)[:, -1, :].argmax(-1)"),
    ),
    ok(
        "greedy_where",
        "greedy_decode",
        (
            "next_token.masked_fill(done, model.pad_id)",
            "torch.where(\n                done, torch.full_like(next_token, model.pad_id), next_token\n            )",
        ),
    ),
    # beam_search
    case("beam_returns_first_finished", "beam_search", BEAM, (BEAM_STOP, "if not beams or finished:")),
    case(
        "beam_length_normalised",
        "beam_search",
        BEAM,
        (
            "best, score = max(finished + beams, key=lambda c: c[1])",
            "best, score = max(finished + beams, key=lambda c: c[1] / len(c[0]))",
        ),
    ),
    case(
        "beam_probabilities_summed",
        "beam_search",
        BEAM,
        (
            "-1].log_softmax(dim=-1)",
            "-1].softmax(dim=-1)",
        ),
    ),
    case("beam_one_candidate_per_beam", "beam_search", BEAM, (TOPK, "top = row.topk(1)")),
    case(
        "beam_finished_extended",
        "beam_search",
        BEAM,
        ("if seq[-1] == eos_id:\n                    finished.append((seq, score))\n                elif", "if"),
        says="did not stop at EOS",
    ),
    case(
        "beam_keeps_bos",
        "beam_search",
        BEAM,
        (
            "return torch.tensor(best[1:], dtype=torch.long, device=src.device), score",
            "return torch.tensor(best, dtype=torch.long, device=src.device), score",
        ),
        says="leave the BOS out",
    ),
    case(
        "beam_prefers_finished",
        "beam_search",
        BEAM,
        (
            "best, score = max(finished + beams, key=lambda c: c[1])",
            "best, score = max(finished or beams, key=lambda c: c[1])",
        ),
        says="finished or live",
    ),
    case(
        "beam_best_live_only",
        "beam_search",
        BEAM,
        (
            "best, score = max(finished + beams, key=lambda c: c[1])",
            "best, score = max(beams or finished, key=lambda c: c[1])",
        ),
    ),
    case(
        "beam_first_position_logits",
        "beam_search",
        BEAM,
        (
            "-1].log_softmax(dim=-1)",
            "0].log_softmax(dim=-1)",
        ),
    ),
    ok("beam_all_candidates_ranked", "beam_search", (TOPK, "top = row.topk(row.numel())")),
    ok("beam_runs_to_max_len", "beam_search", (BEAM_STOP, "if not beams:")),
    ok(
        "beam_log_of_softmax_float_tensor_score",
        "beam_search",
        (
            "model.decode(\n                tokens, memory.expand(n, -1, -1), src.expand(n, -1)\n            )[:, -1].log_softmax(dim=-1)",
            "torch.log(\n                model(src.expand(n, -1), tokens)[:, -1].softmax(dim=-1)\n            )",
        ),
    ),
    # found by a mutation test (stop 36): a mask table of a fixed size, a softmax by exp, the memory or the residual
    # cut from the graph, padding id 0 written in, decode encoding the source again
    case(
        "causal_mask_from_a_fixed_table",
        "causal_mask",
        CAUSAL,
        (
            "return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()",
            "return torch.ones(16, 16, dtype=torch.bool, device=device).tril()[:seq_len, :seq_len]",
        ),
        says="causal_mask(40)",
    ),
    case(
        "masked_softmax_by_exp",
        "masked_softmax",
        SOFTMAX,
        (
            'return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)',
            "e = scores.exp() * mask\n    return e / e.sum(dim=-1, keepdim=True)",
        ),
        says="overflows",
    ),
    case(
        "memory_detached",
        "decoder_layer",
        LAYER,
        ("if self.norm_first:", "memory = memory.detach()\n        if self.norm_first:"),
        says="the gradient of DecoderLayer",
    ),
    case(
        "residual_detached_post_ln",
        "decoder_layer",
        LAYER,
        (POST_SELF, "x = self.norm1(x.detach() + self.dropout1(self.self_attn(x, mask=self_mask)[0]))"),
        says="the gradient of DecoderLayer(norm_first=False)",
    ),
    case(
        "padding_id_zero_written_in",
        "transformer",
        MODEL,
        ("return self.encoder(src, padding_mask(src, self.pad_id))", "return self.encoder(src, padding_mask(src, 0))"),
        ("self_mask, padding_mask(src, self.pad_id))", "self_mask, padding_mask(src, 0))"),
        ("tgt_in, self.pad_id\n", "tgt_in, 0\n"),
        says="here 3",
    ),
    case(
        "decode_encodes_the_source_again",
        "transformer",
        MODEL,
        ("hidden = self.decoder(tgt_in, memory,", "hidden = self.decoder(tgt_in, self.encode(src),"),
        says="read the memory it is given",
    ),
]


graded, results, test_wrong_answers_lose_points_and_alternatives_get_full_marks, test_every_case_in_process = (
    round_trip(CHAPTER, CASES, extra=ANSWERS)
)
CASE = {c.name: c for c in CASES}


def test_scores(results):
    assert results["reference"].max_score == 18
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_messages_name_the_mistake(results):
    for student, words in NAMED.items():
        said = messages(results[student])
        assert words in said, f"{student}: {said}"


# What a learner sees before submitting: the student edition run top to bottom (visible tests only, tests/visible.py).
SEEN_BEFORE_SUBMITTING = {  # case -> (the visible test that must fail, words its message must contain)
    "pre_ln_missing": ("test_decoder_layer", "still computes Post-LN"),
    "causal_on_the_cpu": ("test_causal_mask", "build the mask on `device`"),
    "decode_masks_on_the_cpu": ("test_transformer", "tokens' device"),
    "shift_bos_on_cpu": ("test_shift_right", "device"),
    "greedy_pads_with_zero": ("test_greedy_decode", "model.pad_id, not 0"),
    "beam_prefers_finished": ("test_beam_search", "finished or live"),
}


def test_visible_tests_name_each_thing_the_prompts_ask():
    """Each mistake above fails its *visible* test with a message that names it: the hidden tests are not needed to
    see it. The experiment cells that use a failing piece stop with one NotReady line each."""
    cells = visible.run(CHAPTER, {CASE[name].cell: CASE[name].source for name in SEEN_BEFORE_SUBMITTING})
    raised = visible.errors(cells)
    for name, (test, words) in SEEN_BEFORE_SUBMITTING.items():
        said = dict(raised).get(test, "")
        assert words in said, f"{name}: the visible {test} should fail saying {words!r}, it said {said!r}"
    tests = {test for test, _ in SEEN_BEFORE_SUBMITTING.values()}
    for where, error in raised:
        assert where in tests or error.startswith("NotReady: this cell needs your "), f"cell {where} raised {error}"


def test_a_broken_decoder_layer_stops_each_experiment_with_one_message():
    """The issue's case: with a DecoderLayer that ignores norm_first, its visible test fails, and every experiment
    cell that uses it (from the pipeline recap to the Reproduced cell) says so in one line instead of a shape error or
    a NameError; the cells before it, and the tests of the other pieces, run as usual."""
    raised = visible.errors(visible.run(CHAPTER, {"decoder_layer": CASE["pre_ln_missing"].source}))
    assert raised[0][0] == "test_decoder_layer" and "still computes Post-LN" in raised[0][1], raised[:1]
    assert len(raised) > 5, raised
    for where, error in raised[1:]:
        assert error.startswith("NotReady: this cell needs your DecoderLayer, and its test has not passed"), (
            f"cell {where}: {error}"
        )


def test_the_reference_runs_top_to_bottom_without_an_error():
    assert visible.errors(visible.run(CHAPTER, {})) == []

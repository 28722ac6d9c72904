"""Chapter 08 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (masking special tokens, wrong 80/10/10 shares, labels on unmasked positions, heads
that are not tied, a KV cache that recomputes old keys or does not grow by one per step, a GPT without its
causal mask, a cached path that drifts from the full computation, a generator that feeds the whole sequence
through the cache, a tied head counted twice) each lose points, on their own piece's test only."""

import nbformat
import pytest

from grader.course import source_notebook
from tests.submissions import case_failures, case_makers, grade_cases_in_process, grade_class, messages

CHAPTER = "08-bert-vs-gpt"


def reference(grade_id: str) -> str:
    """The reference solution cell of the chapter."""
    cells = nbformat.read(source_notebook(CHAPTER), as_version=4).cells
    return next(c.source for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def mistake(grade_id: str, old: str, new: str) -> dict[str, str]:
    """The reference cell with one line changed: the answer of a student who made one mistake."""
    source = reference(grade_id)
    assert source.count(old) == 1, f"{old!r} is not (once) in the reference of {grade_id}"
    return {grade_id: source.replace(old, new)}


# Correct answers written differently from the reference: other random draws, einsum, a hand-written cached
# attention, top-k by gathering, another grouping of the counts. They must score full marks.
ALTERNATIVE_MASKING = """def mask_tokens(tokens, mask_id, vocab_size, special_ids, p=0.15, generator=None):
    labels = torch.full_like(tokens, IGNORE_INDEX)
    inputs = tokens.clone()
    can_choose = torch.ones_like(tokens, dtype=torch.bool)
    for special in special_ids:
        can_choose &= tokens != special
    chosen = (torch.rand(tokens.shape, generator=generator) < p) & can_choose
    labels[chosen] = tokens[chosen]
    r = torch.rand(tokens.shape, generator=generator)
    to_random, to_mask = chosen & (r < 0.1), chosen & (r >= 0.2)
    inputs[to_mask] = mask_id
    inputs[to_random] = torch.randint(0, vocab_size, (int(to_random.sum()),), generator=generator)
    return inputs, labels
"""
ALTERNATIVE_BERT_FORWARD = """        if segments is None:
            segments = tokens.new_zeros(tokens.shape)
        h = self.pos_emb(self.tok_emb(tokens) + self.seg_emb(segments))
        h = self.dropout(self.emb_norm(h))
        for block in self.layers:
            h = block(h, mask=mask)
        t = self.mlm_norm(F.gelu(self.mlm_dense(h)))
        mlm = torch.einsum("bsd,vd->bsv", t, self.tok_emb.weight) + self.mlm_decoder.bias
        return mlm, self.nsp(self.pooler(h[:, 0]).tanh())
"""
ALTERNATIVE_KV_CACHE = """class KVCache:
    def __init__(self, n_layers: int):
        self.keys: list[Tensor | None] = [None] * n_layers
        self.values: list[Tensor | None] = [None] * n_layers

    def __len__(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].size(2)

    def update(self, layer, k, v):
        old_k, old_v = self.keys[layer], self.values[layer]
        self.keys[layer] = k if old_k is None else torch.cat((old_k, k), dim=-2)
        self.values[layer] = v if old_v is None else torch.cat((old_v, v), dim=-2)
        return self.keys[layer], self.values[layer]


def cached_self_attention(attn, x, mask, cache, layer):
    q = split_heads(attn.W_q(x), attn.n_heads)
    k, v = cache.update(layer, split_heads(attn.W_k(x), attn.n_heads), split_heads(attn.W_v(x), attn.n_heads))
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.size(-1))
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return attn.W_o(merge_heads(torch.einsum("bhqk,bhkd->bhqd", weights, v)))
"""
ALTERNATIVE_GPT_FORWARD = """        positions = torch.arange(seen, seen + seq, device=tokens.device)
        x = self.tok_emb(tokens) + self.pos_emb.embedding(positions)
        allowed = torch.ones(seq, seen + seq, dtype=torch.bool, device=tokens.device).tril(diagonal=seen)
        for i, layer in enumerate(self.layers):
            if cache is None:
                x = layer(x, allowed)
            else:
                h = layer.norm1(x)
                x = x + cached_self_attention(layer.self_attn, h, allowed, cache, i)
                x = x + layer.ff(layer.norm2(x))
        return F.linear(self.norm(x), self.tok_emb.weight)
"""
ALTERNATIVE_GENERATE_BODY = """        model.eval()
        cache = KVCache(len(model.layers)) if use_cache else None
        out, step_input = prompt, prompt
        for _ in range(max_new_tokens):
            logits = model(step_input, cache)[:, -1] if use_cache else model(out)[:, -1]
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)
            elif top_k is not None:
                values, indices = (logits / temperature).topk(min(top_k, logits.size(-1)), dim=-1)
                nxt = indices.gather(-1, torch.multinomial(values.softmax(-1), 1, generator=generator))
            else:
                nxt = torch.multinomial((logits / temperature).softmax(-1), 1, generator=generator)
            out, step_input = torch.cat([out, nxt], 1), nxt
        return out
"""
ALTERNATIVE_COUNTS = """def gpt_parameter_count(config):
    d, f, n = config.d_model, config.d_ff, config.n_layers
    per_block = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d
    return config.vocab_size * d + config.max_len * d + n * per_block + 2 * d


def bert_parameter_count(config):
    d = config.d_model
    body = gpt_parameter_count(GPTConfig(config.vocab_size, config.max_len, d, config.n_heads, config.n_layers, config.d_ff))
    return body + config.n_segments * d + (d * d + d + 2 * d + config.vocab_size) + (d * d + d + 2 * d + 2)
"""


def replace_body(grade_id: str, new_body: str, after: str) -> str:
    """The reference cell with the solution region that follows ``after`` replaced by ``new_body``."""
    source = reference(grade_id)
    start = source.index("### BEGIN SOLUTION", source.index(after))
    start = source.rindex("\n", 0, start) + 1
    end = source.index("### END SOLUTION", start)
    end = source.find("\n", end)
    return source[:start] + new_body + ("" if end == -1 else source[end + 1 :])


ALTERNATIVES = {
    "mask_tokens": ALTERNATIVE_MASKING,
    "bert": replace_body("bert", ALTERNATIVE_BERT_FORWARD, "def forward"),
    "kv_cache": ALTERNATIVE_KV_CACHE,
    "gpt": replace_body("gpt", ALTERNATIVE_GPT_FORWARD, "def forward"),
    "generate": replace_body("generate", ALTERNATIVE_GENERATE_BODY, "with torch.no_grad()"),
    "parameter_counts": ALTERNATIVE_COUNTS,
}


ANSWERS = {
    "correct_alternatives": ALTERNATIVES,
    "masks_specials": mistake("mask_tokens", "p).to(\n        tokens.device\n    ) & ~special", "p).to(tokens.device)"),
    "no_unchanged_tenth": mistake(  # 90 % [MASK], 10 % random, 0 % unchanged
        "mask_tokens", "chosen & (action < 0.8), torch.full_like", "chosen & (action < 1.0), torch.full_like"
    ),
    "labels_on_unmasked_positions": mistake(
        "mask_tokens",
        "labels = tokens.masked_fill(~chosen, IGNORE_INDEX)",
        "labels = tokens.masked_fill(special, IGNORE_INDEX)",
    ),
    "bert_untied": mistake("bert", "self.mlm_decoder.weight = self.tok_emb.weight", "pass  #"),
    "kv_cache_overwritten": mistake(  # the cache keeps only the newest keys: it never grows
        "kv_cache",
        "        self.keys[layer], self.values[layer] = k, v\n",
        "        self.keys[layer], self.values[layer] = k[:, :, -1:], v[:, :, -1:]\n",
    ),
    "gpt_without_causal_mask": mistake("gpt", "                x = layer(x, mask)", "                x = layer(x)"),
    "gpt_untied": mistake("gpt", "self.head.weight = self.tok_emb.weight", "pass  #"),
    "kv_cache_wrong_offset": mistake(
        "gpt", "self.pos_emb(self.tok_emb(tokens), offset=seen)", "self.pos_emb(self.tok_emb(tokens))"
    ),
    "generate_resends_sequence": mistake(
        "generate",
        "(model(next_token, cache) if use_cache else model(tokens))[\n                    :, -1\n                ]",
        "model(tokens, cache)[:, -1]",
    ),
    "tied_head_counted_twice": mistake(
        "parameter_counts",
        "embeddings = config.vocab_size * d + config.max_len * d",
        "embeddings = 2 * config.vocab_size * d + config.max_len * d",
    ),
}
EXPECTED = {  # student -> autograded score out of 20 (the written question is graded by hand)
    "reference": 20,
    "untouched": 0,
    "correct_alternatives": 20,
    "masks_specials": 17,
    "no_unchanged_tenth": 17,
    "labels_on_unmasked_positions": 17,
    "bert_untied": 17,
    "kv_cache_overwritten": 17,
    "gpt_without_causal_mask": 15,
    "gpt_untied": 17,
    "kv_cache_wrong_offset": 18,
    "generate_resends_sequence": 17,
    "tied_head_counted_twice": 17,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_class(CHAPTER, ANSWERS, tmp_path_factory.mktemp("submissions08"))


def test_scores(results):
    assert results["reference"].max_score == 20
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_messages_name_the_mistake(results):
    assert "special token" in messages(results["masks_specials"])
    assert "80 %" in messages(results["no_unchanged_tenth"])
    assert "got a label" in messages(results["labels_on_unmasked_positions"])
    assert "not tied" in messages(results["bert_untied"]) and "not tied" in messages(results["gpt_untied"])
    assert "causal mask" in messages(results["gpt_without_causal_mask"])
    assert "offset=seen" in messages(results["kv_cache_wrong_offset"])
    assert "self.keys[layer]" in messages(results["kv_cache_overwritten"])
    assert "feed only the newest token" in messages(results["generate_resends_sequence"])
    assert "counted as a second V x d matrix" in messages(results["tied_head_counted_twice"])


# Mutation testing: every case graded in process by the notebook's own test cells (tests/case_runner.py).
MASKING, BERT_T, GPT_T, CACHE_T = ("test_mask_tokens",), ("test_bert",), ("test_gpt",), ("test_gpt_kv_cache",)
KV_T = ("test_kv_cache",)
GEN, COUNTS = ("test_generate",), ("test_parameter_counts",)
GPT_BOTH = GPT_T + CACHE_T
LABELS = "labels = tokens.masked_fill(~chosen, IGNORE_INDEX)"
TO_MASK = "inputs = torch.where(\n        chosen & (action < 0.8), torch.full_like(tokens, mask_id), tokens\n    )"
TO_RANDOM = "inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs)"
TIE_BERT = "self.mlm_decoder.weight = self.tok_emb.weight"
BERT_EMB = (
    "self.dropout(\n            self.emb_norm(self.pos_emb(self.tok_emb(tokens) + self.seg_emb(segments)))\n        )"
)
BERT_LAYERS = "x = layer(x, mask)  # no causal mask: every token sees both sides"
NSP = "nsp_logits = self.nsp(torch.tanh(self.pooler(x[:, 0])))"
GPT_EMB = "x = self.pos_emb(self.tok_emb(tokens), offset=seen)  # (batch, seq, d_model)"
GPT_MASK = "mask = causal_mask(seen + seq, tokens.device)[seen:]  # (seq, seen + seq): the new rows of the causal mask"
CACHED_ATTN = (
    "x = x + layer.dropout1(\n"
    "                    cached_self_attention(\n"
    "                        layer.self_attn, layer.norm1(x), mask, cache, i\n"
    "                    )\n"
    "                )"
)
GPT_OUT = "return self.head(self.norm(x))"
KV_STORE = "self.keys[layer], self.values[layer] = k, v"
KV_CAT_K = "k = torch.cat([self.keys[layer], k], dim=2)"
KV_CAT_V = "v = torch.cat([self.values[layer], v], dim=2)"
KV_Q = "q = split_heads(attn.W_q(x), attn.n_heads)  # (batch, heads, new, d_head)"
KV_UPDATE = "k, v = cache.update(layer, split_heads(attn.W_k(x), attn.n_heads), split_heads(attn.W_v(x), attn.n_heads))"
GREEDY = "next_token = logits.argmax(dim=-1, keepdim=True)"
TEMPERATURE = "logits = logits / temperature"
KTH = "kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[\n                        :, -1:\n                    ]"
TOPK_FILL = 'logits = logits.masked_fill(logits < kth, float("-inf"))'
NEXT_LOGITS = (
    "logits = (model(next_token, cache) if use_cache else model(tokens))[\n                    :, -1\n                ]"
)
GPT_NORMS = "norms = 2 * 2 * d  # two LayerNorms per block, weight and bias each"
GPT_RETURN = "return embeddings + config.n_layers * (attention + feed_forward + norms) + 2 * d"
BERT_MLM_HEAD = "mlm_head = d * d + d + 2 * d + v  # dense, LayerNorm, decoder bias"


case, ok = case_makers(CHAPTER)


CASES = [
    # The KV cache: the cases first, old keys recomputed and a cache that does not grow by one per step
    case(
        "kv_attention_recomputes_old_keys",
        "kv_cache",
        KV_T,
        (
            "k, v = cache.update(\n        layer,\n        split_heads(attn.W_k(x), attn.n_heads),\n        split_heads(attn.W_v(x), attn.n_heads),\n    )",
            'if not hasattr(cache, "inputs"):\n        cache.inputs = {}\n    seen = x if layer not in cache.inputs else torch.cat([cache.inputs[layer], x], 1)\n    cache.inputs[layer] = seen  # keeps the inputs and recomputes every key from them\n    k, v = (\n        split_heads(attn.W_k(seen), attn.n_heads),\n        split_heads(attn.W_v(seen), attn.n_heads),\n    )\n    cache.keys[layer], cache.values[layer] = k, v',
        ),
        says="recompute",
    ),
    case(
        "kv_attention_updates_twice",
        "kv_cache",
        KV_T,
        (
            "return attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))\n    )",
            "out = attn.W_o(merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))\n    # once more\n    cache.update(\n        layer,\n        split_heads(attn.W_k(x), attn.n_heads),\n        split_heads(attn.W_v(x), attn.n_heads),\n    )\n    return out",
        ),
        says="update(layer, k, v) once",
    ),
    case("kv_update_never_stores", "kv_cache", KV_T, (KV_STORE, "pass"), says="self.keys[layer]"),
    case(
        "kv_update_returns_new_only",
        "kv_cache",
        KV_T,
        (
            "if self.keys[layer] is not None:\n            "
            + KV_CAT_K
            + "\n            "
            + KV_CAT_V
            + "\n        "
            + KV_STORE
            + "\n        return k, v",
            "self.keys[layer] = k if self.keys[layer] is None else torch.cat([self.keys[layer], k], dim=2)\n"
            "        self.values[layer] = v if self.values[layer] is None else torch.cat([self.values[layer], v], dim=2)\n"
            "        return k, v",
        ),
        says="only the new ones",
    ),
    case(
        "kv_update_last_dim",
        "kv_cache",
        KV_T,
        (KV_CAT_K, "k = torch.cat([self.keys[layer], k], dim=-1)"),
        (KV_CAT_V, "v = torch.cat([self.values[layer], v], dim=-1)"),
        says="dimension 2",
    ),
    case(
        "kv_update_new_first",
        "kv_cache",
        KV_T,
        (KV_CAT_K, "k = torch.cat([k, self.keys[layer]], dim=2)"),
        (KV_CAT_V, "v = torch.cat([v, self.values[layer]], dim=2)"),
        says="after the cached ones",
    ),
    case("kv_update_values_are_keys", "kv_cache", KV_T, (KV_STORE, "self.keys[layer], self.values[layer] = k, k")),
    case(
        "kv_update_one_entry_for_all_layers",
        "kv_cache",
        KV_T,
        ("if self.keys[layer] is not None:", "layer = 0\n        if self.keys[layer] is not None:"),
        says="own keys and values",
    ),
    case("kv_update_overwrites", "kv_cache", KV_T, (KV_CAT_K + "\n            " + KV_CAT_V, "pass")),
    case(
        "kv_attention_no_mask",
        "kv_cache",
        KV_T,
        (
            "attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))\n    )",
            "attn.W_o(merge_heads(F.scaled_dot_product_attention(q, k, v)))",
        ),
        says="mask",
    ),
    case(
        "kv_attention_own_causal_mask",
        "kv_cache",
        KV_T,
        (
            "return attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))",
            "allowed = torch.ones(x.size(1), k.size(2), dtype=torch.bool).tril(\n        diagonal=k.size(2) - x.size(1)\n    )\n    return attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))",
        ),
        says="mask you are given",
    ),
    case(
        "kv_attention_no_output_projection",
        "kv_cache",
        KV_T,
        (
            "attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))\n    )",
            "merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))",
        ),
        says="W_o",
    ),
    case(
        "kv_attention_self_only",
        "kv_cache",
        KV_T,
        (
            "return attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))",
            "new = x.size(1)\n    return attn.W_o(\n        merge_heads(\n            F.scaled_dot_product_attention(\n                q, k[:, :, -new:], v[:, :, -new:], attn_mask=mask[:, -new:]\n            )\n        )",
        ),
        says="only to itself",
    ),
    case(
        "kv_attention_no_scale",
        "kv_cache",
        KV_T,
        (
            "return attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))\n    )",
            'w = (q @ k.transpose(-2, -1)).masked_fill(~mask, float("-inf")).softmax(-1)\n    return attn.W_o(merge_heads(w @ v))',
        ),
        says="sqrt(d_head)",
    ),
    case(
        "kv_attention_keys_as_values",
        "kv_cache",
        KV_T,
        (
            "split_heads(attn.W_v(x),",
            "split_heads(attn.W_k(x),",
        ),
    ),
    ok(
        "kv_tinyformer_attention_and_cat_tuple",
        "kv_cache",
        (KV_CAT_K, "k = torch.cat((self.keys[layer], k), 2)"),
        (
            "return attn.W_o(\n        merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))\n    )",
            "# chapter 03\n    from tinyformer.attention import scaled_dot_product_attention as attention\n\n    return attn.W_o(merge_heads(attention(q, k, v, mask)[0]))",
        ),
    ),
    ok(
        "kv_attention_through_the_module_pieces",
        "kv_cache",
        (
            "q = split_heads(attn.W_q(x), attn.n_heads)  # (batch, heads, new, d_head)\n    k, v = cache.update(\n        layer,\n        split_heads(attn.W_k(x), attn.n_heads),\n        split_heads(attn.W_v(x), attn.n_heads),\n    )",
            "d = attn.W_q.out_features // attn.n_heads\n    q = attn.W_q(x).view(x.size(0), x.size(1), attn.n_heads, d).transpose(1, 2)\n    k_new = attn.W_k(x).view(x.size(0), x.size(1), attn.n_heads, d).transpose(1, 2)\n    v_new = attn.W_v(x).view(x.size(0), x.size(1), attn.n_heads, d).transpose(1, 2)\n    k, v = cache.update(layer, k_new, v_new)",
        ),
    ),
    # GPT's cached path (graded with a known-good cached attention in place of the learner's)
    case(
        "cache_bypassed_and_recomputed",
        "gpt",
        CACHE_T,
        (
            GPT_EMB,
            "# keep the tokens, rerun everything, keep the last positions: the cache is not used\n"
            "        if cache is not None:\n"
            '            history = torch.cat([getattr(cache, "tokens", tokens[:, :0]), tokens], 1)\n'
            "            cache.tokens = history\n"
            "            full = self.pos_emb(self.tok_emb(history))\n"
            "            full_mask = causal_mask(history.size(1), tokens.device)\n"
            "            for layer in self.layers:\n"
            "                full = layer(full, full_mask)\n"
            "            return self.head(self.norm(full))[:, -seq:]\n"
            "        " + GPT_EMB,
        ),
        says="cached_self_attention",
    ),
    case(
        "cache_attention_called_twice",
        "gpt",
        CACHE_T,
        (
            CACHED_ATTN,
            CACHED_ATTN + "\n                cached_self_attention(layer.self_attn, layer.norm1(x), mask, cache, i)",
        ),
    ),
    case(
        "cache_ignored",
        "gpt",
        CACHE_T,
        (
            "cached_self_attention(\n                        layer.self_attn, layer.norm1(x), mask, cache, i\n                    )",
            "layer.self_attn(\n                        layer.norm1(x), mask=causal_mask(seq, tokens.device)\n                    )[0]",
        ),
        says="cache",
    ),
    case("cache_offset_ignored", "gpt", CACHE_T, (GPT_EMB, "x = self.pos_emb(self.tok_emb(tokens))"), says="positions"),
    case("cache_full_mask_rows", "gpt", CACHE_T, ("tokens.device)[seen:]", "tokens.device)[:seq]")),
    case(
        "cache_post_ln",
        "gpt",
        CACHE_T,
        (
            "x + layer.dropout1(\n                    cached_self_attention(\n                        layer.self_attn, layer.norm1(x), mask, cache, i\n                    )\n                )\n                x = x + layer.dropout2(layer.ff(layer.norm2(x)))",
            "layer.norm1(\n                    x\n                    + layer.dropout1(\n                        cached_self_attention(layer.self_attn, x, mask, cache, i)\n                    )\n                )\n                x = layer.norm2(x + layer.dropout2(layer.ff(x)))",
        ),
    ),
    case(
        "cache_ff_forgotten",
        "gpt",
        CACHE_T,
        ("x = x + layer.dropout2(layer.ff(layer.norm2(x)))", ""),
    ),
    case(
        "cache_attention_not_normalised",
        "gpt",
        CACHE_T,
        (
            "cached_self_attention(\n                        layer.self_attn, layer.norm1(x), mask, cache, i\n                    )",
            "cached_self_attention(layer.self_attn, x, mask, cache, i)",
        ),
    ),
    # GPT
    case("gpt_not_tied", "gpt", GPT_BOTH, ("self.head.weight = self.tok_emb.weight", "pass"), says="tied"),
    case("gpt_tied_by_copy", "gpt", GPT_BOTH, ("self.tok_emb.weight", "nn.Parameter(self.tok_emb.weight.clone())")),
    case(
        "gpt_no_causal_mask",
        "gpt",
        GPT_BOTH,
        (
            "            if cache is None:\n                x = layer(x, mask)",
            "            if cache is None:\n                x = layer(x)",
        ),
        says="causal mask",
    ),
    case("gpt_no_final_norm", "gpt", GPT_BOTH, (GPT_OUT, "return self.head(x)"), says="final LayerNorm"),
    case("gpt_mask_inverted", "gpt", GPT_BOTH, ("causal_mask(seen", "~causal_mask(seen")),
    case("gpt_no_positions", "gpt", GPT_BOTH, (GPT_EMB, "x = self.tok_emb(tokens)")),
    case("gpt_softmax_out", "gpt", GPT_BOTH, (GPT_OUT, "return self.head(self.norm(x)).softmax(-1)")),
    ok(
        "gpt_own_positions_and_matmul_head",
        "gpt",
        (
            GPT_EMB,
            "x = self.tok_emb(tokens) + self.pos_emb.embedding(torch.arange(seen, seen + seq, device=tokens.device))",
        ),
        (GPT_OUT, "return self.norm(x) @ self.tok_emb.weight.T"),
    ),
    ok(
        "gpt_mask_by_tril_diagonal",
        "gpt",
        (
            "causal_mask(seen + seq, tokens.device)[seen:]",
            "torch.ones(seq, seen + seq, dtype=torch.bool, device=tokens.device).tril(\n            diagonal=seen\n        )",
        ),
    ),
    # mask_tokens
    case(
        "mask_specials_chosen",
        "mask_tokens",
        MASKING,
        ("p).to(\n        tokens.device\n    ) & ~special", "p).to(tokens.device)"),
        says="special token",
    ),
    case(
        "mask_all_chosen_become_mask",
        "mask_tokens",
        MASKING,
        (
            "inputs = torch.where(\n        chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs\n    )",
            "pass",
        ),
        (
            "torch.where(\n        chosen & (action < 0.8), torch.full_like(tokens, mask_id), tokens\n    )",
            "torch.where(chosen, torch.full_like(tokens, mask_id), tokens)",
        ),
    ),
    case(
        "mask_no_unchanged_share",
        "mask_tokens",
        MASKING,
        (
            "torch.where(\n        chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs\n    )",
            "torch.where(chosen & (action >= 0.8), random_tokens, inputs)",
        ),
    ),
    case(
        "mask_shares_of_all_tokens",
        "mask_tokens",
        MASKING,
        (TO_MASK, TO_MASK),
        ("chosen & (action >=", "~special & (action >="),
        says="no label",
    ),
    case("mask_labels_everywhere", "mask_tokens", MASKING, (LABELS, "labels = tokens.clone()")),
    case("mask_labels_zero", "mask_tokens", MASKING, (LABELS, "labels = tokens.masked_fill(~chosen, 0)")),
    case(
        "mask_labels_are_inputs",
        "mask_tokens",
        MASKING,
        (LABELS, "labels = None"),
        ("    return inputs, labels", "    return inputs, inputs.masked_fill(~chosen, IGNORE_INDEX)"),
        says="original token",
    ),
    case(
        "mask_p_hard_coded",
        "mask_tokens",
        MASKING,
        ("generator=generator) < p).to(", "generator=generator) < 0.15).to("),
        says="argument p",
    ),
    case(
        "mask_global_rng",
        "mask_tokens",
        MASKING,
        (
            "(torch.rand(tokens.shape, generator=generator) < p).to(\n        tokens.device\n    )",
            "(torch.rand(tokens.shape) < p).to(tokens.device)",
        ),
        says="generator",
    ),
    case(
        "mask_random_from_batch",
        "mask_tokens",
        MASKING,
        (
            "torch.randint(vocab_size, tokens.shape, generator=generator).to(\n        tokens.device\n    )",
            "tokens.flatten()[\n        torch.randint(tokens.numel(), tokens.shape, generator=generator)\n    ]",
        ),
        says="random token",
    ),
    case(
        "mask_in_place",
        "mask_tokens",
        MASKING,
        (
            "torch.where(\n        chosen & (action < 0.8), torch.full_like(tokens, mask_id), tokens\n    )",
            "tokens\n    inputs[chosen & (action < 0.8)] = mask_id",
        ),
        says="modified the tokens",
    ),
    case(
        "mask_swapped_shares",
        "mask_tokens",
        MASKING,
        ("(action < 0.8),", "(action < 0.1),"),
        ("(action >= 0.8)", "(action >= 0.1)"),
        says="80 %",
    ),
    ok(
        "mask_bernoulli_and_exclusive_random",
        "mask_tokens",
        (
            "(torch.rand(tokens.shape, generator=generator) < p).to(\n        tokens.device\n    ) & ~special",
            "(\n        torch.bernoulli(torch.full(tokens.shape, p), generator=generator)\n        .bool()\n        .to(tokens.device)\n        & ~special\n    )",
        ),
        (
            "tokens.device\n    )",
            "tokens.device\n    )\n    random_tokens = torch.where(\n        torch.isin(\n            random_tokens, torch.tensor(list(special_ids), device=tokens.device)\n        ),\n        tokens,\n        random_tokens,\n    )",
        ),
    ),
    ok(
        "mask_clone_and_index",
        "mask_tokens",
        (
            "torch.where(\n        chosen & (action < 0.8), torch.full_like(tokens, mask_id), tokens\n    )\n    inputs = torch.where(\n        chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs\n    )",
            "tokens.clone()\n    inputs[chosen & (action < 0.8)] = mask_id\n    replace = chosen & (action >= 0.8) & (action < 0.9)\n    inputs[replace] = random_tokens[replace]",
        ),
    ),
    # BERT
    case("bert_not_tied", "bert", BERT_T, (TIE_BERT, "pass"), says="tied"),
    case("bert_tied_by_data", "bert", BERT_T, (TIE_BERT, "self.mlm_decoder.weight.data = self.tok_emb.weight.data")),
    case(
        "bert_no_segments",
        "bert",
        BERT_T,
        (BERT_EMB, "self.dropout(self.emb_norm(self.pos_emb(self.tok_emb(tokens))))"),
        says="segment embeddings",
    ),
    case(
        "bert_causal",
        "bert",
        BERT_T,
        (BERT_LAYERS, "x = layer(x, causal_mask(tokens.size(1), tokens.device))"),
        says="bidirectional",
    ),
    case(
        "bert_no_emb_norm",
        "bert",
        BERT_T,
        (BERT_EMB, "self.dropout(self.pos_emb(self.tok_emb(tokens) + self.seg_emb(segments)))"),
        says="emb_norm",
    ),
    case(
        "bert_no_mlm_transform",
        "bert",
        BERT_T,
        (
            "self.mlm_decoder(\n            self.mlm_norm(nn.functional.gelu(self.mlm_dense(x)))\n        )",
            "self.mlm_decoder(x)",
        ),
        says="mlm_dense",
    ),
    case(
        "bert_nsp_last_token",
        "bert",
        BERT_T,
        (NSP, "nsp_logits = self.nsp(torch.tanh(self.pooler(x[:, -1])))"),
        says="[CLS]",
    ),
    case("bert_mask_ignored", "bert", BERT_T, (BERT_LAYERS, "x = layer(x)"), says="padding mask"),
    case(
        "bert_no_positions",
        "bert",
        BERT_T,
        (BERT_EMB, "self.dropout(self.emb_norm(self.tok_emb(tokens) + self.seg_emb(segments)))"),
        says="positions",
    ),
    case(
        "bert_relu_head",
        "bert",
        BERT_T,
        (
            "self.mlm_decoder(\n            self.mlm_norm(nn.functional.gelu(self.mlm_dense(x)))\n        )",
            "self.mlm_decoder(self.mlm_norm(torch.relu(self.mlm_dense(x))))",
        ),
    ),
    case("bert_nsp_no_tanh", "bert", BERT_T, (NSP, "nsp_logits = self.nsp(self.pooler(x[:, 0]))")),
    case(
        "bert_segments_none_crashes",
        "bert",
        BERT_T,
        ("segments = torch.zeros_like(tokens) if segments is None else segments", "pass"),
    ),
    ok(
        "bert_functional_gelu_and_mean_free",
        "bert",
        (
            "mlm_logits = self.mlm_decoder(\n            self.mlm_norm(nn.functional.gelu(self.mlm_dense(x)))",
            "h = F.gelu(self.mlm_dense(x))\n        mlm_logits = F.linear(\n            self.mlm_norm(h), self.tok_emb.weight, self.mlm_decoder.bias",
        ),
    ),
    # generate
    case(
        "generate_whole_sequence_through_cache",
        "generate",
        GEN,
        (
            "(model(next_token, cache) if use_cache else model(tokens))[\n                    :, -1\n                ]",
            "(\n                    model(tokens, KVCache(len(model.layers)))\n                    if use_cache\n                    else model(tokens)\n                )[:, -1]",
        ),
        says="newest token",
    ),
    case(
        "generate_temperature_after_softmax",
        "generate",
        GEN,
        ("logits.softmax(dim=-1),", "logits.softmax(dim=-1) / temperature,"),
        (TEMPERATURE, "pass"),
        says="temperature",
    ),
    case(
        "generate_temperature_multiplied",
        "generate",
        GEN,
        (TEMPERATURE, "logits = logits * temperature"),
        says="divide the logits",
    ),
    case(
        "generate_top_k_plus_one",
        "generate",
        GEN,
        ("logits.topk(min(top_k,", "logits.topk(min(top_k + 1,"),
        says="top_k=1",
    ),
    case("generate_top_k_ignored", "generate", GEN, (TOPK_FILL, "pass")),
    case(
        "generate_always_greedy",
        "generate",
        GEN,
        (
            "torch.multinomial(\n                    logits.softmax(dim=-1), 1, generator=generator\n                )",
            "logits.argmax(dim=-1, keepdim=True)",
        ),
    ),
    case(
        "generate_global_rng",
        "generate",
        GEN,
        (
            "torch.multinomial(\n                    logits.softmax(dim=-1), 1, generator=generator\n                )",
            "torch.multinomial(logits.softmax(dim=-1), 1)",
        ),
    ),
    case(
        "generate_first_position",
        "generate",
        GEN,
        ("logits = model(prompt, cache)[:, -1]  # (batch, vocab)", "logits = model(prompt, cache)[:, 0]"),
    ),
    case("generate_no_eval", "generate", GEN, ("        model.eval()\n", ""), says="eval mode"),
    case(
        "generate_one_token_short",
        "generate",
        GEN,
        ("for step in range(max_new_tokens):", "for step in range(max_new_tokens - 1):"),
    ),
    case(
        "generate_new_cache_every_step",
        "generate",
        GEN,
        (
            "(model(next_token, cache) if use_cache else model(tokens))[\n                    :, -1\n                ]",
            "(\n                    model(tokens, KVCache(len(model.layers)))\n                    if use_cache\n                    else model(tokens)\n                )[:, -1]",
        ),
    ),
    ok(
        "generate_power_of_probabilities",
        "generate",
        (TEMPERATURE, "pass"),
        ("logits.softmax(dim=-1),", "logits.softmax(dim=-1) ** (1 / temperature),"),
        (KTH, KTH),
    ),
    ok(
        "generate_top_k_before_temperature",
        "generate",
        (TEMPERATURE, "pass"),
        ("logits.softmax(dim=-1),", "F.softmax(logits / temperature, dim=-1),"),
    ),
    ok(
        "generate_scatter_top_k",
        "generate",
        (
            'kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[\n                        :, -1:\n                    ]\n                    logits = logits.masked_fill(logits < kth, float("-inf"))',
            'top = logits.topk(min(top_k, logits.size(-1)), dim=-1)\n                    logits = torch.full_like(logits, float("-inf")).scatter(\n                        -1, top.indices, top.values\n                    )',
        ),
    ),
    ok(
        "generate_extra_final_call",
        "generate",
        (NEXT_LOGITS, NEXT_LOGITS),
        ("            if step + 1 < max_new_tokens:\n", "            if True:\n"),
    ),
    # parameter counts
    case(
        "count_tied_twice",
        "parameter_counts",
        COUNTS,
        (GPT_RETURN, GPT_RETURN.replace("+ 2 * d", "+ 2 * d + config.vocab_size * d")),
        says="tied weights count once",
    ),
    case(
        "count_no_positions",
        "parameter_counts",
        COUNTS,
        ("embeddings = config.vocab_size * d + config.max_len * d", "embeddings = config.vocab_size * d"),
        says="position embeddings",
    ),
    case(
        "count_no_biases",
        "parameter_counts",
        COUNTS,
        ("attention = 4 * d * d + 4 * d  # W_q, W_k, W_v, W_o with biases", "attention = 4 * d * d"),
        ("feed_forward = d * f + f + f * d + d", "feed_forward = d * f + f * d"),
        says="biases",
    ),
    case("count_no_block_norms", "parameter_counts", COUNTS, (GPT_NORMS, "norms = 0"), says="two LayerNorms"),
    case(
        "count_no_final_norm",
        "parameter_counts",
        COUNTS,
        ("norms) + 2 * d", "norms)"),
        says="every LayerNorm",
    ),
    case(
        "count_bert_no_decoder_bias",
        "parameter_counts",
        COUNTS,
        (BERT_MLM_HEAD, "mlm_head = d * d + d + 2 * d"),
        says="own bias",
    ),
    case(
        "count_bert_two_segments",
        "parameter_counts",
        COUNTS,
        ("embeddings = v * d + config.n_segments * d", "embeddings = v * d + 2 * d"),
    ),
    case(
        "count_bert_no_nsp",
        "parameter_counts",
        COUNTS,
        ("nsp_head = d * d + d + 2 * d + 2  # pooler, classifier", "nsp_head = 0"),
    ),
    case(
        "count_float",
        "parameter_counts",
        COUNTS,
        (
            "embeddings + config.n_layers * (attention + feed_forward + norms) + 2 * d",
            "float(\n        embeddings + config.n_layers * (attention + feed_forward + norms) + 2 * d\n    )",
        ),
        says="Python int",
    ),
    ok(
        "count_by_formula",
        "parameter_counts",
        (
            "embeddings + config.n_layers * (attention + feed_forward + norms) + 2 * d",
            "(\n        (config.vocab_size + config.max_len) * d\n        + config.n_layers * (4 * d * d + 2 * d * f + 9 * d + f)\n        + 2 * d\n    )",
        ),
    ),
    # found by a mutation test (stop 36): specials found by size, random tokens short of the vocabulary, one top-k
    # threshold for the batch, exp() of large logits, a cache when use_cache=False
    case(
        "specials_by_size",
        "mask_tokens",
        MASKING,
        (
            "special = torch.isin(tokens, torch.tensor(list(special_ids), device=tokens.device))",
            "special = tokens <= max(special_ids)",
        ),
        says="by their ids",
    ),
    case(
        "random_tokens_miss_the_last_id",
        "mask_tokens",
        MASKING,
        ("torch.randint(vocab_size, tokens.shape", "torch.randint(vocab_size - 1, tokens.shape"),
        says="never include 0 or 9",
    ),
    case(
        "top_k_threshold_for_the_whole_batch",
        "generate",
        GEN,
        (KTH, KTH.replace(":, -1:\n                    ]", ":, -1:\n                    ].min()")),
        says="per row",
    ),
    case(
        "sampling_from_exp_of_the_logits",
        "generate",
        GEN,
        ("logits.softmax(dim=-1), 1, generator=generator", "logits.exp(), 1, generator=generator"),
        says="not exp()",
    ),
    case(
        "a_cache_without_use_cache",
        "generate",
        GEN,
        ("cache = KVCache(len(model.layers)) if use_cache else None", "cache = KVCache(len(model.layers))"),
        (NEXT_LOGITS, "logits = model(next_token, cache)[:, -1]"),
        says="without a cache",
    ),
]


def test_every_case_in_process():
    """Every case, graded by the notebook's own test cells without nbgrader (seconds): each wrong answer loses the
    points of its own piece only, with its message; each valid alternative gets full marks."""
    assert case_failures(*grade_cases_in_process(CHAPTER, CASES)) == []

"""Chapter 08 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the
hidden tests exist for (masking special tokens, wrong 80/10/10 shares, labels on unmasked positions, heads
that are not tied, a GPT without its causal mask, a KV cache that drifts from the full computation, a
generator that feeds the whole sequence through the cache, a tied head counted twice) each lose points."""

import nbformat
import pytest

from grader.course import source_notebook
from tests.submissions import grade_class, messages

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
ALTERNATIVE_GPT_FORWARD = """        positions = torch.arange(seen, seen + seq, device=tokens.device)
        x = self.tok_emb(tokens) + self.pos_emb.embedding(positions)
        allowed = torch.ones(seq, seen + seq, dtype=torch.bool, device=tokens.device).tril(diagonal=seen)
        for i, layer in enumerate(self.layers):
            if cache is None:
                x = layer(x, allowed)
            else:
                a, h = layer.self_attn, layer.norm1(x)
                q = split_heads(a.W_q(h), a.n_heads)
                k, v = cache.update(i, split_heads(a.W_k(h), a.n_heads), split_heads(a.W_v(h), a.n_heads))
                w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~allowed, float("-inf")).softmax(-1)
                x = x + a.W_o(merge_heads(w @ v))
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
    return source[:start] + new_body + ("" if end == -1 else source[end + 1:])


ALTERNATIVES = {
    "mask_tokens": ALTERNATIVE_MASKING,
    "bert": replace_body("bert", ALTERNATIVE_BERT_FORWARD, "def forward"),
    "gpt": replace_body("gpt", ALTERNATIVE_GPT_FORWARD, "def forward"),
    "generate": replace_body("generate", ALTERNATIVE_GENERATE_BODY, "with torch.no_grad()"),
    "parameter_counts": ALTERNATIVE_COUNTS,
}


ANSWERS = {
    "correct_alternatives": ALTERNATIVES,
    "masks_specials": mistake(
        "mask_tokens", "< p).to(tokens.device) & ~special", "< p).to(tokens.device)"),
    "no_unchanged_tenth": mistake(  # 90 % [MASK], 10 % random, 0 % unchanged
        "mask_tokens", "chosen & (action < 0.8), torch.full_like", "chosen & (action < 1.0), torch.full_like"),
    "labels_on_unmasked_positions": mistake(
        "mask_tokens", "labels = tokens.masked_fill(~chosen, IGNORE_INDEX)", "labels = tokens.masked_fill(special, IGNORE_INDEX)"),
    "bert_untied": mistake(
        "bert", "self.mlm_decoder.weight = self.tok_emb.weight", "pass  #"),
    "gpt_without_causal_mask": mistake(
        "gpt", "                x = layer(x, mask)", "                x = layer(x)"),
    "gpt_untied": mistake(
        "gpt", "self.head.weight = self.tok_emb.weight", "pass  #"),
    "kv_cache_wrong_offset": mistake(
        "gpt", "self.pos_emb(self.tok_emb(tokens), offset=seen)", "self.pos_emb(self.tok_emb(tokens))"),
    "generate_resends_sequence": mistake(
        "generate", "(model(next_token, cache) if use_cache else model(tokens))[:, -1]", "model(tokens, cache)[:, -1]"),
    "tied_head_counted_twice": mistake(
        "parameter_counts", "embeddings = config.vocab_size * d + config.max_len * d",
        "embeddings = 2 * config.vocab_size * d + config.max_len * d"),
}
EXPECTED = {  # student -> autograded score out of 17 (the written question is graded by hand)
    "reference": 17, "untouched": 0, "correct_alternatives": 17,
    "masks_specials": 14, "no_unchanged_tenth": 14, "labels_on_unmasked_positions": 14,
    "bert_untied": 14, "gpt_without_causal_mask": 12, "gpt_untied": 14, "kv_cache_wrong_offset": 15,
    "generate_resends_sequence": 14, "tied_head_counted_twice": 14,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_class(CHAPTER, ANSWERS, tmp_path_factory.mktemp("submissions08"))


def test_scores(results):
    assert results["reference"].max_score == 17
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_messages_name_the_mistake(results):
    assert "special token" in messages(results["masks_specials"])
    assert "80 %" in messages(results["no_unchanged_tenth"])
    assert "got a label" in messages(results["labels_on_unmasked_positions"])
    assert "not tied" in messages(results["bert_untied"]) and "not tied" in messages(results["gpt_untied"])
    assert "causal mask" in messages(results["gpt_without_causal_mask"])
    assert "offset=seen" in messages(results["kv_cache_wrong_offset"])
    assert "feed only the newest token" in messages(results["generate_resends_sequence"])
    assert "counted as a second V x d matrix" in messages(results["tied_head_counted_twice"])

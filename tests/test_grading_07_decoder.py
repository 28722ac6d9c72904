"""Chapter 07 graded through nbgrader: full marks for the reference, 0 untouched, and the mistakes the hidden
tests exist for (a causal mask that includes the future or excludes the position itself, a mask applied after
the softmax, a mask made on the CPU whatever the device, a softmax over the queries, cross-attention fed the wrong tensors, a decoder without the causal mask, decoding that never stops
at EOS) each lose the points of their exercise, and only those; correct answers written differently (a mask from
arange, zero-then-renormalise, a loop over sublayers, a textbook beam search, ...) get full marks."""

import pytest

from tests.submissions import grade_class, messages

CHAPTER = "07-decoder"

FUTURE_MASK = '''def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).triu()  # the future, not the past
'''

MASK_EXCLUDES_SELF = '''def causal_mask(seq_len, device=None):
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril(-1)  # a position cannot see itself
'''

MASK_ON_THE_CPU = '''def causal_mask(seq_len, device=None):
    return torch.tril(torch.ones(seq_len, seq_len)).bool()  # device ignored: on a GPU the mask stays on the CPU
'''

SOFTMAX_OVER_QUERIES = '''def masked_softmax(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-2)  # over the queries, not the keys
'''

MASK_AFTER_SOFTMAX = '''def masked_softmax(scores, mask):
    return scores.softmax(dim=-1) * mask  # zeroed after the softmax: no renormalisation
'''

_DECODER_LAYER = '''class DecoderLayer(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2, self.norm3 = LayerNorm(d_model), LayerNorm(d_model), LayerNorm(d_model)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x, memory, self_mask=None, memory_mask=None):
        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x), mask=self_mask)[0])
            x = x + self.dropout2(CROSS_PRE)
            x = x + self.dropout3(self.ff(self.norm3(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, mask=self_mask)[0]))
            x = self.norm2(x + self.dropout2(CROSS_POST))
            x = self.norm3(x + self.dropout3(self.ff(x)))
        return x
'''
QUERIES_FROM_MEMORY = _DECODER_LAYER.replace(  # queries from the encoder, keys and values from the decoder
    "CROSS_PRE", "self.cross_attn(memory, self.norm2(x), mask=memory_mask)[0]").replace(
    "CROSS_POST", "self.cross_attn(memory, x, mask=memory_mask)[0]")
KEYS_FROM_DECODER = _DECODER_LAYER.replace(  # "cross"-attention to the decoder itself: memory never read
    "CROSS_PRE", "self.cross_attn(self.norm2(x), mask=self_mask)[0]").replace(
    "CROSS_POST", "self.cross_attn(x, mask=self_mask)[0]")

DECODE_WITHOUT_CAUSAL_MASK = '''class Transformer(nn.Module):
    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=128, n_heads=4, d_ff=512, n_layers=2, max_len=256,
                 dropout=0.1, norm_first=False, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.encoder = Encoder(src_vocab_size, d_model, n_heads, d_ff, n_layers, max_len, dropout, norm_first)
        self.decoder = Decoder(tgt_vocab_size, d_model, n_heads, d_ff, n_layers, max_len, dropout, norm_first)
        self.generator = nn.Linear(d_model, tgt_vocab_size)

    def encode(self, src):
        return self.encoder(src, padding_mask(src, self.pad_id))

    def decode(self, tgt_in, memory, src):
        self_mask = padding_mask(tgt_in, self.pad_id)  # the causal mask is missing
        return self.generator(self.decoder(tgt_in, memory, self_mask, padding_mask(src, self.pad_id)))

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, self.encode(src), src)
'''

GREEDY_NEVER_STOPS = '''@torch.no_grad()
def greedy_decode(model, src, bos_id, eos_id, max_len):
    memory = model.encode(src)
    out = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)
    for _ in range(max_len):  # always max_len steps, whatever comes out
        next_token = model.decode(out, memory, src)[:, -1].argmax(dim=-1)
        out = torch.cat([out, next_token[:, None]], dim=1)
    return out[:, 1:]
'''

BEAM_NEVER_STOPS = '''@torch.no_grad()
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
'''


# Correct answers written differently from the reference: they must get full marks.
ALTERNATIVES = {
    "causal_mask": '''def causal_mask(seq_len, device=None):
    positions = torch.arange(seq_len, device=device)
    return positions[:, None] >= positions[None, :]
''',
    "masked_softmax": '''def masked_softmax(scores, mask):
    weights = (scores - scores.amax(dim=-1, keepdim=True)).exp() * mask  # zero, then renormalise: the same weights
    return weights / weights.sum(dim=-1, keepdim=True)
''',
    "padding_mask": '''def padding_mask(tokens, pad_id):
    return (tokens != pad_id).unsqueeze(1).unsqueeze(2)
''',
    "decoder_layer": _DECODER_LAYER.split("    def forward")[0] + '''    def forward(self, x, memory, self_mask=None, memory_mask=None):
        sublayers = [
            (lambda h: self.self_attn(h, h, mask=self_mask)[0], self.norm1, self.dropout1),
            (lambda h: self.cross_attn(h, key_value=memory, mask=memory_mask)[0], self.norm2, self.dropout2),
            (self.ff, self.norm3, self.dropout3),
        ]
        for sublayer, norm, dropout in sublayers:
            x = x + dropout(sublayer(norm(x))) if self.norm_first else norm(x + dropout(sublayer(x)))
        return x
''',
    "shift_right": '''def shift_right(tokens, bos_id):
    return F.pad(tokens[:, :-1], (1, 0), value=bos_id)
''',
    "transformer": DECODE_WITHOUT_CAUSAL_MASK.replace(
        "self_mask = padding_mask(tgt_in, self.pad_id)  # the causal mask is missing",
        "self_mask = causal_mask(tgt_in.shape[1], device=tgt_in.device)[None, None] & (tgt_in != self.pad_id)[:, None, None, :]"),
    "greedy_decode": '''@torch.no_grad()
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
''',
    "beam_search": '''@torch.no_grad()
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
''',
}

EXPECTED = {  # student -> autograded score out of 18
    "reference": 18, "untouched": 0, "correct_alternatives": 18,
    "mask_includes_future": 16, "mask_excludes_self": 16, "mask_after_softmax": 16,
    "mask_on_the_cpu": 16, "softmax_over_queries": 16,
    "cross_attention_queries_from_memory": 14, "cross_attention_keys_from_decoder": 14,
    "decode_without_causal_mask": 16, "greedy_never_stops": 15, "beam_never_stops": 15,
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


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_class(CHAPTER, ANSWERS, tmp_path_factory.mktemp("submissions07"))


def test_scores(results):
    assert results["reference"].max_score == 18
    assert {student: results[student].score for student in EXPECTED} == EXPECTED


def test_messages_name_the_mistake(results):
    for student, words in NAMED.items():
        said = messages(results[student])
        assert words in said, f"{student}: {said}"

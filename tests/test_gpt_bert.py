"""tinyformer.gpt and tinyformer.bert: parameter counts of the real models, the initialisation, the KV cache,
MLM masking."""

import math

import pytest
import torch
from torch import nn

from tinyformer.bert import BERT, IGNORE_INDEX, BERTConfig, bert_parameter_count, mask_tokens
from tinyformer.decoder import causal_mask
from tinyformer.gpt import GPT, GPTConfig, KVCache, cached_self_attention, generate, gpt_parameter_count
from tinyformer.multihead import MultiHeadAttention

GPT2_SMALL = GPTConfig(vocab_size=50257, max_len=1024, d_model=768, n_heads=12, n_layers=12, d_ff=3072)
BERT_BASE = BERTConfig(vocab_size=30522, max_len=512, d_model=768, n_heads=12, n_layers=12, d_ff=3072)


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_of_small_models_and_the_published_sizes():
    small_gpt, small_bert = (
        GPTConfig(vocab_size=50, max_len=16, d_model=32, n_layers=2, d_ff=64),
        BERTConfig(vocab_size=50, max_len=16, d_model=32, n_layers=2, d_ff=64),
    )
    assert count(GPT(small_gpt)) == gpt_parameter_count(small_gpt)
    assert count(BERT(small_bert)) == bert_parameter_count(small_bert)
    assert gpt_parameter_count(GPT2_SMALL) == 124_439_808  # GPT-2 "124M" as released
    assert 109_000_000 < bert_parameter_count(BERT_BASE) < 111_000_000  # BERT-base "110M"


def test_heads_are_tied():
    gpt = GPT(GPTConfig(vocab_size=20, max_len=8, d_model=16, n_layers=1, d_ff=32))
    bert = BERT(BERTConfig(vocab_size=20, max_len=8, d_model=16, n_layers=1, d_ff=32))
    assert gpt.head.weight is gpt.tok_emb.weight and bert.mlm_decoder.weight is bert.tok_emb.weight


def test_gpt_is_causal_and_bert_is_not():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=20, max_len=8, d_model=16, n_layers=2, d_ff=32)).eval()
    bert = BERT(BERTConfig(vocab_size=20, max_len=8, d_model=16, n_layers=2, d_ff=32)).eval()
    a, b = torch.tensor([[1, 2, 3, 4]]), torch.tensor([[1, 2, 3, 9]])
    torch.testing.assert_close(gpt(a)[:, :3], gpt(b)[:, :3])
    assert not torch.allclose(bert(a)[0][:, :3], bert(b)[0][:, :3])


def test_kv_cache_generates_the_same_tokens_and_logits():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=30, max_len=32, d_model=32, n_layers=2, d_ff=64)).eval()
    prompt = torch.randint(30, (3, 5))
    fast = generate(gpt, prompt, 20, temperature=0.8, top_k=5, generator=torch.Generator().manual_seed(1))
    slow = generate(
        gpt, prompt, 20, temperature=0.8, top_k=5, use_cache=False, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(fast, slow) and fast.shape == (3, 25)
    greedy = generate(gpt, prompt, 10, temperature=0)
    torch.testing.assert_close(greedy[:, 5:], gpt(greedy[:, :-1])[:, 4:].argmax(-1))


def test_top_k_one_is_greedy():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=30, max_len=32, d_model=32, n_layers=1, d_ff=64))
    prompt = torch.randint(30, (2, 3))
    assert torch.equal(generate(gpt, prompt, 8, top_k=1), generate(gpt, prompt, 8, temperature=0))


def test_mask_tokens_follows_the_80_10_10_rule_and_never_masks_specials():
    special = [0, 1, 2, 3]  # pad, cls, sep, mask
    tokens = torch.randint(4, 100, (200, 100))
    tokens[:, 0], tokens[:, -1] = 1, 2
    inputs, labels = mask_tokens(
        tokens, mask_id=3, vocab_size=100, special_ids=special, generator=torch.Generator().manual_seed(0)
    )
    chosen = labels != IGNORE_INDEX
    assert not chosen[:, 0].any() and not chosen[:, -1].any()
    assert torch.equal(labels[chosen], tokens[chosen]) and torch.equal(inputs[~chosen], tokens[~chosen])
    assert abs(chosen[:, 1:-1].float().mean().item() - 0.15) < 0.01
    as_mask = (inputs[chosen] == 3).float().mean().item()
    unchanged = (inputs[chosen] == tokens[chosen]).float().mean().item()
    assert abs(as_mask - 0.8) < 0.02 and abs(unchanged - 0.1 - 0.001) < 0.02


def test_more_positions_than_max_len_are_refused_with_the_fix():
    gpt = GPT(GPTConfig(vocab_size=20, max_len=8, d_model=16, n_layers=1, d_ff=32))
    with pytest.raises(ValueError, match="9 positions, but this GPT has max_len=8.*generate fewer tokens"):
        gpt(torch.zeros(1, 9, dtype=torch.long))


def test_gpt2_initialisation_scales_the_residual_projections_and_bert_does_not():
    torch.manual_seed(0)
    n_layers, shape = 8, {"vocab_size": 200, "max_len": 64, "d_model": 256, "n_layers": 8, "d_ff": 1024}
    gpt, bert = GPT(GPTConfig(**shape)), BERT(BERTConfig(**shape))
    scaled = 0.02 / math.sqrt(2 * n_layers)

    def close(weight, std):
        return abs(weight.std().item() - std) < 0.05 * std

    for layer in gpt.layers:
        assert close(layer.self_attn.W_o.weight, scaled) and close(layer.ff.linear2.weight, scaled)
        assert close(layer.self_attn.W_q.weight, 0.02) and close(layer.ff.linear1.weight, 0.02)
        assert not layer.self_attn.W_o.bias.any() and bool((layer.norm1.weight == 1).all())
    for layer in bert.layers:
        assert close(layer.self_attn.W_o.weight, 0.02) and close(layer.ff.linear2.weight, 0.02)
    assert close(gpt.tok_emb.weight, 0.02) and close(gpt.pos_emb.embedding.weight, 0.02)


class _Counting(nn.Module):
    def __init__(self, inner, log):
        super().__init__()
        self.inner, self.log = inner, log

    def forward(self, x):
        self.log.append(x.shape[-2])
        return self.inner(x)


def test_kv_cache_grows_by_one_per_step_and_never_recomputes_old_keys():
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        full = attn(x, mask=causal_mask(7))[0]
        seen_by_k = []
        attn.W_k = _Counting(attn.W_k, seen_by_k)
        cache, outs = KVCache(3), []
        for t in range(7):
            old = None if cache.keys[1] is None else cache.keys[1].clone()
            outs.append(cached_self_attention(attn, x[:, t : t + 1], causal_mask(t + 1)[t:], cache, 1))
            assert seen_by_k[-1] == 1 and len(seen_by_k) == t + 1  # the new token only, once
            assert cache.keys[1].shape == (2, 4, t + 1, 4) and cache.keys[0] is None
            assert old is None or torch.equal(cache.keys[1][:, :, :t], old)  # the old keys are kept as they were
    torch.testing.assert_close(torch.cat(outs, 1), full)

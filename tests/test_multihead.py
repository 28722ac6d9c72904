"""tinyformer.multihead: head splitting, the from-scratch and fast paths, and torch.nn.MultiheadAttention."""

import pytest
import torch

from tinyformer.multihead import MultiHeadAttention, merge_heads, split_heads


def test_split_heads_gives_each_head_a_contiguous_slice_of_features():
    x = torch.arange(2 * 3 * 8.0).reshape(2, 3, 8)
    heads = split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    torch.testing.assert_close(heads[1, 2, 0], x[1, 0, 4:6])
    torch.testing.assert_close(merge_heads(heads), x)


def copy_to_torch(mha: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    d_model = mha.W_q.in_features
    reference = torch.nn.MultiheadAttention(d_model, mha.n_heads, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([mha.W_q.weight, mha.W_k.weight, mha.W_v.weight]))
        reference.in_proj_bias.copy_(torch.cat([mha.W_q.bias, mha.W_k.bias, mha.W_v.bias]))
        reference.out_proj.weight.copy_(mha.W_o.weight)
        reference.out_proj.bias.copy_(mha.W_o.bias)
    return reference


@pytest.mark.parametrize("fast", [False, True])
def test_equals_torch_multihead_attention_self_and_cross_with_masks(fast):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, fast=fast).eval()
    reference = copy_to_torch(mha).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    out, _ = mha(x, mask=causal)
    expected, _ = reference(x, x, x, attn_mask=~causal)  # torch's boolean masks: True = may NOT attend
    torch.testing.assert_close(out, expected)
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[1, 4:] = False
    out, _ = mha(x, memory, mask=keep[:, None, None, :])
    expected, _ = reference(x, memory, memory, key_padding_mask=~keep)
    torch.testing.assert_close(out, expected)


def test_weights_are_per_head_and_the_fast_path_agrees():
    torch.manual_seed(0)
    mha = MultiHeadAttention(12, 3).eval()
    x = torch.randn(2, 6, 12)
    mask = torch.rand(2, 6, 6) > 0.5
    mask[..., 0] = True
    slow, weights = mha(x, mask=mask, need_weights=True)
    fast, none = mha(x, mask=mask)
    assert weights.shape == (2, 3, 6, 6) and none is None
    torch.testing.assert_close(slow, fast)


def test_parameter_count():
    d, h = 32, 4
    assert sum(p.numel() for p in MultiHeadAttention(d, h).parameters()) == 4 * d * d + 4 * d


def test_a_width_that_the_heads_cannot_share_is_refused():
    with pytest.raises(ValueError, match="d_model=10 must be divisible by n_heads=3"):
        MultiHeadAttention(10, 3)

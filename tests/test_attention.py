"""tinyformer.attention against PyTorch and against the definitions of chapter 03."""

import math

import pytest
import torch
import torch.nn.functional as F

from tinyformer.attention import AdditiveAttention, SelfAttention, nadaraya_watson, scaled_dot_product_attention


def test_nadaraya_watson_weights_are_a_gaussian_kernel_over_the_keys():
    x_train = torch.tensor([0.0, 1.0, 2.0])
    y_train = torch.tensor([1.0, 2.0, 4.0])
    prediction, weights = nadaraya_watson(torch.tensor([1.0]), x_train, y_train, bandwidth=1.0)
    kernel = torch.exp(-torch.tensor([1.0, 0.0, 1.0]) / 2)
    torch.testing.assert_close(weights[0], kernel / kernel.sum())
    torch.testing.assert_close(prediction, (kernel / kernel.sum() * y_train).sum().reshape(1))


def test_nadaraya_watson_small_bandwidth_picks_the_nearest_key():
    prediction, _ = nadaraya_watson(
        torch.tensor([0.9]), torch.tensor([0.0, 1.0, 2.0]), torch.tensor([5.0, 7.0, 9.0]), 0.01
    )
    assert prediction.item() == pytest.approx(7.0)


@pytest.mark.parametrize("with_mask", [False, True])
def test_sdpa_equals_pytorch_over_leading_dims(with_mask):
    g = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(2, 3, 5, 8, generator=g),
        torch.randn(2, 3, 7, 8, generator=g),
        torch.randn(2, 3, 7, 4, generator=g),
    )
    mask = torch.rand(2, 1, 5, 7, generator=g) > 0.3 if with_mask else None
    if with_mask:
        mask[..., 0] = True
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))
    if with_mask:
        assert (weights.masked_select(~mask.expand_as(weights)) == 0).all()


def test_sdpa_fully_masked_row_is_zero_not_nan_and_has_finite_gradients():
    q, k, v = (torch.randn(1, 3, 4, requires_grad=True) for _ in range(3))
    mask = torch.tensor([[True, False, True], [False, False, False], [True, True, True]])
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert (out[0, 1] == 0).all() and (weights[0, 1] == 0).all()
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_sdpa_keeps_the_dtype():
    q = torch.randn(2, 4, 8, dtype=torch.float64)
    out, weights = scaled_dot_product_attention(q, q, q)
    assert out.dtype == weights.dtype == torch.float64


def test_additive_attention_matches_its_formula():
    torch.manual_seed(0)
    attention = AdditiveAttention(d_query=3, d_key=5, d_hidden=4)
    q, k, v = torch.randn(2, 6, 3), torch.randn(2, 7, 5), torch.randn(2, 7, 2)
    out, weights = attention(q, k, v)
    scores = torch.einsum(
        "h,bqkh->bqk",
        attention.v_a.weight[0],
        torch.tanh((q @ attention.W_q.weight.T)[:, :, None] + (k @ attention.W_k.weight.T)[:, None]),
    )
    torch.testing.assert_close(weights, scores.softmax(-1))
    torch.testing.assert_close(out, scores.softmax(-1) @ v)


def test_self_attention_projects_one_sequence_three_ways():
    torch.manual_seed(0)
    layer = SelfAttention(d_model=6, d_k=4)
    x = torch.randn(2, 5, 6)
    out, weights = layer(x)
    q, k = layer.W_q(x), layer.W_k(x)
    torch.testing.assert_close(weights, (q @ k.transpose(1, 2) / math.sqrt(4)).softmax(-1))
    assert out.shape == (2, 5, 4)

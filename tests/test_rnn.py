"""tinyformer.rnn (chapter 01): each piece against an independent reference on fixed inputs."""

import math

import pytest
import torch
from torch import nn

from tinyformer.rnn import causal_average, causal_average_sequential, jacobian_norms, rnn_forward


def torch_rnn(x, W_xh, W_hh, b, h0=None):
    rnn = nn.RNN(W_xh.shape[1], W_xh.shape[0], batch_first=True).to(x.dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(W_xh), rnn.weight_hh_l0.copy_(W_hh)
        rnn.bias_ih_l0.copy_(b), rnn.bias_hh_l0.zero_()
        hs, h_n = rnn(x, None if h0 is None else h0.unsqueeze(0))
    return hs, h_n.squeeze(0)


@pytest.fixture
def weights():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 3, generator=g), torch.randn(5, 5, generator=g) / 2, torch.randn(5, generator=g)


def test_rnn_forward_matches_torch_rnn(weights):
    x = torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(1))
    hs, h_T = rnn_forward(x, *weights)
    expected_hs, expected_h_T = torch_rnn(x, *weights)
    assert hs.shape == (4, 7, 5) and h_T.shape == (4, 5)
    torch.testing.assert_close(hs, expected_hs)
    torch.testing.assert_close(h_T, expected_h_T)


def test_rnn_forward_uses_h0_and_keeps_dtype(weights):
    W_xh, W_hh, b = (w.double() for w in weights)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    h0 = torch.randn(2, 5, dtype=torch.float64)
    hs, _ = rnn_forward(x, W_xh, W_hh, b, h0)
    assert hs.dtype == torch.float64
    torch.testing.assert_close(hs, torch_rnn(x, W_xh, W_hh, b, h0)[0])


def test_rnn_forward_by_hand():
    hs, h_T = rnn_forward(torch.tensor([[[1.0], [0.0]]]), torch.tensor([[1.0]]), torch.tensor([[0.5]]), torch.zeros(1))
    assert hs.flatten().tolist() == pytest.approx([math.tanh(1), math.tanh(0.5 * math.tanh(1))])
    assert h_T.item() == pytest.approx(math.tanh(0.5 * math.tanh(1)))


def test_jacobian_norms_of_a_linear_map_are_known():
    M = torch.tensor([[1.0, 2.0], [0.0, 3.0], [4.0, 0.0]])
    c = torch.tensor([0.5, -2.0, 0.0, 3.0])
    norms = jacobian_norms(lambda seq: M @ (c[:, None] * seq).sum(0), torch.randn(4, 2))
    torch.testing.assert_close(norms, c.abs() * math.sqrt(30))


def test_jacobian_norms_vanish_with_small_recurrent_weights(weights):
    W_xh, _, b = weights
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(2)))
    x = 0.1 * torch.randn(30, 3, generator=torch.Generator().manual_seed(3))
    small = jacobian_norms(lambda s: rnn_forward(s[None], W_xh, 0.5 * Q, b)[1][0], x)
    assert small.shape == (30,)
    assert small[0] < 1e-6 * small[-1], "a contraction by 0.5 over 29 steps must shrink the gradient below 1e-6"


def test_causal_average_equals_the_recurrence_and_the_cumsum():
    x = torch.randn(3, 9, 4, dtype=torch.float64)
    expected = x.cumsum(1) / torch.arange(1, 10, dtype=torch.float64)[None, :, None]
    torch.testing.assert_close(causal_average(x), expected)
    torch.testing.assert_close(causal_average_sequential(x), expected)


def test_causal_average_is_causal():
    x = torch.randn(1, 6, 2)
    y = x.clone()
    y[:, 4:] += 100.0  # change the future of position 3
    torch.testing.assert_close(causal_average(x)[:, :4], causal_average(y)[:, :4])

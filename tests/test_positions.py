"""tinyformer.positions: the sinusoid table, the modules, and RoPE's relative-position property."""

import math

import pytest
import torch

from tinyformer.positions import LearnedPositionalEmbedding, PositionalEncoding, apply_rope, sinusoidal_encoding


def test_sinusoidal_table_values():
    pe = sinusoidal_encoding(50, 8)
    pos, i = 7, 1
    assert pe[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 8)), abs=1e-6)
    assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 8)), abs=1e-6)
    assert sinusoidal_encoding(4, 5).shape == (4, 5)


def test_positional_encoding_adds_follows_dtype_and_length():
    module = PositionalEncoding(6, max_len=10)
    x = torch.zeros(2, 4, 6, dtype=torch.float64)
    out = module(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out[1], sinusoidal_encoding(4, 6).double())
    assert "pe" not in module.state_dict()


def test_learned_positions_offset():
    torch.manual_seed(0)
    module = LearnedPositionalEmbedding(10, 4)
    x = torch.zeros(1, 3, 4)
    torch.testing.assert_close(module(x, offset=2)[0], module.embedding.weight[2:5])


def test_rope_is_a_rotation_of_pairs_and_depends_on_relative_position():
    torch.manual_seed(0)
    x = torch.randn(1, 6, 8)
    rotated = apply_rope(x)
    torch.testing.assert_close(rotated[..., 0:2].norm(dim=-1), x[..., 0:2].norm(dim=-1))
    torch.testing.assert_close(rotated[:, 0], x[:, 0])
    q, k = torch.randn(8), torch.randn(8)

    def score(m, n):
        qs = apply_rope(q.expand(1, 20, 8))[0, m]
        ks = apply_rope(k.expand(1, 20, 8))[0, n]
        return (qs @ ks).item()

    assert abs(score(5, 2) - score(13, 10)) < 1e-4 and abs(score(5, 2) - score(5, 3)) > 1e-3
    torch.testing.assert_close(apply_rope(x, offset=3)[:, :2], apply_rope(torch.cat([x[:, :3], x[:, :2]], 1))[:, 3:])


def test_a_sequence_longer_than_the_table_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="12 tokens is longer than max_len=10.*larger max_len"):
        PositionalEncoding(6, max_len=10)(torch.zeros(1, 12, 6))

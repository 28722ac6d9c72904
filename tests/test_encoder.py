"""tinyformer.encoder against torch.nn.LayerNorm and torch.nn.TransformerEncoderLayer with copied weights."""

import pytest
import torch

from tinyformer.encoder import Encoder, EncoderLayer, FeedForward, LayerNorm
from tinyformer.multihead import MultiHeadAttention


def test_layernorm_equals_torch():
    torch.manual_seed(0)
    ours, theirs = LayerNorm(6), torch.nn.LayerNorm(6)
    with torch.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
        theirs.weight.copy_(ours.weight), theirs.bias.copy_(ours.bias)
    x = torch.randn(3, 4, 6) * 5 + 2
    torch.testing.assert_close(ours(x), theirs(x))


def copy_attention(ours: MultiHeadAttention, theirs: torch.nn.MultiheadAttention) -> None:
    theirs.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight, ours.W_v.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.W_q.bias, ours.W_k.bias, ours.W_v.bias]))
    theirs.out_proj.weight.copy_(ours.W_o.weight)
    theirs.out_proj.bias.copy_(ours.W_o.bias)


def copy_feed_forward_and_norms(ours, theirs, n_norms: int) -> None:
    for name in ("linear1", "linear2"):
        getattr(theirs, name).load_state_dict(getattr(ours.ff, name).state_dict())
    for i in range(1, n_norms + 1):
        getattr(theirs, f"norm{i}").load_state_dict(getattr(ours, f"norm{i}").state_dict())


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_equals_torch(norm_first, activation):
    torch.manual_seed(0)
    ours = EncoderLayer(16, 4, 32, norm_first=norm_first, activation=activation).eval()
    theirs = torch.nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    ).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
        copy_attention(ours.self_attn, theirs.self_attn)
        copy_feed_forward_and_norms(ours, theirs, 2)
    x = torch.randn(2, 5, 16)
    keep = torch.ones(2, 5, dtype=torch.bool)
    keep[1, 3:] = False
    torch.testing.assert_close(
        ours(x, keep[:, None, None, :]), theirs(x, src_key_padding_mask=~keep), atol=1e-5, rtol=1e-4
    )


def test_feed_forward_is_position_wise():
    torch.manual_seed(0)
    ff = FeedForward(4, 16)
    x = torch.randn(1, 3, 4)
    torch.testing.assert_close(ff(x)[0, 1], ff(x[:, 1:2])[0, 0])


def test_encoder_shapes_padding_and_final_norm():
    torch.manual_seed(0)
    encoder = Encoder(vocab_size=11, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=20, norm_first=True).eval()
    tokens = torch.tensor([[3, 4, 5, 0, 0], [3, 4, 5, 6, 7]])
    out = encoder(tokens, (tokens != 0)[:, None, None, :])
    assert out.shape == (2, 5, 16) and isinstance(encoder.norm, LayerNorm)
    changed = tokens.clone()
    changed[0, 3:] = 9  # what padding holds must not matter to the real tokens
    torch.testing.assert_close(encoder(changed, (tokens != 0)[:, None, None, :])[0, :3], out[0, :3])


def test_scaled_token_embeddings_start_at_the_size_of_the_positions():
    """The embedding starts at N(0, 1/d): times sqrt(d), a token vector has length about sqrt(d), the same order as a
    sinusoid row's sqrt(d/2), instead of nn.Embedding's default N(0, 1), which would give about d."""
    torch.manual_seed(0)
    d = 64
    encoder = Encoder(vocab_size=1000, d_model=d, n_heads=2, d_ff=32, n_layers=1, max_len=20)
    assert abs(encoder.embedding.weight.std().item() - d**-0.5) < 0.1 * d**-0.5
    scaled = (encoder.embedding.weight * d**0.5).norm(dim=-1).mean().item()
    positions = encoder.positions.pe.norm(dim=-1).mean().item()
    assert abs(scaled - d**0.5) < 0.5 and abs(positions - (d / 2) ** 0.5) < 1e-4

"""tinyformer.decoder: masks, torch.nn.TransformerDecoderLayer with copied weights, decoding."""

import pytest
import torch

from tests.test_encoder import copy_attention, copy_feed_forward_and_norms
from tinyformer.decoder import (
    DecoderLayer,
    Transformer,
    beam_search,
    causal_mask,
    greedy_decode,
    padding_mask,
    shift_right,
)


def test_masks():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert padding_mask(torch.tensor([[5, 6, 0]]), 0).tolist() == [[[[True, True, False]]]]
    assert shift_right(torch.tensor([[7, 8, 9]]), 1).tolist() == [[1, 7, 8]]


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_torch(norm_first):
    torch.manual_seed(0)
    ours = DecoderLayer(16, 4, 32, norm_first=norm_first).eval()
    theirs = torch.nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
        copy_attention(ours.self_attn, theirs.self_attn)
        copy_attention(ours.cross_attn, theirs.multihead_attn)
        copy_feed_forward_and_norms(ours, theirs, 3)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[0, 5:] = False
    expected = theirs(x, memory, tgt_mask=~causal_mask(5), memory_key_padding_mask=~keep)
    torch.testing.assert_close(ours(x, memory, causal_mask(5), keep[:, None, None, :]), expected, atol=1e-5, rtol=1e-4)


def test_the_decoder_cannot_see_the_future():
    torch.manual_seed(0)
    model = Transformer(10, 10, d_model=16, n_heads=2, d_ff=32, n_layers=2, dropout=0.0).eval()
    src, tgt = torch.tensor([[3, 4, 5]]), torch.tensor([[1, 6, 7, 8]])
    changed = tgt.clone()
    changed[0, 3] = 9
    torch.testing.assert_close(model(src, tgt)[:, :3], model(src, changed)[:, :3])


class Bigram(torch.nn.Module):
    """A stand-in for a trained model: the next token's probabilities depend on the last token only."""

    pad_id = 0

    def __init__(self, table):
        super().__init__()
        self.log_table = torch.tensor(table).clamp_min(1e-9).log()

    def encode(self, src):
        return src.float()[..., None]

    def decode(self, tgt_in, memory, src):
        return self.log_table[tgt_in]


# tokens: 0 pad, 1 BOS, 2 EOS, 3 "A", 4 "B"
TABLE = [[1, 0, 0, 0, 0], [0, 0, 0, 0.6, 0.4], [0, 0, 1, 0, 0], [0, 0, 0.5, 0.5, 0], [0, 0, 0.9, 0, 0.1]]


def test_greedy_takes_the_likeliest_token_and_beam_search_the_likeliest_sequence():
    src = torch.zeros(1, 3, dtype=torch.long)
    assert greedy_decode(Bigram(TABLE), src, 1, 2, max_len=5).tolist() == [[3, 2]]  # p = 0.6 * 0.5 = 0.30
    tokens, score = beam_search(Bigram(TABLE), src, 1, 2, max_len=5, beam_size=2)
    assert tokens.tolist() == [4, 2] and score == pytest.approx(torch.tensor(0.4 * 0.9).log().item())  # p = 0.36
    tokens, _ = beam_search(Bigram(TABLE), src, 1, 2, max_len=5, beam_size=1)
    assert tokens.tolist() == [3, 2]  # a beam of one is greedy


def test_greedy_decode_pads_after_eos_and_stops():
    class Fixed(torch.nn.Module):  # always says EOS for sequence 0, token 5 for sequence 1
        pad_id = 0

        def encode(self, src):
            return src.float()[..., None]

        def decode(self, tgt_in, memory, src):
            logits = torch.zeros(tgt_in.size(0), tgt_in.size(1), 6)
            logits[0, :, 2] = 1
            logits[1, :, 5] = 1
            return logits

    out = greedy_decode(Fixed(), torch.zeros(2, 3, dtype=torch.long), 1, 2, max_len=4)
    assert out.tolist() == [[2, 0, 0, 0], [5, 5, 5, 5]]


def test_the_target_embedding_starts_as_the_encoders():
    torch.manual_seed(0)
    model = Transformer(500, 600, d_model=64, n_heads=2, d_ff=32, n_layers=1, max_len=20)
    for embedding in (model.encoder.embedding, model.decoder.embedding):
        assert abs(embedding.weight.std().item() - 64**-0.5) < 0.1 * 64**-0.5

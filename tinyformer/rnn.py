"""Chapter 01 — why RNNs fall short.

Reference of the pieces the learner writes in ``solutions/01-rnn-limits``.
Its generated regions are copies: edit those pieces in solutions/01-rnn-limits/, then run `python -m grader reference`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


# generated from solutions/01-rnn-limits/01-rnn-limits.ipynb (rnn_forward): edit it there, then python -m grader reference
# fmt: off
def rnn_forward(
    x: Tensor, W_xh: Tensor, W_hh: Tensor, b_h: Tensor, h0: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Run a tanh RNN over a batch of sequences, one time step after another.

    h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b_h)
    (the maths' W_x x_t + W_h h_{t-1} + b, batched)

    Args:
        x:    (batch, seq, d_in)        inputs, batch-first.
        W_xh: (d_hidden, d_in)          input-to-hidden weights.
        W_hh: (d_hidden, d_hidden)      hidden-to-hidden (recurrent) weights.
        b_h:  (d_hidden,)               bias.
        h0:   (batch, d_hidden) or None initial state; zeros when None.

    Returns:
        hs:  (batch, seq, d_hidden)  the states h_1 ... h_T, one per input step.
        h_T: (batch, d_hidden)       the last state, equal to hs[:, -1].
    """
    batch, seq, _ = x.shape
    h = x.new_zeros(batch, W_hh.shape[0]) if h0 is None else h0  # (batch, d_hidden)
    states = []
    for t in range(seq):  # the loop over time that cannot be parallelised
        h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T + b_h)  # (batch, d_hidden)
        states.append(h)
    hs = torch.stack(states, dim=1)  # (batch, seq, d_hidden)
    return hs, h
# fmt: on


# end of generated rnn_forward


# generated from solutions/01-rnn-limits/01-rnn-limits.ipynb (jacobian_norms): edit it there, then python -m grader reference
# fmt: off
def jacobian_norms(last_state: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """How strongly the last state depends on each input: ||∂h_T / ∂x_t||_F for every t.

    Args:
        last_state: maps one sequence (seq, d_in) to a final state (d_hidden,).
        x:          (seq, d_in) one input sequence.

    Returns:
        (seq,) the Frobenius norm of the Jacobian
        of the last state w.r.t. each input x_t.
    """
    J = torch.autograd.functional.jacobian(last_state, x)  # (d_hidden, seq, d_in)
    return J.pow(2).sum(dim=(0, 2)).sqrt()  # (seq,)
# fmt: on


# end of generated jacobian_norms


# generated from solutions/01-rnn-limits/01-rnn-limits.ipynb (causal_average): edit it there, then python -m grader reference
# fmt: off
def causal_average(x: Tensor) -> Tensor:
    """Average of every prefix, computed for all
    positions at once with one matrix product.

    out[:, t] = (x[:, 0] + ... + x[:, t]) / (t + 1)

    Args:
        x: (batch, seq, d) inputs.

    Returns:
        (batch, seq, d) the running means; position t sees positions 0..t only.
    """
    seq = x.shape[1]
    # (seq, seq): 1 where s <= t
    allowed = torch.ones(seq, seq, dtype=x.dtype, device=x.device).tril()
    # (seq, seq), row t holds 1/(t+1)
    weights = allowed / allowed.sum(dim=1, keepdim=True)
    return weights @ x  # (seq, seq) @ (batch, seq, d) -> (batch, seq, d)
# fmt: on


# end of generated causal_average


# generated from solutions/01-rnn-limits/01-rnn-limits.ipynb (causal_average_sequential): edit it there, then python -m grader reference
# fmt: off
def causal_average_sequential(x: Tensor) -> Tensor:
    """The same running mean as a recurrence, one
    step at a time (an RNN with a fixed update).

    m_t = m_{t-1} + (x_t - m_{t-1}) / (t + 1)

    Args:
        x: (batch, seq, d) inputs.

    Returns:
        (batch, seq, d) the running means.
    """
    m = torch.zeros_like(x[:, 0])  # (batch, d)
    means = []
    for t in range(x.shape[1]):
        m = m + (x[:, t] - m) / (t + 1)
        means.append(m)
    return torch.stack(means, dim=1)
# fmt: on


# end of generated causal_average_sequential

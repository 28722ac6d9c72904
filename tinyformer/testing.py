"""Checking helpers for the notebooks' tests: failures that say what is probably wrong.

    check_tensor(hs, expected, "hs", hints=[(hs_with_h0, "did you include h_0 in the outputs?")])

The torch functions used here are bound when this module is imported, so a notebook that later
replaces ``torch.allclose`` or similar does not change what the checks see.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

_Tensor = torch.Tensor
_allclose = torch.allclose
_isfinite = torch.isfinite
_no_grad = torch.no_grad


class CheckFailure(AssertionError):
    """A failed check; its message explains what was expected and, when recognised, what went wrong."""


def check_tensor(
    actual: object,
    expected: torch.Tensor,
    name: str,
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    hints: Iterable[tuple[torch.Tensor, str]] = (),
) -> None:
    """Assert that ``actual`` is a tensor equal to ``expected`` (shape, then values).

    Args:
        actual:   what the learner's code returned.
        expected: the right answer.
        name:     how to call the value in messages, e.g. ``"rnn_forward(...)[0]"``.
        atol, rtol: tolerances, as in ``torch.allclose``.
        hints:    pairs ``(wrong_answer, message)``: when ``actual`` equals a known wrong answer
                  (for instance the result of a transposed weight), the message says so.
    """
    if type(actual) is not _Tensor:
        raise CheckFailure(f"{name} should be a torch.Tensor, got {type(actual).__name__}.")
    if tuple(actual.shape) != tuple(expected.shape):
        for wrong, message in hints:
            if tuple(actual.shape) == tuple(wrong.shape) and _close(actual, wrong, atol, rtol):
                raise CheckFailure(f"{name} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}: {message}")
        raise CheckFailure(f"{name} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}.")
    if actual.dtype != expected.dtype:
        raise CheckFailure(
            f"{name} has dtype {actual.dtype}, expected {expected.dtype}: keep the dtype of the inputs "
            "(create new tensors with dtype=x.dtype, or x.new_zeros(...))."
        )
    if _close(actual, expected, atol, rtol):
        return
    for wrong, message in hints:
        if tuple(actual.shape) == tuple(wrong.shape) and _close(actual, wrong, atol, rtol):
            raise CheckFailure(f"{name} has the wrong values: {message}")
    with _no_grad():
        a, e = actual.detach().to("cpu", torch.float64), expected.detach().to("cpu", torch.float64)
        if not bool(_isfinite(a).all()):
            raise CheckFailure(f"{name} contains NaN or infinite values.")
        worst = (a - e).abs().flatten().argmax().item()
        index = tuple(int(i) for i in _unravel(worst, tuple(e.shape)))
    raise CheckFailure(
        f"{name} has the wrong values: at index {index} got {a[index].item():.6g}, "
        f"expected {e[index].item():.6g} (the largest difference)."
    )


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float) -> bool:
    with _no_grad():
        a = a.detach().to("cpu", torch.float64)
        b = b.detach().to("cpu", torch.float64)
        return bool(_allclose(a, b, atol=atol, rtol=rtol))


def _unravel(flat: int, shape: tuple[int, ...]) -> list[int]:
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return list(reversed(index))

"""Checking helpers for the notebooks' tests: failures that say what is probably wrong.

    check_tensor(hs, expected, "hs", hints=[(hs_with_h0, "did you include h_0 in the outputs?")])
    hs, h_T = call("rnn_forward", rnn_forward, x, W_xh, W_hh, b_h, hint="with row vectors use x_t @ W_xh.T")
    out, calls = torch_calls(causal_average, x)   # which torch functions ran, and the shapes they saw

The torch functions used here are bound when this module is imported, so a notebook that later
replaces ``torch.allclose`` or similar does not change what the checks see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.overrides import TorchFunctionMode

from .i18n import _, translate, translating_assertions

_Tensor = torch.Tensor
_allclose = torch.allclose
_isfinite = torch.isfinite
_no_grad = torch.no_grad


class CheckFailure(AssertionError):
    """A failed check; its message explains what was expected and, when recognised, what went wrong.
    It is written in the notebook's language (tinyformer.i18n)."""

    translated = True  # already in the notebook's language: translating_assertions leaves it alone


def passed(message: str) -> None:
    """Print a test's success line (``passed("rnn_forward works.")``) in the notebook's language."""
    print(translate(message))


# In a Chinese notebook a plain ``assert ..., "message"`` of a test cell is shown translated too.
translating_assertions()


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
    name = translate(name)
    if type(actual) is not _Tensor:
        raise CheckFailure(
            _("{name} should be a torch.Tensor, got {kind}.").format(name=name, kind=type(actual).__name__)
        )
    shapes = {"name": name, "actual": tuple(actual.shape), "expected": tuple(expected.shape)}
    if tuple(actual.shape) != tuple(expected.shape):
        for wrong, message in hints:
            if tuple(actual.shape) == tuple(wrong.shape) and _close(actual, wrong, atol, rtol):
                raise CheckFailure(
                    _("{name} has shape {actual}, expected {expected}: {hint}").format(
                        **shapes, hint=translate(message)
                    )
                )
        raise CheckFailure(_("{name} has shape {actual}, expected {expected}.").format(**shapes))
    if actual.dtype != expected.dtype:
        raise CheckFailure(
            _("{name} has dtype {actual}, expected {expected}: {hint}").format(
                name=name, actual=actual.dtype, expected=expected.dtype, hint=_dtype_hint(actual.dtype, expected.dtype)
            )
        )
    if _close(actual, expected, atol, rtol):
        return
    for wrong, message in hints:
        if tuple(actual.shape) == tuple(wrong.shape) and _close(actual, wrong, atol, rtol):
            raise CheckFailure(_("{name} has the wrong values: {hint}").format(name=name, hint=translate(message)))
    with _no_grad():
        a, e = actual.detach().to("cpu", torch.float64), expected.detach().to("cpu", torch.float64)
        if not bool(_isfinite(a).all()):
            raise CheckFailure(_("{name} contains NaN or infinite values.").format(name=name))
        worst = (a - e).abs().flatten().argmax().item()
        index = tuple(int(i) for i in _unravel(worst, tuple(e.shape)))
    raise CheckFailure(
        _(
            "{name} has the wrong values: at index {index} got {actual:.6g}, expected {expected:.6g} (the largest difference)."
        ).format(name=name, index=index, actual=a[index].item(), expected=e[index].item())
    )


def _dtype_hint(actual: torch.dtype, expected: torch.dtype) -> str:
    if expected.is_floating_point and actual.is_floating_point:
        return _("keep the dtype of the inputs (create new tensors with dtype=x.dtype, or x.new_zeros(...)).")
    if expected.is_floating_point:
        return _(
            "the result should be floating point (an integer tensor cannot hold these values: use .float() or dtype=)."
        )
    if expected == torch.bool:
        return _("the result should be a boolean tensor (True/False), e.g. from a comparison.")
    if actual.is_floating_point:
        return _("the result should hold integers ({dtype}), e.g. ids or indices, not floats.").format(dtype=expected)
    return _("use {dtype}.").format(dtype=expected)


def describe(value: object) -> str:
    """A short description of an argument for messages: a tensor by its shape and dtype."""
    if type(value) is _Tensor:
        dtype = "" if value.dtype == torch.float32 else f", {str(value.dtype).replace('torch.', '')}"
        return _("tensor of shape {shape}{dtype}").format(shape=tuple(value.shape), dtype=dtype)
    if callable(value) and not isinstance(value, type):
        return _("a function") if getattr(value, "__name__", "<lambda>").startswith("<") else value.__name__
    if isinstance(value, (list, tuple)) and len(repr(value)) > 60:
        return _("{kind} of length {length}").format(kind=type(value).__name__, length=len(value))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def call(name: str, fn: Callable, *args: object, hint: str = "", **kwargs: object) -> object:
    """``fn(*args, **kwargs)``; an exception from the learner's code becomes a failure that names the piece and
    its inputs (``NotImplementedError``, "not done yet", passes through unchanged).

        hs, h_T = call("rnn_forward", rnn_forward, x, W_xh, W_hh, b, hint="with row vectors use x_t @ W_xh.T")
    """
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except CheckFailure:
        raise
    except Exception as error:  # the learner's code failed: say where, with what
        inputs = ", ".join([describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()])
        message = (
            _("{call} raised {error}: {message}")
            .format(call=f"{name}({inputs})", error=type(error).__name__, message=error)
            .rstrip(".")
            + "."
        )
        if hint:
            message += " " + _("Hint: {hint}").format(hint=translate(hint))
        raise CheckFailure(message) from None


class _Recorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[tuple[int, ...]]]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        tensors = [
            a
            for a in (*args, *kwargs.values(), *(result if isinstance(result, tuple) else (result,)))
            if isinstance(a, _Tensor)
        ]
        self.calls.append((getattr(func, "__name__", str(func)), [tuple(t.shape) for t in tensors]))
        return result


def torch_calls(
    fn: Callable, *args: object, **kwargs: object
) -> tuple[object, list[tuple[str, list[tuple[int, ...]]]]]:
    """Run ``fn(*args, **kwargs)`` and record every torch function it calls, under whatever name the learner
    imported it: returns (result, [(function name, shapes of its tensor arguments and results), ...]).
    Lets a test check *how* a result was computed (a T x T weight matrix was built, the fused kernel ran once)."""
    recorder = _Recorder()
    with recorder:
        result = fn(*args, **kwargs)
    return result, recorder.calls


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

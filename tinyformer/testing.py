"""Checking helpers for the notebooks' tests: failures that say what is probably wrong.

    check_tensor(hs, expected, "hs", hints=[(hs_with_h0, "did you include h_0 in the outputs?")])
    hs, h_T = call("rnn_forward", rnn_forward, x, W_xh, W_hh, b_h, hint="with row vectors use x_t @ W_xh.T")
    out, calls = torch_calls(causal_average, x)   # which torch functions ran, and the shapes they saw
    check_gradients("LayerNorm", layer_norm, x)   # backpropagation against finite differences

The torch functions used here are bound when this module is imported, so a notebook that later
replaces ``torch.allclose`` or similar does not change what the checks see.
"""

from __future__ import annotations

import re
import warnings as _warnings
from collections.abc import Callable, Iterable

import torch
from torch.autograd.gradcheck import GradcheckError as _GradcheckError
from torch.autograd.gradcheck import gradcheck as _gradcheck
from torch.overrides import TorchFunctionMode

from .i18n import _, translate, translating_assertions

_Tensor = torch.Tensor
_allclose = torch.allclose
_isfinite = torch.isfinite
_no_grad = torch.no_grad
_functional_call = torch.func.functional_call


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


def check_gradients(name: str, fn: Callable, *inputs: object) -> None:
    """Assert that backpropagation through ``fn(*inputs)`` gives the derivatives of its values, with respect to
    every floating-point input and, when ``fn`` is an ``nn.Module``, every parameter: autograd's gradients
    against finite differences (``torch.autograd.gradcheck``). Catches a ``.detach()``, a part computed under
    ``torch.no_grad()`` or through ``.data``, which leave the values right and the learning wrong.

    Copies of the inputs and parameters are perturbed (the module itself is left as it is), in their own dtype:
    with a step of 1e-3 and these tolerances float32 is precise enough, and a missing or wrong gradient is off by
    far more. ``fn`` must be deterministic (no dropout) and small (each number is perturbed once). Of a tuple,
    the first output counts.
    """
    name = translate(name)
    module = fn if isinstance(fn, torch.nn.Module) else None
    parameters = {} if module is None else {n: p for n, p in module.named_parameters() if p.is_floating_point()}
    slots = [i for i, x in enumerate(inputs) if type(x) is _Tensor and x.is_floating_point()]
    labels = [_("input {index}").format(index=i + 1) for i in slots] + [
        _("the parameter {name}").format(name=n) for n in parameters
    ]
    start = [inputs[i].detach().clone() for i in slots] + [p.detach().clone() for p in parameters.values()]

    def run(*tensors):
        args = list(inputs)
        for i, tensor in zip(slots, tensors):
            args[i] = tensor
        if module is None:
            out = fn(*args)
        else:
            out = _functional_call(module, dict(zip(parameters, tensors[len(slots) :])), tuple(args))
        out = out[0] if isinstance(out, tuple) else out
        if type(out) is not _Tensor:
            raise CheckFailure(_("{name} should return a torch.Tensor, got {kind}.").format(name=name, kind=type(out)))
        return out

    try:
        with _warnings.catch_warnings():  # gradcheck warns about inputs that are not float64
            _warnings.simplefilter("ignore", UserWarning)
            _gradcheck(run, tuple(t.requires_grad_(True) for t in start), eps=1e-3, atol=1e-3, rtol=1e-2)
    except CheckFailure:
        raise
    except _GradcheckError as error:
        found = re.search(r"with respect to input (\d+)", str(error))
        what = labels[int(found.group(1))] if found else _("its inputs or parameters")
        raise CheckFailure(
            _(
                "the gradient of {name} with respect to {what} is not the derivative of its values: did you "
                ".detach() a tensor, compute a part under torch.no_grad(), or go through .data?"
            ).format(name=name, what=what)
        ) from None
    except Exception as error:  # noqa: BLE001 - the learner's code may raise anything, on the way back too
        raise CheckFailure(
            _(
                "{name} gives no gradient to backpropagate ({kind}: {error}): did you .detach() a tensor or "
                "compute it under torch.no_grad()?"
            ).format(name=name, kind=type(error).__name__, error=error)
        ) from None


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

"""tinyformer.testing: the checks notebooks rely on fail with messages that teach, and cannot be faked."""

import pytest
import torch
from torch import nn

from tinyformer.testing import CheckFailure, check_gradients, check_tensor


def test_equal_tensors_pass():
    check_tensor(torch.ones(2, 3), torch.ones(2, 3), "x")


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(CheckFailure, match=r"x has shape \(3, 2\), expected \(2, 3\)"):
        check_tensor(torch.ones(3, 2), torch.ones(2, 3), "x")


def test_known_mistake_gets_its_hint():
    expected, wrong = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 1.0])
    with pytest.raises(CheckFailure, match="did you swap them"):
        check_tensor(wrong.clone(), expected, "x", hints=[(wrong, "did you swap them?")])


def test_unknown_mistake_points_at_the_largest_difference():
    with pytest.raises(CheckFailure, match=r"at index \(1,\) got 5, expected 2"):
        check_tensor(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 2.0]), "x")


def test_nan_is_reported():
    with pytest.raises(CheckFailure, match="NaN"):
        check_tensor(torch.tensor([float("nan")]), torch.tensor([1.0]), "x")


def test_an_object_equal_to_everything_is_not_a_tensor():
    class Anything(torch.Tensor):
        def __eq__(self, other):
            return True

    class Fake:
        shape = (2,)

        def __eq__(self, other):
            return True

    with pytest.raises(CheckFailure, match="should be a torch.Tensor"):
        check_tensor(Fake(), torch.ones(2), "x")
    with pytest.raises(CheckFailure, match="should be a torch.Tensor"):
        check_tensor(torch.zeros(2).as_subclass(Anything), torch.ones(2), "x")


def test_monkeypatched_allclose_does_not_fool_the_check(monkeypatch):
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    with pytest.raises(CheckFailure):
        check_tensor(torch.zeros(2), torch.ones(2), "x")


def test_a_float32_answer_to_a_float64_question_is_named():
    with pytest.raises(CheckFailure, match="has dtype torch.float32, expected torch.float64: keep the dtype"):
        check_tensor(torch.ones(2), torch.ones(2, dtype=torch.float64), "x")


def test_an_integer_answer_to_a_float_question_is_not_told_to_keep_the_dtype():
    with pytest.raises(CheckFailure, match="expected torch.float32: the result should be floating point"):
        check_tensor(torch.ones(2, dtype=torch.int64), torch.ones(2), "x")
    with pytest.raises(CheckFailure, match="should hold integers"):
        check_tensor(torch.ones(2), torch.ones(2, dtype=torch.int64), "x")


def test_an_exception_from_the_learners_code_names_the_piece_and_its_inputs():
    from tinyformer.testing import call

    def piece(x, y):
        return x @ y

    with pytest.raises(
        CheckFailure,
        match=r"piece\(tensor of shape \(2, 3\), tensor of shape \(2, 3\), float64\) raised RuntimeError: .*Hint: transpose",
    ):
        call("piece", piece, torch.ones(2, 3), torch.ones(2, 3, dtype=torch.float64), hint="transpose y")
    with pytest.raises(NotImplementedError):  # "not done yet" stays what it is
        call("piece", lambda: (_ for _ in ()).throw(NotImplementedError()))
    assert call("piece", piece, torch.ones(1, 2), torch.ones(2, 1)).item() == 2


def test_torch_calls_sees_functions_under_any_name_and_their_shapes():
    from torch.nn.functional import scaled_dot_product_attention as renamed

    from tinyformer.testing import torch_calls

    x = torch.ones(2, 3, 4)
    out, calls = torch_calls(lambda: renamed(x, x, x) + torch.ones(3, 3).tril().sum())
    names = [name for name, _ in calls]
    assert "scaled_dot_product_attention" in names and "tril" in names
    assert ("tril", [(3, 3), (3, 3)]) in calls
    assert tuple(out.shape) == (2, 3, 4)


class _Scaled(nn.Module):
    """x -> linear(x) * 2, right or with one of the ways to get the values right and the gradients wrong."""

    def __init__(self, how: str = "right"):
        super().__init__()
        self.linear, self.how = nn.Linear(3, 3), how

    def forward(self, x):
        if self.how == "detached":
            return self.linear(x).detach() * 2 + x
        if self.how == "no_grad":
            with torch.no_grad():
                return self.linear(x) * 2
        if self.how == "through_data":  # the weight scaled in place for the product, then put back
            self.linear.weight.data *= 2
            y = self.linear(x)
            self.linear.weight.data /= 2
            return y + self.linear.bias
        if self.how == "float32_inside":
            return (self.linear(x.float()) * 2).to(x.dtype)
        return self.linear(x) * 2


def test_check_gradients_passes_right_gradients_also_when_computed_in_float32():
    torch.manual_seed(0)
    check_gradients("Scaled", _Scaled(), torch.randn(2, 3))
    check_gradients("Scaled", _Scaled("float32_inside"), torch.randn(2, 3, dtype=torch.float64))
    check_gradients("tanh", lambda x, k: torch.tanh(x * k), torch.randn(4), 3)  # a function, a non-tensor input


@pytest.mark.parametrize("how", ["detached", "no_grad", "through_data"])
def test_check_gradients_sees_values_right_and_gradients_wrong(how):
    torch.manual_seed(0)
    module = _Scaled(how)
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    with pytest.raises(CheckFailure, match=r"Scaled .*(\.detach\(\)|no_grad)"):
        check_gradients("Scaled", module, torch.randn(2, 3))
    after = dict(module.named_parameters())
    assert all(torch.equal(before[n], after[n]) and after[n].grad is None for n in before), (
        "the check must leave the module as it was"
    )


def test_check_gradients_names_the_parameter_whose_gradient_is_wrong():
    class HalfDetached(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.a + x * self.b.detach()

    with pytest.raises(CheckFailure, match="with respect to the parameter b is not"):
        check_gradients("HalfDetached", HalfDetached(), torch.randn(3))

"""Autograde round trip through nbgrader in a scratch course: full marks for the reference solution,
0 for the untouched student edition, exact partial scores for a partly wrong notebook."""

import shutil
import subprocess
import sys

import torch

from grader.course import CHAPTERS
from tests.submissions import Case, case_makers, mutate, round_trip

CHAPTER = "01-rnn-limits"
TRANSPOSED_RNN = """def rnn_forward(x, W_xh, W_hh, b_h, h0=None):
    h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0
    states = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh + b_h)  # W_hh not transposed
        states.append(h)
    return torch.stack(states, dim=1), h
"""
OFF_BY_ONE_AVERAGE = """def causal_average(x):
    seq = x.shape[1]
    weights = torch.ones(seq, seq, dtype=x.dtype).tril() / torch.arange(0, seq, dtype=x.dtype).clamp(min=1)[:, None]
    return weights @ x
"""


RNN_TESTS = ("test_rnn_forward_shapes", "test_rnn_forward_values")
JACOBIAN_TESTS = ("test_jacobian_norms_shape", "test_jacobian_norms_values")
AVERAGE_TESTS = ("test_causal_average_small", "test_causal_average_batch")
STEP = "h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T + b_h)"
IMPORT_F = "import torch.nn.functional as F\n"


rnn, rnn_ok = case_makers(CHAPTER, "rnn_forward", RNN_TESTS)


def jacobian(name, new, says="", loses=JACOBIAN_TESTS):
    old = "return J.pow(2).sum(dim=(0, 2)).sqrt()"
    return Case(name, "jacobian_norms", mutate(CHAPTER, "jacobian_norms", (old, new)), loses, says)


def average(name, body, says="", loses=AVERAGE_TESTS):
    return Case(name, "causal_average", "def causal_average(x):\n" + body, loses, says)


CASES = [
    # rnn_forward: wrong
    rnn(
        "rnn_input_weight_not_transposed",
        ("x[:, t] @ W_xh.T", "x[:, t] @ W_xh"),
        says="rnn_forward(tensor of shape (2, 5, 3)",
    ),
    rnn("rnn_no_tanh", (STEP, "h = x[:, t] @ W_xh.T + h @ W_hh.T + b_h"), says="did you forget the tanh?"),
    rnn("rnn_relu", (STEP, "h = torch.relu(x[:, t] @ W_xh.T + h @ W_hh.T + b_h)")),
    rnn("rnn_sigmoid", (STEP, "h = torch.sigmoid(x[:, t] @ W_xh.T + h @ W_hh.T + b_h)")),
    rnn("rnn_no_bias", (STEP, "h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T)")),
    rnn("rnn_bias_twice", (STEP, "h = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T + b_h + b_h)")),
    rnn("rnn_no_recurrence", (STEP, "h = torch.tanh(x[:, t] @ W_xh.T + b_h)"), says="the state must feed back"),
    rnn("rnn_h0_ignored", ("if h0 is None else h0", ""), says="h0 was ignored"),
    rnn("rnn_h0_in_outputs", ("states = []", "states = [h]")),
    rnn(
        "rnn_states_shifted",
        (
            "        " + STEP + "  # (batch, d_hidden)\n        states.append(h)",
            "        states.append(h)\n        " + STEP,
        ),
        says="off by one",
    ),
    rnn("rnn_first_state_returned", ("return hs, h", "return hs, states[0]")),
    rnn("rnn_seq_first_stack", ("torch.stack(states, dim=1)", "torch.stack(states)")),
    rnn(
        "rnn_float32_zeros", ("x.new_zeros(batch, W_hh.shape[0])", "torch.zeros(batch, W_hh.shape[0])"), says="float64"
    ),
    rnn(
        "rnn_h0_updated_in_place",
        (
            STEP + "  # (batch, d_hidden)\n        states.append(h)",
            "h[:] = torch.tanh(x[:, t] @ W_xh.T + h @ W_hh.T + b_h)\n        states.append(h.clone())",
        ),
        says="must not modify h0",
    ),
    # rnn_forward: valid alternatives
    rnn_ok(
        "rnn_projections_first",
        ("states = []", "xw = x @ W_xh.T + b_h  # all time steps at once\n    states = []"),
        (STEP, "h = torch.tanh(xw[:, t] + h @ W_hh.T)"),
    ),
    Case(
        "rnn_f_linear",
        "rnn_forward",
        IMPORT_F
        + mutate(CHAPTER, "rnn_forward", (STEP, "h = torch.tanh(F.linear(x[:, t], W_xh, b_h) + F.linear(h, W_hh))")),
    ),
    rnn_ok(
        "rnn_einsum",
        (STEP, "h = torch.tanh(torch.einsum('bi,hi->bh', x[:, t], W_xh) + torch.einsum('bj,hj->bh', h, W_hh) + b_h)"),
    ),
    rnn_ok("rnn_column_vectors", (STEP, "h = (W_xh @ x[:, t].T + W_hh @ h.T + b_h[:, None]).tanh().T")),
    rnn_ok(
        "rnn_preallocated",
        ("states = []", "hs = x.new_empty(batch, seq, W_hh.shape[0])"),
        ("states.append(h)", "hs[:, t] = h"),
        ("hs = torch.stack(states, dim=1)", "pass"),
        ("return hs, h", "return hs, hs[:, -1]"),
    ),
    rnn_ok(
        "rnn_unbind_and_addmm",
        ("for t in range(seq):", "for x_t in x.unbind(1):"),
        (STEP, "h = torch.tanh(torch.addmm(b_h, x_t, W_xh.T) + h @ W_hh.T)"),
        ("x.new_zeros(batch, W_hh.shape[0])", "torch.zeros(batch, W_hh.shape[0], dtype=x.dtype, device=x.device)"),
    ),
    # jacobian_norms: wrong
    jacobian(
        "jacobian_of_the_sum",
        "return torch.autograd.functional.jacobian(lambda s: last_state(s).sum(), x).norm(dim=-1)",
        says="gradient of h_T.sum()",
    ),
    jacobian("jacobian_no_sqrt", "return J.pow(2).sum(dim=(0, 2))", says="square root"),
    jacobian("jacobian_wrong_axes", "return J.norm(dim=(0, 1))", says="one norm per time step"),
    jacobian("jacobian_sum_of_row_norms", "return J.norm(dim=2).sum(0)"),
    jacobian("jacobian_l1", "return J.abs().sum(dim=(0, 2))"),
    jacobian("jacobian_mean_of_squares", "return J.pow(2).mean(dim=(0, 2)).sqrt()"),
    jacobian("jacobian_reversed", "return J.pow(2).sum(dim=(0, 2)).sqrt().flip(0)"),
    jacobian("jacobian_max", "return J.abs().amax(dim=(0, 2))"),
    jacobian("jacobian_spectral", "return torch.linalg.matrix_norm(J.permute(1, 0, 2), ord=2)"),
    # jacobian_norms: valid alternatives
    jacobian("jacobian_norm_dims", "return J.norm(dim=(0, 2))", loses=()),
    jacobian("jacobian_matrix_norm", "return torch.linalg.matrix_norm(J.permute(1, 0, 2))", loses=()),
    jacobian(
        "jacobian_jacrev",
        "return torch.func.jacrev(last_state)(x).flatten(2).permute(1, 0, 2).flatten(1).norm(dim=1)",
        loses=(),
    ),
    jacobian(
        "jacobian_rows_by_autograd",
        """x = x.detach().requires_grad_(True)
    y = last_state(x)
    rows = [torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(y.shape[0])]
    return torch.stack(rows).pow(2).sum(dim=(0, 2)).sqrt()""",
        loses=(),
    ),
    jacobian(
        "jacobian_vectorized_reshape",
        "J = torch.autograd.functional.jacobian(last_state, x, vectorize=True)\n    return torch.linalg.norm(J.transpose(0, 1).reshape(x.shape[0], -1), dim=1)",
        loses=(),
    ),
    # causal_average: wrong
    average(
        "average_by_cumsum",
        "    return x.cumsum(1) / torch.arange(1, x.shape[1] + 1, dtype=x.dtype, device=x.device)[:, None]\n",
        says="without a 7 x 7 weight matrix (it used cumsum)",
        loses=("test_causal_average_batch",),
    ),
    average(
        "average_by_loop",
        "    return torch.stack([x[:, : t + 1].mean(1) for t in range(x.shape[1])], dim=1)\n",
        says="without a 7 x 7 weight matrix",
        loses=("test_causal_average_batch",),
    ),
    average("average_no_mask", "    return x.mean(1, keepdim=True).expand_as(x)\n", says="averaged the whole sequence"),
    average(
        "average_upside_down",
        "    A = torch.ones(x.shape[1], x.shape[1], dtype=x.dtype).triu()\n    return (A / A.sum(1, keepdim=True)) @ x\n",
        says="upside down",
    ),
    average(
        "average_divided_by_seq",
        "    A = torch.ones(x.shape[1], x.shape[1], dtype=x.dtype).tril()\n    return (A / x.shape[1]) @ x\n",
    ),
    average(
        "average_without_diagonal",
        "    A = torch.ones(x.shape[1], x.shape[1], dtype=x.dtype).tril(-1)\n    return (A / A.sum(1, keepdim=True).clamp(min=1)) @ x\n",
        says="itself included",
    ),
    average(
        "average_column_sums",
        "    A = torch.ones(x.shape[1], x.shape[1], dtype=x.dtype).tril()\n    return (A / A.sum(0, keepdim=True)) @ x\n",
    ),
    average(
        "average_running_sum",
        "    return torch.ones(x.shape[1], x.shape[1], dtype=x.dtype).tril() @ x\n",
        says="running sum",
    ),
    average(
        "average_float32_weights",
        "    A = torch.ones(x.shape[1], x.shape[1]).tril()\n    return (A / A.sum(1, keepdim=True)) @ x\n",
        says="dtype=x.dtype",
        loses=("test_causal_average_batch",),
    ),
    average(
        "average_transposed_weights",
        "    A = torch.ones(x.shape[1], x.shape[1], dtype=x.dtype).tril()\n    return (A / A.sum(1, keepdim=True)).T @ x\n",
    ),
    average(
        "average_in_place",
        "    A = torch.ones(x.shape[1], x.shape[1], dtype=x.dtype).tril()\n    x /= 1.0\n    x[:] = (A / A.sum(1, keepdim=True)) @ x.clone()\n    return x\n",
        says="must not modify x",
        loses=("test_causal_average_batch",),
    ),
    # causal_average: valid alternatives
    average(
        "average_arange",
        "    T = x.shape[1]\n    A = torch.tril(torch.ones(T, T, dtype=x.dtype, device=x.device)) / torch.arange(1, T + 1, dtype=x.dtype, device=x.device)[:, None]\n    return torch.matmul(A, x)\n",
        loses=(),
    ),
    average(
        "average_einsum",
        "    T = x.shape[1]\n    A = x.new_ones(T, T).tril_()\n    return torch.einsum('ts,bsd->btd', A / A.sum(-1, keepdim=True), x)\n",
        loses=(),
    ),
    average(
        "average_masked_softmax",
        "    T = x.shape[1]\n    allowed = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()\n    A = torch.zeros(T, T, dtype=x.dtype, device=x.device).masked_fill(~allowed, float('-inf')).softmax(-1)\n    return A @ x\n",
        loses=(),
    ),
    average(
        "average_where_bmm",
        "    B, T, _ = x.shape\n    t = torch.arange(T, device=x.device)\n    A = torch.where(t[None, :] <= t[:, None], 1.0 / (t[:, None] + 1.0), 0.0).to(x.dtype)\n    return torch.bmm(A.expand(B, T, T), x)\n",
        loses=(),
    ),
    average(
        "average_transposed_product",
        "    T = x.shape[1]\n    A = torch.ones(T, T, dtype=x.dtype).tril()\n    A = A / A.sum(1, keepdim=True)\n    return (x.transpose(1, 2) @ A.T).transpose(1, 2)\n",
        loses=(),
    ),
    average(
        "average_fused_attention",
        "    import torch.nn.functional as F\n    return F.scaled_dot_product_attention(torch.zeros_like(x), x, x, is_causal=True)\n",
        loses=(),
    ),
    # found by a mutation test (stop 36): a state cut from the graph, h_0 on the CPU, h_T squeezed, the mask built
    # beside a cumsum, x's requires_grad turned on, reverse mode needed on an LSTM
    rnn("rnn_state_detached", (STEP, STEP + ".detach()"), says="no gradient flows", loses=("test_rnn_forward_values",)),
    rnn(
        "rnn_h0_on_the_cpu",
        ("x.new_zeros(batch, W_hh.shape[0])", "torch.zeros(batch, W_hh.shape[0], dtype=x.dtype)"),
        says="another device",
        loses=("test_rnn_forward_values",),
    ),
    rnn(
        "rnn_h_T_squeezed",
        ("return hs, h", "return hs, hs[:, -1:].squeeze()"),
        says="h_T for x of shape (1, 1, 3) has shape (4,)",
        loses=("test_rnn_forward_values",),
    ),
    average(
        "average_cumsum_beside_the_mask",
        "    A = torch.ones(x.shape[1], x.shape[1], dtype=x.dtype, device=x.device).tril()\n"
        "    return x.cumsum(1) / A.sum(1)[:, None]\n",
        says="without a 7 x 7 weight matrix (it used cumsum)",
        loses=("test_causal_average_batch",),
    ),
    average(
        "average_loop_over_the_batch",
        "    T = x.shape[1]\n    A = torch.tril(torch.ones(T, T, dtype=x.dtype, device=x.device))\n"
        "    A = A / A.sum(dim=-1, keepdim=True)\n    return torch.stack([A @ x_b for x_b in x])\n",
        loses=(),
    ),
    Case(
        "jacobian_turns_on_requires_grad",
        "jacobian_norms",
        mutate(
            CHAPTER,
            "jacobian_norms",
            (
                "J = torch.autograd.functional.jacobian(",
                "x.requires_grad_(True)\n    J = torch.autograd.functional.jacobian(",
            ),
        ),
        ("test_jacobian_norms_values",),
        "turned on requires_grad",
    ),
    # forward mode fails on torch's CPU LSTM kernel (mkldnn's), which section 3 runs; without it, it is right
    *(
        [
            jacobian(
                "jacobian_forward_mode",
                "return torch.func.jacfwd(last_state)(x).pow(2).sum(dim=(0, 2)).sqrt()",
                says="Use reverse mode",
                loses=("test_jacobian_norms_values",),
            )
        ]
        if torch.backends.mkldnn.is_available()
        else []
    ),
    Case(
        "rnn_by_torchs_kernel",
        "rnn_forward",
        "def rnn_forward(x, W_xh, W_hh, b_h, h0=None):\n"
        "    h = x.new_zeros(1, x.shape[0], W_hh.shape[0]) if h0 is None else h0[None]\n"
        "    hs, h_n = torch.rnn_tanh(x, h, [W_xh, W_hh, b_h, torch.zeros_like(b_h)], True, 1, 0.0, False, False, True)\n"
        "    return hs, h_n[0]\n",
        ("test_rnn_forward_values",),
        "calls torch's own RNN (rnn_tanh)",
    ),
    average(
        "average_returns_x_itself_for_one_step",
        "    T = x.shape[1]\n    if T == 1:\n        return x\n"
        "    A = torch.ones(T, T, dtype=x.dtype, device=x.device).tril()\n    return (A / A.sum(1, keepdim=True)) @ x\n",
        says="returned x itself",
        loses=("test_causal_average_batch",),
    ),
]


graded, results, test_wrong_answers_lose_points_and_alternatives_get_full_marks, test_every_case_in_process = (
    round_trip(
        CHAPTER,
        CASES,
        extra={"partial": {"rnn_forward": TRANSPOSED_RNN, "causal_average": OFF_BY_ONE_AVERAGE}},
    )
)


def scores(result):
    return {c.grade_id: c.score for c in result.cells if not c.manual}


def test_reference_solution_gets_full_marks(results):
    result = results["reference"]
    assert result.max_score == 9
    assert result.score == result.max_score, [(c.grade_id, c.score, c.message) for c in result.cells]


def test_untouched_student_edition_scores_zero(results):
    result = results["untouched"]
    assert result.max_score == 9 and result.score == 0
    assert all("NotImplementedError" in c.message for c in result.cells if not c.manual)


def test_written_answer_is_left_for_manual_grading(results):
    assert [c.grade_id for c in results["reference"].cells if c.manual] == ["written_lstm_vs_parallel"]


def test_partly_wrong_notebook_gets_exact_partial_score_and_teaching_messages(results):
    result = results["partial"]
    assert scores(result) == {
        "test_rnn_forward_shapes": 1,
        "test_rnn_forward_values": 0,
        "test_jacobian_norms_shape": 1,
        "test_jacobian_norms_values": 2,
        "test_causal_average_small": 0,
        "test_causal_average_batch": 0,
    }
    messages = {c.grade_id: c.message for c in result.cells}
    assert "recurrent weight is transposed" in messages["test_rnn_forward_values"]
    assert "off by one" in messages["test_causal_average_small"]


def test_self_check_prints_the_score_and_fails_below_full_marks(tmp_path):
    notebook = tmp_path / "my copy.ipynb"  # renamed, as learners do: the chapter is read from its cells
    shutil.copy(CHAPTERS / CHAPTER / f"{CHAPTER}.ipynb", notebook)
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(notebook)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"({CHAPTER})" in done.stdout and "Autograded score: 0 / 9" in done.stdout
    assert "not done yet" in done.stdout
    assert "written answer, not answered yet" in done.stdout
    assert "BEGIN HIDDEN TESTS" not in done.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(notebook), "--chapter", "3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, wrong.stderr
    assert f"holds the exercises of {CHAPTER}, not 03-attention" in wrong.stderr

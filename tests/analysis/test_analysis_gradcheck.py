import numpy as np
import pytest
import torch
from torch import nn

from ravine.analysis import check_gradients, check_hvp

F64 = torch.float64
TOL = {"eps": 1e-6, "rtol": 1e-5, "atol": 1e-8}


# ---- hand-written losses (torch) and their gradients, right and deliberately wrong ----------
def softmax_loss(W, X, y, reg):
    logits = X @ W
    data_term = torch.logsumexp(logits, 1).mean() - logits[torch.arange(len(y)), y].mean()
    return data_term + reg * (W * W).sum()


def softmax_grad(W, X, y, reg):
    P = torch.softmax(X @ W, 1)
    P[torch.arange(len(y)), y] -= 1
    return X.T @ P / len(y) + 2 * reg * W


def softmax_grad_off_one_coordinate(W, X, y, reg):
    g = softmax_grad(W, X, y, reg)
    g[1, 2] *= 1 + 1e-4
    return g


def softmax_grad_without_regularization(W, X, y, reg):
    return softmax_grad(W, X, y, reg) - 2 * reg * W


def svm_loss(W, X, y, reg):
    scores = X @ W
    correct = scores[torch.arange(len(y)), y][:, None]
    margins = torch.clamp(scores - correct + 1, min=0)
    margins[torch.arange(len(y)), y] = 0
    return margins.sum() / len(y) + reg * (W * W).sum()


def svm_grad(W, X, y, reg):
    scores = X @ W
    correct = scores[torch.arange(len(y)), y][:, None]
    active = ((scores - correct + 1) > 0).to(W.dtype)
    active[torch.arange(len(y)), y] = 0
    active[torch.arange(len(y)), y] = -active.sum(1)
    return X.T @ active / len(y) + 2 * reg * W


def softmax_grad_transposed(W, X, y, reg):  # W is square here, so the shapes still match
    return softmax_grad(W, X, y, reg).T


def problem(seed=0, d=4, c=3):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(20, d, dtype=F64, generator=gen)
    y = torch.randint(0, c, (20,), generator=gen)
    W = torch.randn(d, c, dtype=F64, generator=gen)
    return W, X, y, 0.1


CASES = [
    ("softmax", softmax_loss, softmax_grad, True, 3),
    ("svm", svm_loss, svm_grad, True, 3),
    ("off by 1e-4 in one coordinate", softmax_loss, softmax_grad_off_one_coordinate, False, 3),
    ("missing regularization", softmax_loss, softmax_grad_without_regularization, False, 3),
    ("transposed weight gradient", softmax_loss, softmax_grad_transposed, False, 4),
]


def as_autograd_function(loss, grad, X, y, reg):
    # the hand-written gradient as the backward of a custom Function, for torch's gradcheck
    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, W):
            ctx.save_for_backward(W)
            return loss(W, X, y, reg)

        @staticmethod
        def backward(ctx, out_grad):
            (W,) = ctx.saved_tensors
            return out_grad * grad(W.detach().clone(), X, y, reg)

    return Loss.apply


@pytest.mark.parametrize("name, loss, grad, correct, c", CASES, ids=[c[0] for c in CASES])
def test_handwritten_gradient_verdicts_agree_with_torch_gradcheck(name, loss, grad, correct, c):
    W, X, y, reg = problem(c=c)
    report = check_gradients(lambda W: loss(W, X, y, reg), W, grad=lambda W: grad(W, X, y, reg),
                             **TOL)
    fn = as_autograd_function(loss, grad, X, y, reg)
    torch_verdict = torch.autograd.gradcheck(fn, (W.clone().requires_grad_(True),),
                                             raise_exception=False, **TOL)
    assert report.passed == correct == torch_verdict, str(report)
    # the autograd form of the same custom Function gets the same verdict
    assert check_gradients(fn, W, **TOL).passed == correct
    if name == "off by 1e-4 in one coordinate":
        assert report.tensors[0].worst == (1, 2)
        assert report.tensors[0].max_rel_error == pytest.approx(1e-4, rel=1e-2)


def test_numpy_functions_with_handwritten_gradients():
    W, X, y, reg = problem(seed=1)
    Wn, Xn, yn = W.numpy(), X.numpy(), y.numpy()

    def loss(W):
        logits = Xn @ W
        logits = logits - logits.max(1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return -logp[np.arange(len(yn)), yn].mean() + reg * (W * W).sum()

    def grad(W, with_reg=True):
        logits = Xn @ W
        P = np.exp(logits - logits.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        P[np.arange(len(yn)), yn] -= 1
        return Xn.T @ P / len(yn) + (2 * reg * W if with_reg else 0)

    assert check_gradients(loss, Wn, grad=grad).passed
    bad = check_gradients(loss, Wn, grad=lambda W: grad(W, with_reg=False))
    assert not bad.passed and "FAIL" in str(bad)
    # float32 input is promoted, and the report says so
    promoted = check_gradients(loss, Wn.astype(np.float32), grad=grad)
    assert promoted.passed and "promoted from float32 to float64" in promoted.notes[0]
    with pytest.raises(TypeError, match="grad="):
        check_gradients(loss, Wn)


class ScaledLinear(torch.autograd.Function):
    """y = x @ W.T with a backward that may be wrong (transposed weight gradient)."""

    @staticmethod
    def forward(ctx, x, W, transpose_bug):
        ctx.save_for_backward(x, W)
        ctx.transpose_bug = transpose_bug
        return x @ W.T

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        gW = g.T @ x
        return g @ W, gW.T if ctx.transpose_bug else gW, None


class Net(nn.Module):
    def __init__(self, bug: bool):
        super().__init__()
        self.first = nn.Linear(3, 3)
        self.W = nn.Parameter(torch.randn(3, 3))
        self.bug = bug

    def forward(self, x):
        return ScaledLinear.apply(torch.tanh(self.first(x)), self.W, self.bug)


@pytest.mark.parametrize("bug", [False, True])
def test_module_form_checks_each_parameter_tensor(bug):
    model = Net(bug)  # float32: the check copies it to float64 and says so
    X, y = torch.randn(16, 3), torch.randn(16, 3)
    report = check_gradients(model, loss_fn=nn.functional.mse_loss, data=(X, y))
    by_name = {t.name: t for t in report.tensors}
    assert set(by_name) == {"first.weight", "first.bias", "W"}
    assert by_name["first.weight"].passed and by_name["first.bias"].passed
    assert by_name["W"].passed == (not bug) == report.passed
    assert any("promoted from float32 to float64" in n for n in report.notes)
    assert model.W.dtype == torch.float32  # the original model is untouched
    # torch's gradcheck on the same custom Function agrees
    xin = torch.randn(4, 3, dtype=F64, requires_grad=True)
    W = torch.randn(3, 3, dtype=F64, requires_grad=True)
    ok = torch.autograd.gradcheck(lambda a, b: ScaledLinear.apply(a, b, bug), (xin, W),
                                  raise_exception=False, **TOL)
    assert ok == report.passed
    text = str(report)
    assert "first.weight" in text and ("FAILED" in text) == bug


def test_directional_mode_flags_wrong_gradients_with_few_evaluations():
    W, X, y, reg = problem(c=4)
    calls = {"n": 0}

    def loss(W):
        calls["n"] += 1
        return softmax_loss(W, X, y, reg)

    for grad, correct in [(softmax_grad, True), (softmax_grad_transposed, False),
                          (softmax_grad_without_regularization, False)]:
        calls["n"] = 0
        rep = check_gradients(loss, W, grad=lambda W, g=grad: g(W, X, y, reg),
                              mode="directional", num_directions=5)
        assert rep.passed == correct
        assert calls["n"] == 10  # 2 per direction, independent of the 16 coordinates
        assert rep.tensors[0].shape == (4, 4)
        if correct:  # float64 differences: tiny but nonzero disagreement
            assert 0 < rep.tensors[0].max_rel_error < 1e-7


def test_tuple_inputs_are_checked_per_tensor():
    a, b = torch.randn(3, dtype=F64), torch.randn(2, 3, dtype=F64)

    def f(a, b):
        return (b @ a).pow(2).sum()

    def grad(a, b):
        r = 2 * (b @ a)
        return b.T @ r, r[:, None] * a[None, :]

    rep = check_gradients(f, (a, b), grad=grad)
    assert rep.passed and [t.name for t in rep.tensors] == ["x[0]", "x[1]"]
    rep = check_gradients(f, (a, b), grad=lambda a, b: (grad(a, b)[0], 2 * grad(a, b)[1]))
    assert [t.passed for t in rep.tensors] == [True, False]


def test_hessian_vector_products_are_checked_against_gradient_differences():
    def f(x):
        return torch.sin(x).prod() + (x ** 3).sum()

    x = torch.randn(5, dtype=F64)
    assert check_hvp(f, x).passed
    H = torch.func.hessian(f)(x)
    assert check_hvp(f, x, lambda p, v: H @ v).passed
    assert not check_hvp(f, x, lambda p, v: torch.diag(torch.diag(H)) @ v).passed
    assert not check_hvp(f, x, lambda p, v: (1 + 1e-4) * (H @ v)).passed


def test_gradcheck_arguments_are_validated():
    x = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="mode"):
        check_gradients(lambda z: z.sum(), x, mode="half")
    with pytest.raises(ValueError, match="eps"):
        check_gradients(lambda z: z.sum(), x, eps=0.0)
    with pytest.raises(ValueError, match="shape"):
        check_gradients(lambda z: z.sum(), x, grad=lambda z: torch.ones(3))
    with pytest.raises(TypeError, match="loss_fn"):
        check_gradients(nn.Linear(2, 1))

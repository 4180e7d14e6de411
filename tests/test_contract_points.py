"""Small contract points: check_grad's input errors, ragged and oversized input, pickling,
float16 promotion (DESIGN.md §3)."""

import pickle
import re

import numpy as np
import pytest

import mcfast as mc
from mcfast import reference as ref

BAD_X = [None, [1 + 2j, 0j], "ab", np.array([1.0], dtype=object), np.ones(2, np.longdouble)]


@pytest.mark.parametrize("x", BAD_X, ids=["None", "complex", "str", "object", "longdouble"])
def test_check_grad_refuses_non_real_x(x):
    with pytest.raises(TypeError, match=r"check_grad: argument 'x'"):
        mc.check_grad(np.sum, np.ones_like, x)


def test_check_grad_refuses_non_callables_and_complex_gradients():
    with pytest.raises(TypeError, match="fun must be callable"):
        mc.check_grad(None, np.ones_like, np.ones(2))
    with pytest.raises(TypeError, match="grad must be callable"):
        mc.check_grad(np.sum, np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match=r"'grad\(x\)' has dtype complex"):
        mc.check_grad(np.sum, lambda x: x + 1j, np.ones(2))


RAGGED = [[1.0, 2.0], [3.0]]


@pytest.mark.parametrize("mod", [mc, ref], ids=["mc", "ref"])
@pytest.mark.parametrize("call, func, arg", [
    (lambda m: m.grad_ax(RAGGED, [1.0, 2.0]), "grad_ax", "A"),
    (lambda m: m.grad_xa([1.0, 2.0], RAGGED), "grad_xa", "A"),
    (lambda m: m.lstsq_grad(RAGGED, [1.0, 2.0], [1.0, 2.0]), "lstsq_grad", "X"),
    (lambda m: m.lstsq_loss_grad([[1.0]], [1.0], RAGGED), "lstsq_loss_grad", "y"),
    (lambda m: m.trace_chain(RAGGED, np.ones((2, 2))), "trace_chain", "G"),
    (lambda m: m.jacobian_chain([np.ones((2, 2)), RAGGED]), "jacobian_chain", "links[1]"),
    (lambda m: m.grad_chain([np.ones((2, 2))], RAGGED), "grad_chain", "grad"),
    (lambda m: m.LeastSquares(RAGGED, [1.0, 2.0]), "LeastSquares", "X"),
    (lambda m: m.Diagonal(RAGGED), "Diagonal", "d"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_ragged_input_names_function_and_argument(mod, call, func, arg):
    with pytest.raises(ValueError, match=rf"{func}: argument '{re.escape(arg)}' is not a "
                                         r"regular array"):
        call(mod)


@pytest.mark.parametrize("mod", [mc, ref], ids=["mc", "ref"])
def test_batches_that_broadcast_to_too_many_samples_say_so(mod):
    big = 2 ** 40
    a = np.broadcast_to(np.ones((1, 1, 1)), (big, 1, 1, 1))   # batch (2^40, 1)
    b = np.broadcast_to(np.ones((1, 1, 1)), (big, 1, 1))      # batch (2^40,)
    with pytest.raises(ValueError, match=r"broadcast to \(1099511627776, 1099511627776\)"
                                         r".*more than an array can index"):
        mod.jacobian_chain([a, b])
    with pytest.raises(ValueError, match="do not broadcast"):
        mod.jacobian_chain([np.ones((3, 2, 2)), np.ones((4, 2, 2))])


@pytest.mark.parametrize("cls", [mc.Diagonal, ref.Diagonal])
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_diagonal_pickles_read_only(cls, protocol):
    D = cls(np.array([1.0, 2.0, 3.0]))
    E = pickle.loads(pickle.dumps(D, protocol=protocol))
    assert type(E) is cls
    np.testing.assert_array_equal(E.diagonal, D.diagonal)
    assert not E.diagonal.flags.writeable
    with pytest.raises(ValueError):
        E.diagonal[0] = 5.0


@pytest.mark.parametrize("mod", [mc, ref], ids=["mc", "ref"])
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_chain_plan_pickles(mod, protocol, rng):
    links = [rng.standard_normal((4, 3)), mod.Diagonal(rng.standard_normal(4)),
             rng.standard_normal((2, 4))]
    plan = mod.chain_plan(links)
    again = pickle.loads(pickle.dumps(plan, protocol=protocol))
    assert str(again) == str(plan) and again.flops == plan.flops
    assert again.order == plan.order
    np.testing.assert_allclose(again(links), plan(links), rtol=1e-12)


@pytest.mark.parametrize("mod", [mc, ref], ids=["mc", "ref"])
def test_float16_promotes_to_float32(mod, rng):
    A = rng.standard_normal((3, 3)).astype(np.float16)
    A32 = A.astype(np.float32)
    assert mod.grad_ax(A, A).dtype == np.float32
    assert mod.grad_ax(A, A32).dtype == np.float32
    assert mod.grad_ax(A, A.astype(np.float64)).dtype == np.float64
    assert mod.jacobian_chain([A, A32]).dtype == np.float32
    assert mod.lstsq_grad(A, A[0], A[:, 0]).dtype == np.float32
    np.testing.assert_allclose(mod.grad_ax(A, A), A32.T @ A32, rtol=1e-5)

"""check_grad: exact on known derivatives, sensitive to wrong ones, strict on bad input."""

import numpy as np
import pytest

import mcfast as mc


def test_exact_gradient_has_tiny_error(rng):
    x = rng.standard_normal((3, 4))
    assert mc.check_grad(lambda x: np.sum(np.sin(x) * x), lambda x: np.cos(x) * x + np.sin(x),
                         x) < 1e-9


def test_fourth_order_beats_second_order_on_a_quintic():
    # f = x⁵: the fourth-order stencil's error is h⁴-small; a wrong factor is caught
    x = np.array([1.3])
    assert mc.check_grad(lambda x: float(x[0] ** 5), lambda x: 5 * x ** 4, x) < 1e-10
    assert mc.check_grad(lambda x: float(x[0] ** 5), lambda x: 5.001 * x ** 4, x) > 1e-4


def test_is_the_largest_componentwise_error():
    x = np.array([1.0, 2.0])
    err = mc.check_grad(lambda x: float(x @ x), lambda x: 2 * x * np.array([1.0, 1.1]), x)
    assert err == pytest.approx(0.1 / 1.1, rel=1e-6)


def test_args_are_passed_and_x_is_not_modified(rng):
    A = rng.standard_normal((3, 3))
    x = rng.standard_normal(3)
    x0 = x.copy()
    err = mc.check_grad(lambda x, A: float(x @ A @ x), lambda x, A: (A + A.T) @ x, x, args=(A,))
    assert err < 1e-9
    np.testing.assert_array_equal(x, x0)


def test_empty_x_gives_zero():
    assert mc.check_grad(lambda x: 0.0, lambda x: np.zeros(0), np.zeros(0)) == 0.0


def test_bad_grad_shape_and_non_scalar_fun_are_refused():
    with pytest.raises(ValueError, match="grad\\(x\\) has shape \\(2,\\); expected"):
        mc.check_grad(lambda x: 0.0, lambda x: np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="real scalar"):
        mc.check_grad(lambda x: x, lambda x: x, np.zeros(3))


def test_reference_exports_the_same_check_grad():
    assert mc.reference.check_grad is mc.check_grad

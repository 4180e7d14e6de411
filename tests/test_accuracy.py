"""Accuracy: float32 lstsq_loss_grad over 1,000,000 rows errs no more than NumPy's own float32 computation does."""

import numpy as np
import pytest

import mcfast as mc

pytestmark = pytest.mark.skipif(not hasattr(mc, "lstsq_loss_grad"),
                                reason="mcfast.lstsq_loss_grad not landed")

N = 1_000_000
FACTOR = 2.0        # mcfast may err at most this many times NumPy's float32 error


def _problem(m, k, seed):
    """float32 X, θ, y with a non-zero mean in X (long float32 sums drift) and y ≈ Xθ."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((N, m)) + 1.0).astype(np.float32)
    tshape = (m,) if k is None else (m, k)
    theta = rng.standard_normal(tshape).astype(np.float32)
    noise = 0.1 * rng.standard_normal((N,) if k is None else (N, k))
    y = (X.astype(np.float64) @ theta + noise).astype(np.float32)
    return X, theta, y


def _errors(loss, grad, loss64, grad64):
    return abs(loss - loss64), float(np.max(np.abs(grad.astype(np.float64) - grad64)))


@pytest.mark.parametrize("m, k", [(6, None), (40, None), (12, 3)])
def test_float32_lstsq_loss_grad_within_numpy_float32_error(m, k):
    X, theta, y = _problem(m, k, seed=m)
    # Float64 on the same float32 inputs: every product of two float32 is exact in float64,
    # and the float64 sums err by ~1e6 · 1e-16 relative, far below any float32 error.
    X64 = X.astype(np.float64)
    r64 = X64 @ theta.astype(np.float64) - y
    loss64, grad64 = float(np.sum(r64 * r64)), 2 * (X64.T @ r64)
    # NumPy in float32 on the same problem: its error is the yardstick
    r32 = X @ theta - y
    loss_np, grad_np = float(np.sum(r32 * r32, dtype=np.float32)), 2 * (X.T @ r32)
    loss_mc, grad_mc = mc.lstsq_loss_grad(X, theta, y)
    assert grad_mc.dtype == np.float32
    err_np, err_mc = _errors(loss_np, grad_np, loss64, grad64), \
        _errors(loss_mc, grad_mc, loss64, grad64)
    # the rounding of the float32 result itself cannot be avoided by anyone
    floor = (float(np.spacing(np.float32(loss64))),
             float(np.spacing(np.float32(np.max(np.abs(grad64))))))
    for what, e_mc, e_np, f in zip(("loss", "grad"), err_mc, err_np, floor):
        assert e_mc <= FACTOR * max(e_np, f), (
            f"{what}: mcfast float32 error {e_mc:.3g}, NumPy's {e_np:.3g} (floor {f:.3g})")
    # and the gradient-only kernel is as accurate
    g_only = mc.lstsq_grad(X, theta, y)
    e_only = float(np.max(np.abs(g_only.astype(np.float64) - grad64)))
    assert e_only <= FACTOR * max(err_np[1], floor[1])

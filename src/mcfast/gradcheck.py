"""check_grad: compare a gradient function with fourth-order central differences."""

from __future__ import annotations

from typing import Any, Callable, SupportsFloat

import numpy as np

from ._typing import ArrayLike
from ._validate import as_real_array

__all__ = ["check_grad"]


def _scalar(value, func):
    """`value` as a Python float, refusing anything that is not a single number."""
    a = np.asarray(value)
    if a.size != 1 or a.dtype.kind not in "biuf":
        raise TypeError(f"check_grad: fun must return a real scalar; got {a.dtype} of "
                        f"shape {a.shape}")
    return float(a.reshape(()))


def check_grad(fun: Callable[..., SupportsFloat], grad: Callable[..., ArrayLike], x: ArrayLike,
               *, args: tuple[Any, ...] = (), eps: float | None = None,
               atol: float = 1e-6) -> float:
    """Largest relative error between ``grad(x)`` and central differences of ``fun``.

    Unlike `scipy.optimize.check_grad` (an absolute norm, forward differences, an absolute
    ``epsilon``), see Notes.

    Each partial derivative is estimated with the fourth-order central difference

    .. math:: f'(x) \\approx \\frac{-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)}{12h},

    with ``h = eps * max(1, |x_i|)``, in float64.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``, the scalar function.
    grad : callable
        ``grad(x, *args) -> array`` of ``x``'s shape, the gradient to check.
    x : array_like
        Point of evaluation, any shape. It is not modified.
    args : tuple, optional
        Extra arguments passed to ``fun`` and ``grad``.
    eps : float, optional
        Relative step. Default ``finfo(float64).eps ** 0.2`` (about 7.4e-4), which
        balances the O(h⁴) truncation error against rounding.
    atol : float, optional
        Floor of the denominator, relative to the gradient's scale: component ``i``
        contributes ``|g_i - d_i| / max(|g_i|, |d_i|, atol * max(1, max|d|))``.

    Returns
    -------
    float
        The largest relative error over all components (0.0 for an empty ``x``).

    Raises
    ------
    TypeError
        If ``fun`` or ``grad`` is not callable, ``x`` is None or not real (complex,
        object, string, longdouble), ``fun`` does not return a real scalar, or ``grad``
        does not return real values.
    ValueError
        If ``grad(x)`` does not have ``x``'s shape.

    Notes
    -----
    It shares its name with `scipy.optimize.check_grad`, not its meaning:

    - It returns the largest *relative* error over the components (scale-free: 1e-8
      means about eight correct digits). SciPy returns the 2-norm of the *absolute*
      difference, ``‖g − d‖``, to be judged against ``‖g‖``.
    - It differences to fourth order, centrally (error O(h⁴)); SciPy to first order,
      forward (O(h)).
    - Its step ``eps`` is relative, ``h = eps·max(1, |xᵢ|)``, default about 7.4e-4;
      SciPy's ``epsilon`` is absolute, default about 1.5e-8 (``epsilon=`` is a
      TypeError here).
    - ``x`` may have any shape; SciPy's is 1-D. SciPy's ``direction="random"`` and
      ``seed`` have no counterpart.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> err = mc.check_grad(lambda x: np.sum(np.sin(x)), np.cos, np.linspace(0, 1, 5))
    >>> err < 1e-9
    True
    """
    for name, f in (("fun", fun), ("grad", grad)):
        if not callable(f):
            raise TypeError(f"check_grad: {name} must be callable; got {type(f).__name__}")
    x0 = np.array(as_real_array(x, "x", "check_grad"), dtype=np.float64)
    g = as_real_array(grad(x0.copy(), *args), "grad(x)", "check_grad").astype(np.float64)
    if g.shape != x0.shape:
        raise ValueError(f"check_grad: grad(x) has shape {g.shape}; expected x's shape "
                         f"{x0.shape}")
    if x0.size == 0:
        return 0.0
    eps = np.finfo(np.float64).eps ** 0.2 if eps is None else float(eps)
    flat = x0.reshape(-1)
    d = np.empty(flat.size)
    point = flat.copy()
    for i in range(flat.size):
        h = eps * max(1.0, abs(flat[i]))
        f = []
        for step in (2 * h, h, -h, -2 * h):
            point[i] = flat[i] + step
            f.append(_scalar(fun(point.reshape(x0.shape).copy(), *args), "fun"))
        point[i] = flat[i]
        d[i] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h)
    g = g.reshape(-1)
    floor = atol * max(1.0, float(np.max(np.abs(d))))
    denom = np.maximum(np.maximum(np.abs(g), np.abs(d)), floor)
    return float(np.max(np.abs(g - d) / denom))

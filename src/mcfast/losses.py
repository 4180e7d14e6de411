"""Pointwise losses of linear models: ℓ(z, y), its derivatives in z, and the domain of y."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logsumexp, softmax

from ._kernels._engine import LOSS_CODES, value_extremes

__all__ = ["Loss", "Squared", "Logistic", "Poisson", "Huber", "Multinomial", "get_loss"]


class Loss:
    """A pointwise loss ℓ(z, y) of a linear model's prediction z and target y.

    mcfast's one-pass engine evaluates the loss and its derivatives in compiled code;
    the NumPy methods here (`loss`, `gradient`, `hessp`) are the same formulas written
    plainly, used by `mcfast.reference` and available to users. Derivatives are taken
    with respect to z.

    Attributes
    ----------
    name : str
        The name accepted by ``loss=``.
    multiclass : bool
        True when z has one column per class and y holds integer labels.
    y_bounds : tuple of float or None
        (low, high): the targets' domain when it is an interval (logistic, Poisson),
        checked on their extremes; None when any real target is allowed, or when the
        domain is not an interval (multinomial's integer labels).
    """

    name = ""
    code = -1          # the engine's loss code (mc_loss.h, as _engine.LOSS_CODES)
    multiclass = False
    delta = 0.0
    y_bounds: tuple[float, float] | None = None
    _domain = ""       # the domain in words, for check_y_extremes' message

    def check_y(self, y, func, n_classes=None):
        """Raise ValueError naming ``y`` when a target lies outside the loss's domain.
        Returns None (a multiclass loss: the largest label, which it finds anyway)."""
        if self.y_bounds is not None and y.size:
            # one compiled pass (None: a NaN or inf, whose rules NumPy's min and max keep)
            ext = value_extremes(y) or (y.min(), y.max())
            self.check_y_extremes(*ext, func)              # (NaN passes: it propagates)

    def check_y_extremes(self, low, high, func):
        """Raise ValueError naming ``y`` when its smallest target `low` or its largest
        `high` lies outside `y_bounds`. NaN extremes (NumPy's min and max of targets
        with a NaN) pass: the NaN propagates to the loss."""
        if self.y_bounds is None:
            return
        lo, hi = self.y_bounds
        if low < lo or high > hi:
            raise ValueError(f"{func}: y must {self._domain} for loss={self.name!r}; got "
                             f"values from {low:g} to {high:g}")

    def loss(self, z, y):
        """ℓ(z, y) per row."""
        raise NotImplementedError

    def gradient(self, z, y):
        """∂ℓ/∂z per row (per row and class for multiclass losses)."""
        raise NotImplementedError

    def hessp(self, z, y, q):
        """The Hessian of ℓ in z applied to q, per row: ℓ″ q (multiclass: H_i q_i)."""
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and self.delta == other.delta

    def __hash__(self):
        return hash((type(self).__name__, self.delta))

    def __repr__(self):
        return f"{type(self).__name__}()"


class Squared(Loss):
    """ℓ(z, y) = (z − y)²: least squares (``lstsq_*`` are this loss).

    Examples
    --------
    >>> from mcfast.losses import Squared
    >>> Squared().loss(3.0, 1.0), Squared().gradient(3.0, 1.0)
    (4.0, 4.0)
    """

    name = "squared"
    code = LOSS_CODES[name]

    def loss(self, z, y):
        return (z - y) ** 2

    def gradient(self, z, y):
        return 2 * (z - y)

    def hessp(self, z, y, q):
        return 2 * q


class Logistic(Loss):
    """ℓ(z, y) = log(1 + eᶻ) − y z, y ∈ [0, 1]: logistic regression (z the log-odds).

    Examples
    --------
    >>> import numpy as np
    >>> from mcfast.losses import Logistic
    >>> float(Logistic().loss(0.0, 1.0)) == float(np.log(2))
    True
    >>> float(Logistic().loss(700.0, 1.0))       # no overflow
    0.0
    """

    name = "logistic"
    code = LOSS_CODES[name]

    y_bounds = (0.0, 1.0)
    _domain = "lie in [0, 1]"

    def loss(self, z, y):
        return np.logaddexp(0, z) - y * z

    def gradient(self, z, y):
        return expit(z) - y

    def hessp(self, z, y, q):
        p = expit(z)
        return p * (1 - p) * q


class Poisson(Loss):
    """ℓ(z, y) = eᶻ − y z, y ≥ 0: Poisson regression with the log link (z = log μ).

    Examples
    --------
    >>> from mcfast.losses import Poisson
    >>> float(Poisson().loss(0.0, 2.0)), float(Poisson().gradient(0.0, 2.0))
    (1.0, -1.0)
    """

    name = "poisson"
    code = LOSS_CODES[name]

    y_bounds = (0.0, np.inf)
    _domain = "be >= 0"

    def loss(self, z, y):
        return np.exp(z) - y * z

    def gradient(self, z, y):
        return np.exp(z) - y

    def hessp(self, z, y, q):
        return np.exp(z) * q


class Huber(Loss):
    """ℓ(z, y) = ½r² for ``abs(r) <= δ``, else δ(``abs(r)`` − ½δ), r = z − y: robust regression.

    Parameters
    ----------
    delta : float, optional
        Where the quadratic turns linear, > 0 (default 1.0).

    Examples
    --------
    >>> from mcfast.losses import Huber
    >>> float(Huber(delta=1.0).loss(3.0, 0.0)), float(Huber(delta=1.0).gradient(3.0, 0.0))
    (2.5, 1.0)
    """

    name = "huber"
    code = LOSS_CODES[name]

    def __init__(self, delta: float = 1.0) -> None:
        try:
            delta = float(delta)
        except (TypeError, ValueError):
            raise TypeError(f"Huber: delta must be a real number; got {delta!r}") from None
        if not (delta > 0 and np.isfinite(delta)):
            raise ValueError(f"Huber: delta must be finite and > 0; got {delta}")
        self.delta = delta

    def loss(self, z, y):
        r = np.abs(z - y)
        return np.where(r <= self.delta, 0.5 * r * r, self.delta * (r - 0.5 * self.delta))

    def gradient(self, z, y):
        return np.clip(z - y, -self.delta, self.delta)

    def hessp(self, z, y, q):
        return np.where(np.abs(z - y) <= self.delta, q, 0 * q)

    def __repr__(self):
        return f"Huber(delta={self.delta})"


class Multinomial(Loss):
    """ℓ(z_i, y_i) = logsumexp(z_i) − z_i,y_i: softmax regression, K classes.

    z_i has K entries (Θ has one column per class) and y_i is an integer label in
    0 … K−1. The gradient is softmax(z_i) − e_{y_i}.

    Examples
    --------
    >>> import numpy as np
    >>> from mcfast.losses import Multinomial
    >>> z = np.array([[0.0, 0.0]])
    >>> float(Multinomial().loss(z, np.array([1]))[0]) == float(np.log(2))
    True
    >>> Multinomial().gradient(z, np.array([1]))
    array([[ 0.5, -0.5]])
    """

    name, multiclass = "multinomial", True
    code = LOSS_CODES[name]

    def check_y(self, y, func, n_classes=None):
        """Raise ValueError unless y holds 1-D integer labels >= 0 (and < n_classes when
        given); -> the largest label (None when y is empty)."""
        if y.ndim != 1:
            raise ValueError(f"{func}: y must be 1-D integer labels for "
                             f"loss='multinomial'; got shape {y.shape}")
        if not y.size:
            return None
        # (integer and boolean labels are whole numbers: only floats need the test)
        if y.dtype.kind not in "biu" and not (np.all(np.isfinite(y))
                                               and np.all(y == np.floor(y))):
            raise ValueError(f"{func}: y must hold integer class labels for "
                             f"loss='multinomial'")
        low, high = y.min(), y.max()
        if low < 0 or (n_classes is not None and high >= n_classes):
            want = ("labels >= 0" if n_classes is None else
                    f"labels in 0 ... {n_classes - 1} (theta has {n_classes} columns)")
            raise ValueError(f"{func}: y must hold {want}; got labels from {low:g} to "
                             f"{high:g}")
        return high

    def _onehot(self, z, y):
        e = np.zeros(z.shape, dtype=z.dtype)
        e[np.arange(z.shape[0]), y.astype(np.intp)] = 1
        return e

    def loss(self, z, y):
        return logsumexp(z, axis=1) - z[np.arange(z.shape[0]), y.astype(np.intp)]

    def gradient(self, z, y):
        return softmax(z, axis=1) - self._onehot(z, y)

    def hessp(self, z, y, q):
        p = softmax(z, axis=1)
        return p * q - p * np.sum(p * q, axis=1, keepdims=True)


_BY_NAME = {"squared": Squared, "logistic": Logistic, "poisson": Poisson, "huber": Huber,
            "multinomial": Multinomial}


def get_loss(loss, func="get_loss"):
    """The Loss for ``loss=``: a Loss instance itself, or a name ("huber": delta 1.0).

    Examples
    --------
    >>> from mcfast.losses import get_loss
    >>> get_loss("huber")
    Huber(delta=1.0)
    """
    if isinstance(loss, Loss) and type(loss) is not Loss:
        return loss
    if isinstance(loss, str) and loss in _BY_NAME:
        return _BY_NAME[loss]()
    names = ", ".join(repr(k) for k in _BY_NAME)
    raise ValueError(f"{func}: unknown loss {loss!r}; expected one of {names} or an "
                     f"instance of mcfast.losses.Squared, Logistic, Poisson, Huber or "
                     f"Multinomial")

"""scikit-learn estimators on mcfast's one-pass loss engine (``pip install mcfast-kernels[sklearn]``)."""

try:
    from sklearn.utils.validation import validate_data as _validate_data  # noqa: F401
except ImportError as exc:   # pragma: no cover - depends on the environment
    raise ImportError("mcfast.sklearn needs scikit-learn >= 1.6 (not installed, or too "
                      "old): pip install 'mcfast-kernels[sklearn]'") from exc

from ._logistic import LogisticRegression
from ._poisson import PoissonRegressor
from ._ridge import Ridge

__all__ = ["LogisticRegression", "PoissonRegressor", "Ridge"]

"""mcfast: the chain rules of matrix/vector calculus as fast compiled kernels."""

from ._version import __version__
from . import _simd  # noqa: F401  (MCFAST_SIMD, read once here)
from . import reference
from .gradcheck import check_grad
from ._config import show_config
from ._include import get_include
from .linear import grad_ax, grad_xa, trace_chain
from .lstsq import lstsq_grad, lstsq_loss_grad, LeastSquares
from .linear_loss import linear_loss_grad, LinearLoss
from . import losses
from .chain import jacobian_chain, chain_plan, ChainPlan, grad_chain, tangent_chain, Diagonal
from .links import Kronecker, MatrixFree

__all__ = [
    "__version__", "reference", "check_grad", "show_config", "get_include",
    "grad_ax", "grad_xa", "trace_chain",
    "lstsq_grad", "lstsq_loss_grad", "LeastSquares",
    "linear_loss_grad", "LinearLoss", "losses",
    "jacobian_chain", "chain_plan", "ChainPlan", "grad_chain", "tangent_chain", "Diagonal",
    "Kronecker", "MatrixFree",
]

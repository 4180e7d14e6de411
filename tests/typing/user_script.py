"""A user's script that mypy --strict checks (tests/test_typing.py): every public name, typed.

Each ``reveal_type`` carries the type mypy must reveal after ``# T:`` (module prefixes
dropped, float32/float64 written as such); the test compares them. The script also runs.
"""

import numpy as np
from numpy.typing import NDArray
from typing_extensions import reveal_type
from scipy.optimize import minimize

import mcfast as mc
import mcfast.dask as mcd
from mcfast import reference

rng = np.random.default_rng(0)
A = rng.standard_normal((5, 3))
G = rng.standard_normal((5, 4))
X = rng.standard_normal((50, 3))
y = rng.standard_normal(50)
theta = np.zeros(3)

# linear maps and the trace rule
reveal_type(mc.grad_ax(A, G))  # T: ndarray[dtype[float32 | float64]]
reveal_type(mc.grad_xa(G.T, rng.standard_normal((2, 5))))  # T: ndarray[dtype[float32 | float64]]
out = np.zeros((3, 4))
reveal_type(mc.grad_ax(A, G, out=out, accumulate=True))  # T: ndarray[dtype[float32 | float64]]
dY_dX = np.einsum("ki,lj->klij", A, np.eye(4))
reveal_type(mc.trace_chain(G, dY_dX))  # T: ndarray[dtype[float32 | float64]]

# least squares
reveal_type(mc.lstsq_grad(X, theta, y))  # T: ndarray[dtype[float32 | float64]]
loss, grad = mc.lstsq_loss_grad(X, theta, y)
reveal_type(loss)  # T: float
reveal_type(grad)  # T: ndarray[dtype[float32 | float64]]
obj = mc.LeastSquares(X, y, sample_weight=np.ones(50), l2=0.1)
reveal_type(obj)  # T: LeastSquares
reveal_type(obj(theta))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
reveal_type(obj.hessp(theta, np.ones(3)))  # T: ndarray[dtype[float32 | float64]]
res = minimize(obj, theta, jac=True, method="L-BFGS-B")

# chains: a list mixing arrays and Diagonals, and a chain of Diagonals only
W1, W2 = rng.standard_normal((6, 3)), rng.standard_normal((2, 6))
h = np.tanh(W1 @ theta)
D = mc.Diagonal(1 - h**2)
links = [W1, D, W2]
reveal_type(D)  # T: Diagonal
reveal_type(D.shape)  # T: tuple[int, ...]
reveal_type(D.toarray())  # T: ndarray[dtype[Any]]
reveal_type(mc.jacobian_chain(links))  # T: ndarray[dtype[float32 | float64]]
reveal_type(mc.jacobian_chain([D, D]))  # T: Diagonal
reveal_type(mc.jacobian_chain(links, order="reverse"))  # T: ndarray[dtype[float32 | float64]]
plan = mc.chain_plan(links)
reveal_type(plan)  # T: ChainPlan
reveal_type(plan.flops)  # T: int
reveal_type(plan(links))  # T: ndarray[dtype[float32 | float64]]
reveal_type(mc.ChainPlan([(6, 3), (2, 6)]))  # T: ChainPlan
reveal_type(mc.grad_chain(links, np.ones(2)))  # T: ndarray[dtype[float32 | float64]]
reveal_type(mc.tangent_chain(links, np.ones(3)))  # T: ndarray[dtype[float32 | float64]]
# linear-model losses, one pass over X
yb = (y > 0).astype(float)
reveal_type(mc.linear_loss_grad(X, theta, yb, loss="logistic"))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
lin = mc.LinearLoss(X, yb, loss=mc.losses.Huber(delta=2.0), l2=0.1, fit_intercept=True)
reveal_type(lin)  # T: LinearLoss
reveal_type(lin(np.zeros(4), rows=np.arange(10)))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
reveal_type(lin.hessp(np.zeros(4), np.ones(4)))  # T: ndarray[dtype[float32 | float64]]
reveal_type(lin.hessian(np.zeros(4)))  # T: ndarray[dtype[float32 | float64]]
reveal_type(lin.grad_hess(np.zeros(4))[2])  # T: ndarray[dtype[float32 | float64]]
reveal_type(mc.losses.Logistic())  # T: Logistic
# links beyond dense and Diagonal: Kronecker factors, sparse and matrix-free
from scipy.sparse.linalg import aslinearoperator

K = mc.Kronecker(np.eye(2), np.ones((3, 3)))
reveal_type(K)  # T: Kronecker
reveal_type(K.shape)  # T: tuple[int, int]
reveal_type(mc.jacobian_chain([K, K]))  # T: Kronecker | ndarray[dtype[float32 | float64]]
M = mc.MatrixFree(aslinearoperator(W1), cost=18)
reveal_type(M)  # T: MatrixFree
reveal_type(mc.grad_chain([M, W2], np.ones(2)))  # T: ndarray[dtype[float32 | float64]]

# checks and facts
reveal_type(mc.check_grad(lambda t: obj(t)[0], lambda t: obj(t)[1], theta))  # T: float
reveal_type(mc.get_include())  # T: str
reveal_type(mc.show_config())  # T: None
reveal_type(mc.__version__)  # T: str

# the pure-NumPy twins have the same types
reveal_type(reference.grad_ax(A, G))  # T: ndarray[dtype[float32 | float64]]
reveal_type(reference.lstsq_loss_grad(X, theta, y))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
reveal_type(reference.jacobian_chain([reference.Diagonal(h), reference.Diagonal(h)]))  # T: Diagonal

# mcfast.dask: computed results are NumPy; compute=False gives dask arrays
reveal_type(mcd.lstsq_loss_grad(X, theta, y))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
reveal_type(mcd.lstsq_loss_grad(X, theta, y, compute=False))  # T: tuple[Array, Array]
reveal_type(mcd.lstsq_grad(X, theta, y))  # T: ndarray[dtype[float32 | float64]]
reveal_type(mcd.grad_ax(X, y, compute=False))  # T: Array
reveal_type(mcd.linear_loss_grad(X, theta, yb, loss="logistic"))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
reveal_type(mcd.linear_loss_grad(X, theta, yb, compute=False))  # T: tuple[Array, Array]
dlin = mcd.LinearLoss(X, yb, loss="poisson", fit_intercept=True)
reveal_type(dlin)  # T: LinearLoss
reveal_type(dlin(np.zeros(4)))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
reveal_type(dlin.hessp(np.zeros(4), np.ones(4)))  # T: ndarray[dtype[float32 | float64]]
dobj = mcd.LeastSquares(X, y, l2=0.1)
reveal_type(dobj(theta))  # T: tuple[float, ndarray[dtype[float32 | float64]]]
reveal_type(dobj.hessp(theta, theta))  # T: ndarray[dtype[float32 | float64]]

# results flow into annotated user code
g64: NDArray[np.floating] = mc.grad_ax(A, G)

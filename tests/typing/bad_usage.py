"""Mistakes mypy --strict must report in a user's script (tests/test_typing.py): each line
marked ``# E: code`` is an error of that code, and no other line is."""

import numpy as np

import mcfast as mc

X = np.ones((4, 4))
bad: str = mc.grad_ax(X, X)  # E: assignment
loss: str = mc.lstsq_loss_grad(X, np.ones(4), np.ones(4))[0]  # E: assignment
J: mc.Diagonal = mc.jacobian_chain([X, mc.Diagonal(np.ones(4))])  # E: assignment
mc.jacobian_chain([X, X], order="backward")  # E: call-overload
mc.grad_ax(X, X, accumulate="yes")  # E: arg-type
mc.LeastSquares(X, np.ones(4), l2="0.1")  # E: arg-type
mc.check_grad(np.sum, np.cos, X, eps="small")  # E: arg-type

"""The Python side of the one-pass engine: a problem's data as the engine reads it."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._kernels import _engine as _e

__all__ = ["Problem", "native"]

_SRC_C, _SRC_F, _SRC_CSR = (_e.SOURCE_KINDS[k] for k in ("C", "F", "CSR"))


def _source(X, sparse):
    """(X or CSR data, indices, indptr, kind) as the engine reads them.

    Dense X is read in place when one axis has unit stride and the other a non-negative
    one (C order, F order, and column or row slices of them); anything else is copied
    once to C order. CSR indices and indptr are used as they are when both are int32 or
    both int64.
    """
    if sparse:
        data = native(X.data)
        ind, ptr = X.indices, X.indptr
        if not (ind.dtype == ptr.dtype and ind.dtype in (np.int32, np.int64)):
            ind, ptr = ind.astype(np.int64), ptr.astype(np.int64)
        return data, np.ascontiguousarray(ind), np.ascontiguousarray(ptr), _SRC_CSR
    if not X.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    if X.size == 0:
        X = np.zeros(X.shape, X.dtype)      # (NumPy gives an empty array zero strides)
    kind = _e.dense_kind(X)
    if kind < 0:
        return np.ascontiguousarray(X), None, None, _SRC_C
    return X, None, None, kind


def native(a):
    """`a` C-contiguous and in native byte order (None stays None)."""
    if a is None:
        return None
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.ascontiguousarray(a)


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem's data as the engine reads it: built once (per call, per LinearLoss).

    `data`, `indices`, `indptr`, `kind`: X as `_source` gives it (the source kind
    classified here once); `y`, `w`: native C-contiguous (w None: unit weights);
    `shape`: X's (n, m); `loss`: the Loss object (its engine code and Huber δ read at
    each run); `dtype`: the arithmetic's; `elements`: entries of X the engine reads (nnz
    for CSR). Fields are few on purpose: a frozen dataclass's __init__ sets each through
    object.__setattr__, about 0.15 µs a field on the 2-core Zen 4 (a plain slots
    dataclass: 0.03 µs), and one Problem is built per linear_loss_grad call.
    """

    data: Any
    indices: Any
    indptr: Any
    kind: int
    shape: tuple
    y: Any
    w: Any
    loss: Any
    fit_intercept: bool
    l2: float
    dtype: np.dtype
    elements: int

    @classmethod
    def from_data(cls, d):
        """The Problem of the checked dict `d` (`_validate.linear_loss_data`'s keys)."""
        X, loss = d["X"], d["loss"]
        data, ind, ptr, kind = _source(X, d["sparse"])
        return cls(data, ind, ptr, kind, (d["n"], d["m"]), native(d["y"]), native(d["w"]),
                   loss, d["fit_intercept"], d["l2"], d["dtype"],
                   X.nnz if d["sparse"] else d["n"] * d["m"])

    def run(self, theta, p, rows, grad, max_threads):
        """The loss (gradient, or Hessian product along p, into grad)."""
        n, m = self.shape
        n_used = n if rows is None else rows.shape[0]
        K = theta.shape[1] if theta.ndim == 2 else 1
        # rows= counts its elements as a dense read does: a random row costs more than a
        # streamed one (a miss, not bandwidth), so a minibatch takes a second thread no
        # later than a dense call of the same size. Fresh random rows of 2e6 × 32 float64
        # logistic, 2-core Zen 4 VM, two threads over one with the worker asleep (500 µs
        # between calls; 0.39-0.61 when it still spins): 1.17 at 1,024 rows, 0.79 at
        # 2,048, 0.68 at 4,096, 0.67 at 8,192; m = 128: 1.42 at 512, 0.80 at 1,024; m = 8:
        # 0.66 at 16,384. (A 2-core Zen 3 read 1.40 at 512 rows, 1.09 at 4,096 and 0.64
        # at 8,192 on 2026-12-07, when this counted a quarter of the elements.)
        elements = self.elements if rows is None else n_used * max(m, 1)
        block, threads = _e.plan(self.kind, n_used, m, K, self.dtype.itemsize,
                                 elements, max_threads)
        loss = self.loss
        return _e.loss_grad(self.data, self.indices, self.indptr, self.shape, self.kind, rows,
                            theta, p, self.y, self.w, loss.code, loss.delta, self.fit_intercept,
                            self.l2, grad, block, threads)

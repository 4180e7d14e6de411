"""The Python side of the one-pass engine: a problem's data as the engine reads it."""

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
        return np.zeros(X.shape, X.dtype), None, None, _SRC_C
    s0, s1 = X.strides
    n, m = X.shape
    size = X.dtype.itemsize

    def unit(stride, length):          # contiguous axis (any stride for one entry)
        return length <= 1 or stride == size

    def lead(stride, length, inner):   # outer axis stepping over whole inner runs
        return length <= 1 or (stride >= 0 and stride % size == 0 and stride // size >= inner)

    if unit(s1, m) and lead(s0, n, m):
        return X, None, None, _SRC_C
    if unit(s0, n) and lead(s1, m, n):
        return X, None, None, _SRC_F
    return np.ascontiguousarray(X), None, None, _SRC_C


def native(a):
    """`a` C-contiguous and in native byte order (None stays None)."""
    if a is None:
        return None
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.ascontiguousarray(a)


class Problem:
    """A problem's data as the engine reads it, converted once."""

    def __init__(self, d):
        self.d = d
        self.src = _source(d["X"], d["sparse"])
        self.y = native(d["y"])
        self.w = native(d["w"])
        X = d["X"]
        self.elements = X.nnz if d["sparse"] else d["n"] * d["m"]

    def run(self, theta, p, rows, grad, max_threads):
        """The loss (gradient, or Hessian product along p, into grad)."""
        d = self.d
        data, ind, ptr, kind = self.src
        n_used = d["n"] if rows is None else rows.shape[0]
        K = theta.shape[1] if theta.ndim == 2 else 1
        # a minibatch (rows=) is a short call: a second thread pays only from four times
        # the usual work (its wake-up costs more than it saves below that; measured on a
        # busy 2-core machine, 4,096 × 32 rows took 0.12 ms on one thread, 12 ms on two)
        elements = self.elements if rows is None else n_used * max(d["m"], 1) // 4
        block, threads = _e.plan(kind, n_used, d["m"], K, d["dtype"].itemsize,
                                 elements, max_threads)
        return _e.loss_grad(data, ind, ptr, (d["n"], d["m"]), rows, theta, p, self.y,
                            self.w, d["loss"].code, d["loss"].delta, d["fit_intercept"],
                            d["l2"], grad, block, threads)



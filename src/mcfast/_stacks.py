"""Stacks of small square chains (dense and Diagonal links) through the batched kernels of _stack."""

import math

import numpy as np

from ._kernels import _stack as _k

__all__ = ["vector", "product", "ENABLED"]

ENABLED = True      # False: stacks take the general batched path (benchmarks, tests)


def _operand(a, diag, n, batch, nchains):
    """(C-contiguous array, elements from one chain to the next) of a link or vector whose
    batch dimensions are the whole batch or only ones (0: shared), or None otherwise."""
    core = 1 if diag else 2
    lead = a.shape[:a.ndim - core]
    if math.prod(lead) == 1:
        return np.ascontiguousarray(a.reshape(a.shape[a.ndim - core:])), 0
    if len(lead) > len(batch) or lead != batch[len(batch) - len(lead):] or (
            math.prod(lead) != nchains):
        return None
    return np.ascontiguousarray(a), n ** core


def _stack(arrays, diag, dims, batch, vec=None):
    """The operands of a stack (links, diag flags, strides, vector, its stride), or None
    when the chain is not one (links of other sizes or kinds, batches that broadcast
    other than whole-or-shared)."""
    n = dims[0]
    nchains = math.prod(batch)
    if not batch or nchains < 1 or any(d != n for d in dims) or not _k.served(n):
        return None
    links, strides = [], []
    for a, d in zip(arrays, diag):
        op = _operand(a, d, n, batch, nchains) if isinstance(a, np.ndarray) else None
        if op is None:
            return None
        links.append(op[0])
        strides.append(op[1])
    vop = (None, 0) if vec is None else _operand(vec, True, n, batch, nchains)
    if vop is None:
        return None
    return links, tuple(diag), tuple(strides), vop[0], vop[1], n, nchains


def vector(arrays, diag, dims, batch, vec, grad, res):
    """grad_chain (grad) or tangent_chain of a stack into `res` (C-contiguous, batch +
    (n,)); False when the chain is not a stack."""
    op = _stack(arrays, diag, dims, batch, vec)
    if op is None or not res.flags.c_contiguous:
        return False
    links, flags, strides, v, vs, n, nchains = op
    return _k.stack_chain(links, flags, strides, v, vs, res, n, nchains,
                          _k.GRAD if grad else _k.TANGENT)


def _nested(n, reverse):
    """The bracketing of n links all forward, ((0, 1), 2)..., or all reverse (0, (1, 2))."""
    if reverse:
        order = n - 1
        for k in range(n - 2, -1, -1):
            order = (k, order)
        return order
    order = 0
    for k in range(1, n):
        order = (order, k)
    return order


def product(arrays, diag, dims, batch, res, order):
    """jacobian_chain of a stack with at least one dense link into `res` (C-contiguous,
    batch + (n, n)), forward unless `order` (a ChainPlan's bracketing) is all reverse;
    False when the chain is not a stack."""
    if all(diag) or len(arrays) < 2:
        return False
    op = _stack(arrays, diag, dims, batch)
    if op is None or not res.flags.c_contiguous:
        return False
    links, flags, strides, _, _, n, nchains = op
    mode = (_k.JACOBIAN_REVERSE if order == _nested(len(arrays), True)
            else _k.JACOBIAN)
    return _k.stack_chain(links, flags, strides, None, 0, res, n, nchains, mode)

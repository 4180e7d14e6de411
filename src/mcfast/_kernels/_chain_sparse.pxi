# A dense block times a CSR matrix: the adjoint mode of a sparse link (included by _chain.pyx)

# ---------------------------------------------------------------------------------------
# a dense block times a CSR matrix: the adjoint mode of a sparse link

ctypedef fused sp_index:
    cnp.int32_t
    cnp.int64_t


cdef bint _csr_decreases(const sp_index* indptr, Py_ssize_t p) noexcept nogil:
    """Whether indptr[0 .. p] decreases anywhere: one branch-free pass (vectorised), where a
    test and branch per entry took a third of a banded link's adjoint product."""
    cdef Py_ssize_t k
    cdef int bad = 0
    for k in range(p):
        bad |= indptr[k + 1] < indptr[k]
    return bad != 0


cdef bint _csr_outside(const sp_index* indices, Py_ssize_t nnz, Py_ssize_t q) noexcept nogil:
    """Whether an index of indices[0 .. nnz) lies outside 0 … q − 1 (nnz ≥ 1): their
    minimum and maximum in one branch-free pass (vectorised)."""
    cdef Py_ssize_t t
    cdef sp_index lo = indices[0], hi = indices[0], v
    for t in range(1, nnz):
        v = indices[t]
        lo = v if v < lo else lo
        hi = v if v > hi else hi
    return lo < 0 or hi >= q


cdef inline void dense_csr_rows(Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t p, Py_ssize_t q,
                                const floating* x,          # IN  (m, p) C-contiguous
                                const sp_index* indptr,     # IN  (p + 1,)
                                const sp_index* indices,    # IN  (nnz,) column of each entry
                                const floating* data,       # IN  (nnz,)
                                floating* out,              # OUT (m, q) C-contiguous
                                ) noexcept nogil:
    """Rows i0..i1-1 of out = X @ S: row i is Σ_k X[i, k] S[k, :] (S's rows scattered),
    four rows of X per pass over S so each stored entry is read once for four rows."""
    cdef Py_ssize_t i, j, k, t
    cdef floating x0, x1, x2, x3, v
    cdef floating* o0
    cdef floating* o1
    cdef floating* o2
    cdef floating* o3
    for i in range(i0, i1):
        o0 = out + i * q
        for j in range(q):
            o0[j] = 0
    i = i0
    while i + 4 <= i1:
        o0, o1, o2, o3 = out + i * q, out + (i + 1) * q, out + (i + 2) * q, out + (i + 3) * q
        for k in range(p):
            x0, x1, x2, x3 = x[i * p + k], x[(i + 1) * p + k], x[(i + 2) * p + k], \
                x[(i + 3) * p + k]
            for t in range(indptr[k], indptr[k + 1]):
                j, v = indices[t], data[t]
                o0[j] += x0 * v
                o1[j] += x1 * v
                o2[j] += x2 * v
                o3[j] += x3 * v
        i += 4
    while i < i1:
        o0 = out + i * q
        for k in range(p):
            x0 = x[i * p + k]
            for t in range(indptr[k], indptr[k + 1]):
                o0[indices[t]] += x0 * data[t]
        i += 1


ctypedef struct _CsrRows:
    Py_ssize_t m, p, q, chunk
    const void* x
    const void* indptr
    const void* indices
    const void* data
    void* out
    bint idx64, single


cdef inline void _csr_range(_CsrRows* c, Py_ssize_t i, floating* ftag,
                            sp_index* itag) noexcept nogil:
    dense_csr_rows(i * c.chunk, min(c.m, (i + 1) * c.chunk), c.p, c.q, <const floating*>c.x,
                   <const sp_index*>c.indptr, <const sp_index*>c.indices,
                   <const floating*>c.data, <floating*>c.out)


cdef void _csr_task(void* ctx, Py_ssize_t i, int tid) noexcept nogil:
    """Rows of chunk i of out = X @ S (a task of parallel_for)."""
    cdef _CsrRows* c = <_CsrRows*>ctx
    if c.single:
        if c.idx64:
            _csr_range(c, i, <float*>NULL, <cnp.int64_t*>NULL)
        else:
            _csr_range(c, i, <float*>NULL, <cnp.int32_t*>NULL)
    elif c.idx64:
        _csr_range(c, i, <double*>NULL, <cnp.int64_t*>NULL)
    else:
        _csr_range(c, i, <double*>NULL, <cnp.int32_t*>NULL)


def dense_csr_product(const floating[:, ::1] X not None,    # IN  (m, p)
                      const sp_index[::1] indptr not None,   # IN  (p + 1,)
                      const sp_index[::1] indices not None,  # IN  (nnz,)
                      const floating[::1] data not None,     # IN  (nnz,)
                      floating[:, ::1] out not None,         # OUT (m, q)
                      int nthreads):                         # IN  1: serial
    """out = X @ S for S (p, q) in CSR form, one pass over S per row of X.

    The CSR arrays are checked first (indptr non-decreasing within data, every column
    index below q), so a malformed matrix raises ValueError instead of reading or writing
    out of bounds.
    """
    cdef Py_ssize_t m = X.shape[0], p = X.shape[1], q = out.shape[1], nnz, i
    cdef Py_ssize_t chunk, nchunks
    cdef _CsrRows c
    if indptr.shape[0] != p + 1 or out.shape[0] != m:
        raise ValueError("dense_csr_product: inconsistent shapes")
    nnz = indptr[p] if p >= 0 else 0
    if indptr[0] != 0 or nnz > indices.shape[0] or nnz > data.shape[0]:
        raise ValueError("dense_csr_product: indptr does not fit indices/data")
    if _csr_decreases(&indptr[0], p):
        raise ValueError("dense_csr_product: indptr decreases")
    if nnz and _csr_outside(&indices[0], nnz, q):
        raise ValueError("dense_csr_product: a column index is out of range")
    if m == 0 or q == 0:
        return
    nchunks = min(max(nthreads, 1), (m + 3) // 4)
    chunk = ((m + nchunks - 1) // nchunks + 3) // 4 * 4       # whole blocks of four rows
    with nogil:
        if nchunks > 1:
            c.m, c.p, c.q, c.chunk, c.out = m, p, q, chunk, &out[0, 0]
            c.x, c.indptr = (&X[0, 0] if p else NULL), &indptr[0]
            c.indices, c.data = (&indices[0] if nnz else NULL), (&data[0] if nnz else NULL)
            c.idx64, c.single = sp_index is cnp.int64_t, floating is float
            parallel_for(_csr_task, &c, nchunks, nchunks)
        else:
            dense_csr_rows(0, m, p, q, &X[0, 0] if p else NULL, &indptr[0],
                           &indices[0] if nnz else NULL, &data[0] if nnz else NULL,
                           &out[0, 0])

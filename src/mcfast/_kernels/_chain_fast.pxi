# The cheap entries for unbatched chains of C-contiguous arrays (included by _chain.pyx)

# ---------------------------------------------------------------------------------------
# the cheap entries for unbatched chains of C-contiguous arrays

cdef enum:
    FAST_STACK = 512        # elements of the on-stack scratch of the fast paths
    FAST_MAXLINKS = 32      # links of a vector chain on the fast path
    FAST_MAXDIM = 4096      # sizes of the fast chain path: no overflow in its cost formula
    FAST_SMALLMM = SMALL_MM_WORK        # multiply-adds of one product on the fast chain path
    FAST_MAXWORK = 2 * SMALL_MM_WORK    # multiply-adds of the fast chain path
    FAST_MAXLINK = SMALL_MV_WORK        # entries of a link on the fast vector path
    NOGIL_WORK = 32768      # multiply-adds from which the fast paths release the GIL


cdef inline bint _fast_ok(object a, int typenum, int ndim) noexcept:
    """`plain` (exact ndarray, C-contiguous, native byte order, `typenum`, `ndim`), with no
    zero-size axis."""
    cdef int k
    if not plain(a, typenum, ndim):
        return False
    for k in range(ndim):
        if cnp.PyArray_DIMS(<cnp.ndarray>a)[k] < 1:
            return False
    return True


cdef inline void _mm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating* a,
                     const floating* b, floating* c) noexcept nogil:
    """C (m, n) = A (m, k) @ B (k, n), all C-contiguous: a hand loop when small, else BLAS."""
    if m * n * k <= SMALL_MM_WORK:
        small_gemm(m, n, k, a, k, 1, b, n, 1, c, n)
    else:
        blas_gemm(m, n, k, a, k, 1, b, n, 1, c, n)


cdef void _fast_run(Py_ssize_t n, const Py_ssize_t* d, bint reverse,
                    const floating* j1, const floating* j2, const floating* j3,
                    floating* tmp, floating* out) noexcept nogil:
    """J2 @ J1, or J3 @ J2 @ J1 as (J3 @ J2) @ J1 (reverse) or J3 @ (J2 @ J1)."""
    if n == 2:
        _mm(d[2], d[0], d[1], j2, j1, out)
    elif reverse:
        _mm(d[3], d[1], d[2], j3, j2, tmp)
        _mm(d[3], d[0], d[1], tmp, j1, out)
    else:
        _mm(d[2], d[0], d[1], j2, j1, tmp)
        _mm(d[3], d[0], d[2], j3, tmp, out)


cdef int _fast_plan(Py_ssize_t n, const Py_ssize_t* d, object order, Py_ssize_t* first,
                    Py_ssize_t* total) except -2:
    """The plan of 2 or 3 dense links by the nogil planner's recurrence (chain_order's DP
    with _pair_cost, the cost model of mcfast._plan), unrolled for three links: 1 for
    (J3 J2) J1, 0 for J3 (J2 J1) (and for two links), -1 for an unknown order. first:
    multiply-adds of the first product; total: of all."""
    cdef Py_ssize_t prefix[4]          # no Diagonal links
    cdef Py_ssize_t rev_first, rev, fwd_first, fwd
    cdef int reverse
    prefix[0] = prefix[1] = prefix[2] = prefix[3] = 0
    if n == 2:
        first[0] = total[0] = _pair_cost(d, prefix, 0, 0, 1)
        return 0 if order == "optimal" or order == "forward" or order == "reverse" else -1
    # cost[0, 2] = min over s of cost[0, s] + cost[s + 1, 2] + pair(0, s, 2):
    # s = 0 is (J3 J2) J1, s = 1 is J3 (J2 J1); ties go to s = 0, as in the DP
    rev_first = _pair_cost(d, prefix, 1, 1, 2)
    rev = _sat_add(rev_first, _pair_cost(d, prefix, 0, 0, 2))
    fwd_first = _pair_cost(d, prefix, 0, 0, 1)
    fwd = _sat_add(fwd_first, _pair_cost(d, prefix, 0, 1, 2))
    if order == "optimal":
        reverse = rev <= fwd
    elif order == "reverse":
        reverse = 1
    elif order == "forward":
        reverse = 0
    else:
        return -1
    first[0], total[0] = (rev_first, rev) if reverse else (fwd_first, fwd)
    return reverse


cdef inline int _fast_vector_args(object links, object vector) noexcept:
    """The type number of `vector` when the fast vector entries take it: links a list or
    tuple of 1 … FAST_MAXLINKS, vector a float32/float64 `_fast_ok` 1-D ndarray; else −1."""
    cdef int typenum
    if type(links) is not list and type(links) is not tuple:
        return -1
    if not 1 <= len(links) <= FAST_MAXLINKS or type(vector) is not cnp.ndarray:
        return -1
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>vector)
    if (typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) \
            or not _fast_ok(vector, typenum, 1):
        return -1
    return typenum


ctypedef struct _Fast:
    # a call of a fast entry: a chain product (fast_chain) or a vector chain (fast_vector)
    bint vector, single             # vector chain; float32 (else float64)
    Py_ssize_t n                    # links
    const Py_ssize_t* d             # chain: dims d_0 .. d_n
    bint reverse                    # chain: (J3 J2) J1
    bint grad                       # vector: J1ᵀ(⋯(Jnᵀ x)), else Jn(⋯(J1 x))
    const Py_ssize_t* rows          # vector: each link's shape and Diagonal flag
    const Py_ssize_t* cols
    const unsigned char* diag
    Py_ssize_t maxd
    void** ptr                      # the links' data
    const void* x                   # vector: the input
    void* tmp                       # scratch
    void* out


cdef inline void _fast_dispatch(_Fast* f) noexcept nogil:
    """Run a fast entry's call in its dtype."""
    if f.vector:
        if f.single:
            _fast_vector_run(f.n, f.grad, f.rows, f.cols, f.diag, f.ptr, <const float*>f.x,
                             <float*>f.tmp, f.maxd, <float*>f.out)
        else:
            _fast_vector_run(f.n, f.grad, f.rows, f.cols, f.diag, f.ptr, <const double*>f.x,
                             <double*>f.tmp, f.maxd, <double*>f.out)
    elif f.single:
        _fast_run(f.n, f.d, f.reverse, <const float*>f.ptr[0], <const float*>f.ptr[1],
                  <const float*>f.ptr[2], <float*>f.tmp, <float*>f.out)
    else:
        _fast_run(f.n, f.d, f.reverse, <const double*>f.ptr[0], <const double*>f.ptr[1],
                  <const double*>f.ptr[2], <double*>f.tmp, <double*>f.out)


cdef inline void _fast_call(_Fast* f, Py_ssize_t work) noexcept:
    """Run a fast entry's call, releasing the GIL from NOGIL_WORK multiply-adds on (below,
    releasing it would cost more than the product)."""
    if work < NOGIL_WORK:
        _fast_dispatch(f)
    else:
        with nogil:
            _fast_dispatch(f)


def fast_chain_plan(tuple dims, str order):
    """(reverse, first, total) of fast_chain's plan for dims (d_0, ..., d_n), n = 2 or 3:
    reverse 1 for (J3 J2) J1; for tests, which hold it equal to mcfast.chain_plan."""
    cdef Py_ssize_t d[4]
    cdef Py_ssize_t first = 0, total = 0, k, n = len(dims) - 1
    if n < 2 or n > 3:
        raise ValueError("fast_chain_plan: 2 or 3 links")
    for k in range(n + 1):
        d[k] = dims[k]
    reverse = _fast_plan(n, d, order, &first, &total)
    return reverse, first, total


def fast_chain(object links, object order, tuple expect=None):
    """Jn⋯J1 for 2 or 3 unbatched C-contiguous float links, or None.

    None means "not this path": the caller falls back to the general path, which also
    reports every error. Plans by the nogil planner's recurrence and pair cost (ties go to
    (J3 J2) J1, as the DP's).
    `expect`, when given, is the dims (d_0, ..., d_n) the links must have (a ChainPlan's).
    """
    cdef Py_ssize_t n, k, size, work, first
    cdef Py_ssize_t d[4]
    cdef int typenum, reverse
    cdef double stack[FAST_STACK]
    cdef void* tmp = <void*>stack
    cdef void* po
    cdef cnp.npy_intp oshape[2]
    cdef void* p[3]
    cdef _Fast f
    if type(links) is not list and type(links) is not tuple:
        return None
    n = len(links)
    if n < 2 or n > 3:
        return None
    link0 = links[0]
    if type(link0) is not cnp.ndarray:
        return None
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>link0)
    if typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT:
        return None
    for k in range(n):
        a = links[k]
        if not _fast_ok(a, typenum, 2):
            return None
        p[k] = cnp.PyArray_DATA(<cnp.ndarray>a)
        if k == 0:
            d[0] = cnp.PyArray_DIMS(<cnp.ndarray>a)[1]
        elif cnp.PyArray_DIMS(<cnp.ndarray>a)[1] != d[k]:
            return None
        d[k + 1] = cnp.PyArray_DIMS(<cnp.ndarray>a)[0]
    if expect is not None:
        if len(expect) != n + 1:
            return None
        for k in range(n + 1):
            if expect[k] != d[k]:
                return None
    # past the hand loops the Python path multiplies with NumPy's BLAS (one BLAS pool in
    # a loop that also calls NumPy)
    for k in range(n + 1):
        if d[k] > FAST_MAXDIM:
            return None
    reverse = _fast_plan(n, d, order, &first, &work)
    if reverse < 0:
        return None
    if n == 3:
        size = d[3] * d[1] if reverse else d[2] * d[0]
        if size > FAST_STACK:
            scratch = np.empty(size, dtype=np.float64)
            tmp = cnp.PyArray_DATA(<cnp.ndarray>scratch)
    else:
        p[2] = NULL
    if work > FAST_MAXWORK or first > FAST_SMALLMM or work - first > FAST_SMALLMM:
        return None
    oshape[0], oshape[1] = d[n], d[0]
    out = cnp.PyArray_EMPTY(2, oshape, typenum, 0)
    po = cnp.PyArray_DATA(<cnp.ndarray>out)
    f.vector, f.single, f.n, f.d, f.reverse = False, typenum == cnp.NPY_FLOAT, n, d, reverse
    f.ptr, f.tmp, f.out = p, tmp, po
    _fast_call(&f, work)
    return out


cdef void _fast_vector_run(Py_ssize_t n, bint grad, const Py_ssize_t* rows,
                           const Py_ssize_t* cols, const unsigned char* diag,
                           void** ptr, const floating* x, floating* scratch,
                           Py_ssize_t maxd, floating* out) noexcept nogil:
    """J1ᵀ(⋯(Jnᵀ x)) or Jn(⋯(J1 x)) for one sample of C-contiguous links."""
    cdef Py_ssize_t step, k, turn = 0
    cdef floating* y
    for step in range(n):
        k = n - 1 - step if grad else step
        y = out if step == n - 1 else scratch + turn * maxd
        turn = 1 - turn
        _vector_one(grad, rows[k], cols[k], diag[k], rows[k] * cols[k] <= SMALL_MV_WORK,
                   <const floating*>ptr[k], cols[k], 1, x, 1, y)
        x = y


def fast_vector(object links, object vector, bint grad, type diagonal):
    """J1ᵀ(⋯(Jnᵀ g)) (grad) or Jn(⋯(J1 t)) for an unbatched chain, or None.

    Links are C-contiguous 2-D float ndarrays or `diagonal` instances over C-contiguous
    1-D data, all of the vector's dtype; anything else returns None (the general path).
    """
    cdef Py_ssize_t n, k, maxd = 0, work = 0, length
    cdef Py_ssize_t rows[FAST_MAXLINKS]
    cdef Py_ssize_t cols[FAST_MAXLINKS]
    cdef unsigned char diag[FAST_MAXLINKS]
    cdef void* ptr[FAST_MAXLINKS]
    cdef double stack[FAST_STACK]
    cdef void* tmp = <void*>stack
    cdef void* px
    cdef void* po
    cdef int typenum
    cdef cnp.npy_intp oshape[1]
    cdef _Fast f
    typenum = _fast_vector_args(links, vector)
    if typenum < 0:
        return None
    n = len(links)
    for k in range(n):
        a = links[k]
        if type(a) is diagonal:
            a = a.diagonal
            if not _fast_ok(a, typenum, 1):
                return None
            diag[k] = 1
            rows[k] = cols[k] = cnp.PyArray_DIMS(<cnp.ndarray>a)[0]
        elif _fast_ok(a, typenum, 2):
            diag[k] = 0
            rows[k] = cnp.PyArray_DIMS(<cnp.ndarray>a)[0]
            cols[k] = cnp.PyArray_DIMS(<cnp.ndarray>a)[1]
        else:
            return None
        if k > 0 and cols[k] != rows[k - 1]:
            return None
        if not diag[k] and rows[k] * cols[k] > FAST_MAXLINK:
            return None         # gemv: the Python path, with NumPy's BLAS
        ptr[k] = cnp.PyArray_DATA(<cnp.ndarray>a)
        maxd = max(maxd, rows[k])
        work += rows[k] * cols[k]
    length = cnp.PyArray_DIMS(<cnp.ndarray>vector)[0]
    if length != (rows[n - 1] if grad else cols[0]):
        return None
    oshape[0] = cols[0] if grad else rows[n - 1]
    if 2 * maxd > FAST_STACK:
        scratch = np.empty(2 * maxd, dtype=np.float64)
        tmp = cnp.PyArray_DATA(<cnp.ndarray>scratch)
    out = cnp.PyArray_EMPTY(1, oshape, typenum, 0)
    px = cnp.PyArray_DATA(<cnp.ndarray>vector)
    po = cnp.PyArray_DATA(<cnp.ndarray>out)
    f.vector, f.single, f.n, f.grad, f.rows, f.cols = True, typenum == cnp.NPY_FLOAT, n, grad, \
        rows, cols
    f.diag, f.ptr, f.x, f.tmp, f.maxd, f.out = diag, ptr, px, tmp, maxd, po
    _fast_call(&f, work)
    return out

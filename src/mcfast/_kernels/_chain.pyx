# cython: language_level=3
"""Kernels of the Jacobian chain: chain products, vector chains, dense × CSR, the nogil planner.

Design. Three layers, as everywhere in mcfast:
  mcfast.chain (Python)   validates once, plans, and turns a plan into a *program*
                          (chain_program): its steps (left, right), post-order over the
                          bracketing tree, and one layout row per product (columns L_* in
                          _chain.pxd: shape, diagonal, scratch offset; chain_layout, the
                          layout mcfast.kernels.jacobian_chain_steps uses too). It
                          allocates the output and the scratch (one row per thread).
  def wrappers (below)    read the links' data addresses (their number varies, so they
                          travel as addresses next to memoryviews of the program), release
                          the GIL and loop over the batch: mcfast's parallel loop
                          (_threads.parallel_for) over blocks of samples when every
                          step is small (each thread keeps its sample's intermediates in
                          its own scratch row, which stays in L1), a serial loop with BLAS
                          per sample otherwise (BLAS brings its own threads).
  cdef noexcept nogil     one sample of a chain: dense products through the BLAS shims or a
                          hand loop for small matrices, products with a Diagonal as row or
                          column scalings, Diagonal·Diagonal elementwise.
Strides are in elements. Every dense link matrix has a unit stride along its rows or its
columns (the Python layer copies it otherwise), which is all BLAS needs: a matrix with unit
row stride is the row-major storage of its transpose. Intermediates are C-contiguous.
Batch offsets: sample b of the broadcast batch is unravelled over `bshape`, and link k sits
at Σ_a index_a · bstr[k, a] (stride 0 along broadcast axes).

Chains of dense and Diagonal links are planned here (`chain_order`/`chain_steps`, for
mcfast._plan through `plan_dense` and for the cimport API kernels.pxd); mcfast._plan
plans the other link kinds. The executor (`chain_sample`, `chain_block`) is the one both
mcfast.chain and kernels.pxd run.
`dense_csr_product` is the adjoint mode of a sparse link (rows of a block times a CSR
matrix), used by mcfast._apply.

`fast_chain` (2 or 3 links) and `fast_vector` (grad/tangent) are the cheap entries for
unbatched chains of C-contiguous float arrays: they check the arrays in C (types, shapes,
flags), plan with the nogil planner's cost (_pair_cost) and multiply through raw
pointers, in a few hundred ns for small links; anything else returns None and takes the
general path. `fast_kron_vector` is the same for one vector through Kronecker links, its
products through NumPy's dot.
"""
cimport cython
from ._threads cimport parallel_for
cimport numpy as cnp
from ._blas cimport gemm, gemv, BlasTrans, NoTrans, Trans
from ._ndarray cimport plain

import numpy as np

__all__ = ["chain_program", "chain_product", "vector_chain", "fast_chain", "fast_chain_plan", "fast_vector",
           "fast_kron_vector", "dense_csr_product", "plan_dense"]

cnp.import_array()


# ---------------------------------------------------------------------------------------
# planner

# The nogil planner of the cimport API (mcfast.kernels.chain_order) for chains of dense and
# Diagonal links: the cost model of mcfast._plan restricted to those kinds (dense·dense
# p·q·r, a Diagonal side p·r, Diagonal·Diagonal n), in saturating arithmetic: a cost past
# PY_SSIZE_T_MAX is held at PY_SSIZE_T_MAX (then the order is the best among the
# bracketings that fit, and mcfast.chain_plan gives exact costs), and the same rule at
# every length: the exact DP up to PLAN_DP_MAX links, mcfast._plan's heuristic beyond.
# Python plans with mcfast._plan itself; tests hold the two equal.

DP_MAX = PLAN_DP_MAX        # for tests: equal to mcfast._plan.DP_MAX and BLOCK
BLOCK = PLAN_BLOCK
BATCH_BLOCK = VBLOCK        # samples per block of a batched chain (mcfast.chain sizes scratch by it)
SMALL_MM = SMALL_MM_WORK    # multiply-adds of a product done by a hand loop
SMALL_MV = SMALL_MV_WORK    # multiply-adds of a matrix-vector product done by a hand loop (M_SMALL)
# the columns of a program's layout rows (L_*) and of an operand's meta row (M_*), by name
LAYOUT_ROWS, LAYOUT_COLS, LAYOUT_FLAGS, LAYOUT_DST = L_ROWS, L_COLS, L_FLAGS, L_DST
LAYOUT_COLUMNS, LAYOUT_DIAG = NLAYOUTCOL, L_DIAG
META_RS, META_CS, META_DIAG, META_SMALL, META_COLUMNS = M_RS, M_CS, M_DIAG, M_SMALL, NMETACOL

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX


cdef inline Py_ssize_t _sat_mul(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """a·b for a, b >= 0, held at PY_SSIZE_T_MAX."""
    if a != 0 and b > PY_SSIZE_T_MAX // a:
        return PY_SSIZE_T_MAX
    return a * b


cdef inline Py_ssize_t _sat_add(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """a + b for a, b >= 0, held at PY_SSIZE_T_MAX."""
    if b > PY_SSIZE_T_MAX - a:
        return PY_SSIZE_T_MAX
    return a + b


cdef inline Py_ssize_t _pair_cost(const Py_ssize_t* dims, const Py_ssize_t* prefix,
                                  Py_ssize_t i, Py_ssize_t s, Py_ssize_t j) noexcept nogil:
    """Multiply-adds of (J_j⋯J_{s+1}) @ (J_s⋯J_i), a range being diagonal when all its
    links are: dense·dense p·q·r, one Diagonal p·r, two Diagonals n."""
    cdef bint right = prefix[s + 1] - prefix[i] == s + 1 - i
    cdef bint left = prefix[j + 1] - prefix[s + 1] == j - s
    if left and right:
        return dims[i]
    if left or right:
        return _sat_mul(dims[j + 1], dims[i])
    return _sat_mul(_sat_mul(dims[j + 1], dims[s + 1]), dims[i])


cdef void _dp_units(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                    Py_ssize_t first, Py_ssize_t step, Py_ssize_t last,
                    Py_ssize_t* cost, Py_ssize_t* split) noexcept nogil:
    """The matrix-chain DP (CLRS §15.2) over the units of links first..last: unit u holds
    links first + u·step .. first + (u+1)·step - 1 (the last unit may be shorter), and
    the cost of a single unit is already in the table (0 for a link, a block's DP result
    for a block). cost[i, j] / split[i, j] are indexed by links: split = the last link of
    the right part. Ties go to the smallest split, as mcfast._plan._dp."""
    cdef Py_ssize_t m = (last - first) // step + 1, length, u, w, t, i, j, s, c, best, best_s
    for length in range(2, m + 1):
        for u in range(m - length + 1):
            w = u + length - 1
            i = first + u * step
            j = min(first + (w + 1) * step, last + 1) - 1
            best = -1
            best_s = i
            for t in range(u, w):
                s = first + (t + 1) * step - 1
                # cost[i, j] = min_s cost[i, s] + cost[s + 1, j] + pair(i, s, j)
                c = _sat_add(_sat_add(cost[i * n + s], cost[(s + 1) * n + j]),
                             _pair_cost(dims, prefix, i, s, j))
                if best < 0 or c < best:
                    best = c
                    best_s = s
            cost[i * n + j] = best
            split[i * n + j] = best_s


cdef Py_ssize_t _blocks(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                        Py_ssize_t* cost, Py_ssize_t* split) noexcept nogil:
    """The DP inside blocks of PLAN_BLOCK links, then over the blocks (_plan._blocks)."""
    cdef Py_ssize_t start = 0, end, s
    while start < n:
        end = min(start + PLAN_BLOCK, n) - 1
        for s in range(start, end + 1):
            cost[s * n + s] = 0
            split[s * n + s] = s
        _dp_units(n, dims, prefix, start, 1, end, cost, split)
        start += PLAN_BLOCK
    _dp_units(n, dims, prefix, 0, PLAN_BLOCK, n - 1, cost, split)
    return cost[n - 1]


cdef inline bint _heap_less(const Py_ssize_t* x, const Py_ssize_t* y) noexcept nogil:
    """Entries (c, r, a, va, vb) ordered as _plan._greedy's tuples (c / max(r, 1), c, a,
    va, vb): the key is the same correctly rounded double while c and r are below 2^53."""
    cdef double kx = <double>x[0] / <double>(x[1] if x[1] > 1 else 1)
    cdef double ky = <double>y[0] / <double>(y[1] if y[1] > 1 else 1)
    if kx != ky:
        return kx < ky
    if x[0] != y[0]:
        return x[0] < y[0]
    if x[2] != y[2]:
        return x[2] < y[2]
    if x[3] != y[3]:
        return x[3] < y[3]
    return x[4] < y[4]


cdef void _heap_push(Py_ssize_t* heap, Py_ssize_t* size, Py_ssize_t c, Py_ssize_t r,
                     Py_ssize_t a, Py_ssize_t va, Py_ssize_t vb) noexcept nogil:
    """A binary min-heap of 5-entry rows: push, sifting up."""
    cdef Py_ssize_t k = size[0], parent, f, tmp
    cdef Py_ssize_t* e = heap + 5 * k
    e[0], e[1], e[2], e[3], e[4] = c, r, a, va, vb
    size[0] = k + 1
    while k > 0:
        parent = (k - 1) // 2
        if not _heap_less(heap + 5 * k, heap + 5 * parent):
            break
        for f in range(5):
            tmp = heap[5 * k + f]
            heap[5 * k + f] = heap[5 * parent + f]
            heap[5 * parent + f] = tmp
        k = parent


cdef void _heap_pop(Py_ssize_t* heap, Py_ssize_t* size, Py_ssize_t* top) noexcept nogil:
    """The least row into top (5 entries), sifting the last one down."""
    cdef Py_ssize_t k = 0, child, f, tmp, n
    for f in range(5):
        top[f] = heap[f]
    n = size[0] - 1
    size[0] = n
    for f in range(5):
        heap[f] = heap[5 * n + f]
    while True:
        child = 2 * k + 1
        if child >= n:
            break
        if child + 1 < n and _heap_less(heap + 5 * (child + 1), heap + 5 * child):
            child += 1
        if not _heap_less(heap + 5 * child, heap + 5 * k):
            break
        for f in range(5):
            tmp = heap[5 * k + f]
            heap[5 * k + f] = heap[5 * child + f]
            heap[5 * child + f] = tmp
        k = child


cdef inline void _greedy_push(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                              const Py_ssize_t* nxt, const Py_ssize_t* version,
                              Py_ssize_t a, Py_ssize_t* heap, Py_ssize_t* size) noexcept nogil:
    cdef Py_ssize_t b = nxt[a]
    if b < n:
        # the segments a..b-1 and b..nxt[b]-1: cost per unit of the size it eliminates
        _heap_push(heap, size, _pair_cost(dims, prefix, a, b - 1, nxt[b] - 1), dims[b], a,
                   version[a], version[b])


cdef Py_ssize_t _greedy(Py_ssize_t n, const Py_ssize_t* dims, const Py_ssize_t* prefix,
                        Py_ssize_t* work, Py_ssize_t* split) noexcept nogil:
    """Merge the adjacent pair of segments whose product is cheapest per unit of the size
    it eliminates until one is left (_plan._greedy, the same order of merges). work: 18 n
    entries of scratch. With split not NULL, the bracketing is written there."""
    cdef Py_ssize_t* nxt = work
    cdef Py_ssize_t* prv = work + n
    cdef Py_ssize_t* version = work + 2 * n
    cdef Py_ssize_t* top = work + 3 * n
    cdef Py_ssize_t* heap = work + 3 * n + 5
    cdef Py_ssize_t size = 0, total = 0, a, b
    for a in range(n):
        nxt[a], prv[a], version[a] = a + 1, a - 1, 0
    for a in range(n - 1):
        _greedy_push(n, dims, prefix, nxt, version, a, heap, &size)
    while size > 0:
        _heap_pop(heap, &size, top)
        a = top[2]
        b = nxt[a]
        if b >= n or version[a] != top[3] or version[b] != top[4]:
            continue                    # stale: a or its neighbour changed since
        total = _sat_add(total, top[0])
        if split != NULL:
            split[a * n + nxt[b] - 1] = b - 1
        version[a] += 1
        version[b] += 1
        nxt[a] = nxt[b]
        if nxt[b] < n:
            prv[nxt[b]] = a
        if prv[a] >= 0:
            _greedy_push(n, dims, prefix, nxt, version, prv[a], heap, &size)
        _greedy_push(n, dims, prefix, nxt, version, a, heap, &size)
    return total


cdef void chain_order(Py_ssize_t n,                 # IN  number of links
                      const Py_ssize_t* dims,       # IN  (n + 1,) d_0 .. d_n
                      const unsigned char* diag,    # IN  (n,) 1 for a Diagonal link
                      Py_ssize_t* prefix,           # OUT (n + 1,) scratch: Diagonal counts
                      Py_ssize_t* cost,             # OUT (n, n) fewest multiply-adds of J_j⋯J_i
                      Py_ssize_t* split,            # OUT (n, n) best s: (J_j⋯J_{s+1})(J_s⋯J_i)
                      ) noexcept nogil:
    """The plan of mcfast._plan.plan(order="optimal") for dense and Diagonal links.

    Up to PLAN_DP_MAX links the matrix-chain DP (CLRS §15.2), ties to the smallest split
    s: the whole tables. Longer chains take the cheapest of pure forward, pure reverse,
    the greedy pairing and the block DP, first of those on ties, as mcfast._plan: then
    cost[0, n-1] is its cost and split holds its bracketing along its own tree (what
    chain_steps follows); every other entry is scratch.
    """
    cdef Py_ssize_t i, k, best, c
    cdef int which = 0
    prefix[0] = 0
    for i in range(n):
        prefix[i + 1] = prefix[i] + diag[i]
        cost[i * n + i] = 0
        split[i * n + i] = i
    if n <= PLAN_DP_MAX:
        _dp_units(n, dims, prefix, 0, 1, n - 1, cost, split)
        return
    # forward: ((J2 J1) J3) ...; reverse: J_n (J_{n-1} (...))
    best = 0
    for k in range(1, n):
        best = _sat_add(best, _pair_cost(dims, prefix, 0, k - 1, k))
    c = 0
    for k in range(n - 2, -1, -1):
        c = _sat_add(c, _pair_cost(dims, prefix, k, k, n - 1))
    if c < best:
        best, which = c, 1
    c = _greedy(n, dims, prefix, cost + n, NULL)     # scratch: the rows below the first
    if c < best:
        best, which = c, 2
    c = _blocks(n, dims, prefix, cost, split)        # leaves its bracketing in split
    if c < best:
        best, which = c, 3
    if which == 0:
        for k in range(1, n):
            split[k] = k - 1                         # split[0, k]
    elif which == 1:
        for k in range(n - 2, -1, -1):
            split[k * n + n - 1] = k
    elif which == 2:
        _greedy(n, dims, prefix, cost + n, split)
    cost[n - 1] = best


cdef Py_ssize_t chain_steps(Py_ssize_t n,             # IN  number of links
                            const Py_ssize_t* split,  # IN  (n, n) from chain_order
                            Py_ssize_t* stack,        # OUT (8 n,) scratch
                            Py_ssize_t* steps,        # OUT (n - 1, 2) (left, right) ids
                            ) noexcept nogil:
    """The bracketing of a split table as post-order steps, without recursion: operand
    ids below n are links, n + t the result of step t (the layout of ChainPlan.steps).
    Returns the number of steps, n - 1.

    stack[0 : 6n] holds pending ranges (i, j, done) (at most 2 per tree level + 1);
    stack[7n : 8n] the operand ids of finished ranges.
    """
    cdef Py_ssize_t top = 1, nids = 0, nsteps = 0, i, j, s
    cdef Py_ssize_t* ids = stack + 7 * n
    stack[0], stack[1], stack[2] = 0, n - 1, 0
    while top > 0:
        top -= 1
        i, j = stack[3 * top], stack[3 * top + 1]
        if i == j:
            ids[nids] = i
            nids += 1
        elif stack[3 * top + 2]:
            # both halves done: the later range (s+1..j) finished last, on top
            steps[2 * nsteps] = ids[nids - 1]
            steps[2 * nsteps + 1] = ids[nids - 2]
            ids[nids - 2] = n + nsteps
            nids -= 1
            nsteps += 1
        else:
            s = split[i * n + j]
            stack[3 * top + 2] = 1
            stack[3 * top + 3], stack[3 * top + 4], stack[3 * top + 5] = s + 1, j, 0
            stack[3 * top + 6], stack[3 * top + 7], stack[3 * top + 8] = i, s, 0
            top += 3
    return nsteps


cdef Py_ssize_t _fixed_order(Py_ssize_t n, const Py_ssize_t* dims, const unsigned char* diag,
                             Py_ssize_t* prefix, Py_ssize_t* split,
                             bint reverse) noexcept nogil:
    """The pure forward ((J2 J1) J3 ...) or reverse (J_n (J_{n-1} (...))) bracketing in
    split (along its tree, for chain_steps) and its cost, saturating."""
    cdef Py_ssize_t i, k, total = 0
    prefix[0] = 0
    for i in range(n):
        prefix[i + 1] = prefix[i] + diag[i]
        split[i * n + i] = i
    if reverse:
        for k in range(n - 2, -1, -1):
            split[k * n + n - 1] = k
            total = _sat_add(total, _pair_cost(dims, prefix, k, k, n - 1))
    else:
        for k in range(1, n):
            split[k] = k - 1                         # split[0, k]
            total = _sat_add(total, _pair_cost(dims, prefix, 0, k - 1, k))
    return total


PLAN_MAX_LINKS = PLAN_TABLE_LINKS   # longest chain plan_dense takes (its (n, n) tables)


def plan_dense(const Py_ssize_t[::1] dims not None,         # IN  (n + 1,) d_0 .. d_n
               const unsigned char[::1] diag not None,      # IN  (n,) 1 for a Diagonal
               str order not None):                         # IN  optimal, forward, reverse
    """The plan of a chain of dense and Diagonal links, by the nogil planner (the one
    mcfast.kernels.chain_order runs): (multiply-adds, steps (n - 1, 2) of (left, right)
    operand ids in post-order), or None when a cost passes PY_SSIZE_T_MAX (held there: the
    caller plans in exact integers instead), n < 2 or n > PLAN_MAX_LINKS."""
    cdef Py_ssize_t n = diag.shape[0], total
    cdef int which
    if dims.shape[0] != n + 1:
        raise ValueError("plan_dense: dims must have one entry more than diag")
    which = 0 if order == "optimal" else 1 if order == "forward" else 2 \
        if order == "reverse" else -1
    if which < 0:
        raise ValueError(f"plan_dense: unknown order {order!r}")
    if n < 2 or n > PLAN_TABLE_LINKS:
        return None
    cdef Py_ssize_t[::1] prefix = np.empty(n + 1, dtype=np.intp)
    cdef Py_ssize_t[::1] cost = np.empty(n * n, dtype=np.intp)
    cdef Py_ssize_t[::1] split = np.empty(n * n, dtype=np.intp)
    cdef Py_ssize_t[::1] stack = np.empty(8 * n, dtype=np.intp)
    steps = np.empty((n - 1, 2), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] st = steps
    with nogil:
        if which == 0:
            chain_order(n, &dims[0], &diag[0], &prefix[0], &cost[0], &split[0])
            total = cost[n - 1]
        else:
            total = _fixed_order(n, &dims[0], &diag[0], &prefix[0], &split[0], which == 2)
        chain_steps(n, &split[0], &stack[0], &st[0, 0])
    if total == PY_SSIZE_T_MAX:
        return None
    return total, steps


# ---------------------------------------------------------------------------------------
# one product

cdef extern from *:
    """
    /* Small products C (m x n) = A (m x k) @ B (k x n), B and C with unit column stride.
       One kernel per width n = 1..16 keeps a row of C in registers (the compiler unrolls
       the fixed-width loops); wider rows take the generic loop. The dispatcher is cloned
       for AVX-512 / AVX2 / baseline and picked at load time (GCC target_clones), so the
       default build stays portable and still gets wide vectors. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
        && defined(__linux__) && !defined(MCFAST_NO_CLONES)
    #define MC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
    #else
    #define MC_CLONES
    #endif
    #define MC_GEMM_N(T, N)                                                               \
    static inline __attribute__((always_inline)) void mc_gemm_##T##_##N(                  \
            Py_ssize_t m, Py_ssize_t k, const T* __restrict a, Py_ssize_t ars,            \
            Py_ssize_t acs, const T* __restrict b, Py_ssize_t brs, T* __restrict c,       \
            Py_ssize_t ldc) {                                                             \
        for (Py_ssize_t i = 0; i < m; i++) {                                              \
            T acc[N], acc2[N];        /* two accumulators: half the FMA latency chain */  \
            const T* ai = a + i * ars;                                                    \
            Py_ssize_t p = 0;                                                             \
            for (int j = 0; j < N; j++) { acc[j] = 0; acc2[j] = 0; }                      \
            for (; p + 1 < k; p += 2) {                                                   \
                const T a0 = ai[p * acs], a1 = ai[(p + 1) * acs];                         \
                const T* b0 = b + p * brs;                                                \
                const T* b1 = b0 + brs;                                                   \
                for (int j = 0; j < N; j++) { acc[j] += a0 * b0[j]; acc2[j] += a1 * b1[j]; } \
            }                                                                             \
            if (p < k) {                                                                  \
                const T a0 = ai[p * acs];                                                 \
                const T* b0 = b + p * brs;                                                \
                for (int j = 0; j < N; j++) acc[j] += a0 * b0[j];                         \
            }                                                                             \
            for (int j = 0; j < N; j++) c[i * ldc + j] = acc[j] + acc2[j];                \
        }                                                                                 \
    }
    #define MC_GEMM_ALL(T)                                                                \
    MC_GEMM_N(T, 1) MC_GEMM_N(T, 2) MC_GEMM_N(T, 3) MC_GEMM_N(T, 4) MC_GEMM_N(T, 5)       \
    MC_GEMM_N(T, 6) MC_GEMM_N(T, 7) MC_GEMM_N(T, 8) MC_GEMM_N(T, 9) MC_GEMM_N(T, 10)      \
    MC_GEMM_N(T, 11) MC_GEMM_N(T, 12) MC_GEMM_N(T, 13) MC_GEMM_N(T, 14) MC_GEMM_N(T, 15)  \
    MC_GEMM_N(T, 16)                                                                      \
    MC_CLONES static void mc_small_gemm_##T(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,     \
            const T* a, Py_ssize_t ars, Py_ssize_t acs, const T* b, Py_ssize_t brs,       \
            T* c, Py_ssize_t ldc) {                                                       \
        switch (n) {                                                                      \
        case 1: mc_gemm_##T##_1(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 2: mc_gemm_##T##_2(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 3: mc_gemm_##T##_3(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 4: mc_gemm_##T##_4(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 5: mc_gemm_##T##_5(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 6: mc_gemm_##T##_6(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 7: mc_gemm_##T##_7(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 8: mc_gemm_##T##_8(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 9: mc_gemm_##T##_9(m, k, a, ars, acs, b, brs, c, ldc); return;               \
        case 10: mc_gemm_##T##_10(m, k, a, ars, acs, b, brs, c, ldc); return;             \
        case 11: mc_gemm_##T##_11(m, k, a, ars, acs, b, brs, c, ldc); return;             \
        case 12: mc_gemm_##T##_12(m, k, a, ars, acs, b, brs, c, ldc); return;             \
        case 13: mc_gemm_##T##_13(m, k, a, ars, acs, b, brs, c, ldc); return;             \
        case 14: mc_gemm_##T##_14(m, k, a, ars, acs, b, brs, c, ldc); return;             \
        case 15: mc_gemm_##T##_15(m, k, a, ars, acs, b, brs, c, ldc); return;             \
        case 16: mc_gemm_##T##_16(m, k, a, ars, acs, b, brs, c, ldc); return;             \
        }                                                                                 \
        for (Py_ssize_t i = 0; i < m; i++) {                                              \
            T* ci = c + i * ldc;                                                          \
            for (Py_ssize_t j = 0; j < n; j++) ci[j] = 0;                                 \
            for (Py_ssize_t p = 0; p < k; p++) {                                          \
                const T aip = a[i * ars + p * acs];                                       \
                const T* bp = b + p * brs;                                                \
                for (Py_ssize_t j = 0; j < n; j++) ci[j] += aip * bp[j];                  \
            }                                                                             \
        }                                                                                 \
    }
    /* The same product for a block of samples: sample s reads A at a + aoff[s * ostride]
       (or a + s * ald when aoff is NULL), B likewise, and writes C at c + s * cld. The
       width dispatch happens once per block. */
    #define MC_GEMM_BLOCK_CASE(T, N) case N:                                              \
        if (N <= 4 && m == N && k == N) {  /* tiny square links: every loop unrolled */   \
            for (Py_ssize_t s = 0; s < ns; s++)                                           \
                mc_gemm_##T##_##N(N, N, a + (aoff ? aoff[s * ostride] : s * ald), ars,    \
                                  acs, b + (boff ? boff[s * ostride] : s * bld), brs,     \
                                  c + s * cld, ldc);                                      \
            return;                                                                       \
        }                                                                                 \
        for (Py_ssize_t s = 0; s < ns; s++)                                               \
            mc_gemm_##T##_##N(m, k, a + (aoff ? aoff[s * ostride] : s * ald), ars, acs,   \
                              b + (boff ? boff[s * ostride] : s * bld), brs,              \
                              c + s * cld, ldc);                                          \
        return;
    #define MC_GEMM_BLOCK(T)                                                              \
    MC_CLONES static void mc_gemm_block_##T(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n,    \
            Py_ssize_t k, const T* a, const Py_ssize_t* aoff, Py_ssize_t ald,             \
            Py_ssize_t ars, Py_ssize_t acs, const T* b, const Py_ssize_t* boff,           \
            Py_ssize_t bld, Py_ssize_t brs, Py_ssize_t ostride, T* c, Py_ssize_t cld,     \
            Py_ssize_t ldc) {                                                             \
        switch (n) {                                                                      \
        MC_GEMM_BLOCK_CASE(T, 1) MC_GEMM_BLOCK_CASE(T, 2) MC_GEMM_BLOCK_CASE(T, 3)        \
        MC_GEMM_BLOCK_CASE(T, 4) MC_GEMM_BLOCK_CASE(T, 5) MC_GEMM_BLOCK_CASE(T, 6)        \
        MC_GEMM_BLOCK_CASE(T, 7) MC_GEMM_BLOCK_CASE(T, 8) MC_GEMM_BLOCK_CASE(T, 9)        \
        MC_GEMM_BLOCK_CASE(T, 10) MC_GEMM_BLOCK_CASE(T, 11) MC_GEMM_BLOCK_CASE(T, 12)     \
        MC_GEMM_BLOCK_CASE(T, 13) MC_GEMM_BLOCK_CASE(T, 14) MC_GEMM_BLOCK_CASE(T, 15)     \
        MC_GEMM_BLOCK_CASE(T, 16)                                                         \
        }                                                                                 \
        for (Py_ssize_t s = 0; s < ns; s++)                                               \
            mc_small_gemm_##T(m, n, k, a + (aoff ? aoff[s * ostride] : s * ald), ars, acs, \
                              b + (boff ? boff[s * ostride] : s * bld), brs,              \
                              c + s * cld, ldc);                                          \
    }
    MC_GEMM_ALL(double)
    MC_GEMM_ALL(float)
    MC_GEMM_BLOCK(double)
    MC_GEMM_BLOCK(float)
    """
    void mc_gemm_block_double(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                              const double* a, const Py_ssize_t* aoff, Py_ssize_t ald,
                              Py_ssize_t ars, Py_ssize_t acs, const double* b,
                              const Py_ssize_t* boff, Py_ssize_t bld, Py_ssize_t brs,
                              Py_ssize_t ostride, double* c, Py_ssize_t cld,
                              Py_ssize_t ldc) noexcept nogil
    void mc_gemm_block_float(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                             const float* a, const Py_ssize_t* aoff, Py_ssize_t ald,
                             Py_ssize_t ars, Py_ssize_t acs, const float* b,
                             const Py_ssize_t* boff, Py_ssize_t bld, Py_ssize_t brs,
                             Py_ssize_t ostride, float* c, Py_ssize_t cld,
                             Py_ssize_t ldc) noexcept nogil
    void mc_small_gemm_double(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                              const double* a, Py_ssize_t ars, Py_ssize_t acs,
                              const double* b, Py_ssize_t brs,
                              double* c, Py_ssize_t ldc) noexcept nogil
    void mc_small_gemm_float(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                             const float* a, Py_ssize_t ars, Py_ssize_t acs,
                             const float* b, Py_ssize_t brs,
                             float* c, Py_ssize_t ldc) noexcept nogil


cdef void small_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     const floating* a, Py_ssize_t ars, Py_ssize_t acs,   # IN  A (m, k)
                     const floating* b, Py_ssize_t brs, Py_ssize_t bcs,   # IN  B (k, n)
                     floating* c, Py_ssize_t ldc,                         # OUT C (m, n)
                     ) noexcept nogil:
    """C = A @ B for small matrices (C must not overlap A or B): a row of C in registers."""
    cdef Py_ssize_t i, j, p
    cdef floating aip
    cdef floating* crow
    if bcs == 1:
        # C = A @ B
        if floating is double:
            mc_small_gemm_double(m, n, k, a, ars, acs, b, brs, c, ldc)
        else:
            mc_small_gemm_float(m, n, k, a, ars, acs, b, brs, c, ldc)
        return
    for i in range(m):          # B with a non-unit column stride (a transposed link)
        crow = c + i * ldc
        for j in range(n):
            crow[j] = 0
        for p in range(k):
            aip = a[i * ars + p * acs]
            for j in range(n):
                crow[j] += aip * b[p * brs + j * bcs]


cdef inline void blas_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                           const floating* a, Py_ssize_t ars, Py_ssize_t acs,
                           const floating* b, Py_ssize_t brs, Py_ssize_t bcs,
                           floating* c, Py_ssize_t ldc) noexcept nogil:
    """C = A @ B through BLAS; an operand with unit row stride goes as a transpose."""
    cdef BlasTrans ta = NoTrans, tb = NoTrans
    cdef Py_ssize_t lda = ars, ldb = brs
    if acs != 1:
        ta, lda = Trans, acs
    if bcs != 1:
        tb, ldb = Trans, bcs
    # C = A @ B
    gemm(ta, tb, m, n, k, <floating>1, a, lda, b, ldb, <floating>0, c, ldc)


cdef inline void scale_rows(Py_ssize_t m, Py_ssize_t n,
                            const floating* d, Py_ssize_t ds,                    # IN  (m,)
                            const floating* b, Py_ssize_t brs, Py_ssize_t bcs,   # IN  (m, n)
                            floating* c, Py_ssize_t ldc) noexcept nogil:         # OUT (m, n)
    """C = diag(d) @ B (C may be B itself when B is C-contiguous with ld = ldc)."""
    cdef Py_ssize_t i, j
    cdef floating di
    for i in range(m):
        di = d[i * ds]
        if bcs == 1:
            for j in range(n):
                c[i * ldc + j] = di * b[i * brs + j]
        else:
            for j in range(n):
                c[i * ldc + j] = di * b[i * brs + j * bcs]


cdef inline void scale_cols(Py_ssize_t m, Py_ssize_t n,
                            const floating* a, Py_ssize_t ars, Py_ssize_t acs,   # IN  (m, n)
                            const floating* d, Py_ssize_t ds,                    # IN  (n,)
                            floating* c, Py_ssize_t ldc) noexcept nogil:         # OUT (m, n)
    """C = A @ diag(d) (C may be A itself when A is C-contiguous with ld = ldc)."""
    cdef Py_ssize_t i, j
    for i in range(m):
        if acs == 1 and ds == 1:
            for j in range(n):
                c[i * ldc + j] = a[i * ars + j] * d[j]
        else:
            for j in range(n):
                c[i * ldc + j] = a[i * ars + j * acs] * d[j * ds]


# ---------------------------------------------------------------------------------------
# one sample of a chain

cdef Py_ssize_t chain_layout(Py_ssize_t n,              # IN  number of links
                             const Py_ssize_t* dims,    # IN  (n + 1,) d_0 .. d_n
                             const unsigned char* diag, # IN  (n,) 1 for a Diagonal link
                             const Py_ssize_t* steps,   # IN  (n - 1, 2) (left, right) ids
                             Py_ssize_t* layout,        # OUT (n - 1, NLAYOUTCOL)
                             ) noexcept nogil:
    """The scratch layout of a plan's steps: each product's shape, whether it is diagonal,
    and the offset of its block in one sample's scratch (-1: the last, into the output).

    Steps come in post-order; each product gets a block for its result; a block is reused
    once its product has been consumed (first fit, in step order), and a scaling by a
    Diagonal of an intermediate of the result's size works in place. Returns the scratch
    entries of one sample, or -1 when the steps are not a bracketing of the chain (an id
    not yet made, an operand used twice, shapes that do not meet, a last product that is
    not d_n × d_0)."""
    cdef Py_ssize_t t, u, side, ident, m, k, nn, size, dst, reuse, top = 0, r, c
    cdef Py_ssize_t ids[2]
    cdef Py_ssize_t rows[2]
    cdef Py_ssize_t cols[2]
    cdef bint isdiag[2]
    cdef Py_ssize_t* row
    for t in range(n - 1):
        ids[0], ids[1] = steps[2 * t], steps[2 * t + 1]
        for side in range(2):
            ident = ids[side]
            if ident < 0 or ident >= n + t or ids[0] == ids[1]:
                return -1
            if ident < n:
                rows[side], cols[side], isdiag[side] = dims[ident + 1], dims[ident], diag[ident]
            else:
                row = layout + (ident - n) * NLAYOUTCOL
                if row[L_FLAGS] & L_USED:
                    return -1                   # an intermediate consumed twice
                rows[side], cols[side] = row[L_ROWS], row[L_COLS]
                isdiag[side] = row[L_FLAGS] & L_DIAG
        if rows[1] != cols[0]:
            return -1
        m, k, nn = rows[0], cols[0], cols[1]
        size = m if isdiag[0] and isdiag[1] else m * nn
        reuse, dst = -1, -1
        if t != n - 2:
            if isdiag[0] or isdiag[1]:
                # elementwise: an intermediate operand of the result's size can be dst
                for side in range(1, -1, -1):
                    ident = ids[side]
                    if ident >= n and reuse < 0:
                        row = layout + (ident - n) * NLAYOUTCOL
                        r, c = row[L_ROWS], row[L_COLS]
                        if (r if row[L_FLAGS] & L_DIAG else r * c) == size:
                            reuse, dst = ident, row[L_DST]
            if reuse < 0:
                for u in range(t):
                    row = layout + u * NLAYOUTCOL
                    r, c = row[L_ROWS], row[L_COLS]
                    if row[L_FLAGS] & L_FREE and (r if row[L_FLAGS] & L_DIAG
                                                  else r * c) >= size:
                        row[L_FLAGS] &= ~L_FREE     # taken: step t owns the block now
                        dst = row[L_DST]
                        break
                else:
                    dst, top = top, top + size
        for side in range(2):
            ident = ids[side]
            if ident >= n:
                row = layout + (ident - n) * NLAYOUTCOL
                row[L_FLAGS] |= L_USED if ident == reuse else L_USED | L_FREE
        row = layout + t * NLAYOUTCOL
        row[L_ROWS], row[L_COLS], row[L_DST] = m, nn, dst
        row[L_FLAGS] = L_DIAG if isdiag[0] and isdiag[1] else 0
    if n > 1:
        row = layout + (n - 2) * NLAYOUTCOL
        if row[L_ROWS] != dims[n] or row[L_COLS] != dims[0]:
            return -1
    return top


cdef inline void batch_offsets(Py_ssize_t b, Py_ssize_t nops, Py_ssize_t nb,
                               const Py_ssize_t* bshape, const Py_ssize_t* bstr,
                               Py_ssize_t* offs) noexcept nogil:
    """offs[k] = element offset of sample b (flat index into the batch) in operand k."""
    cdef Py_ssize_t k, a, i, rem
    if nb == 1:
        for k in range(nops):
            offs[k] = b * bstr[k]
        return
    for k in range(nops):
        offs[k] = 0
    rem = b
    for a in range(nb - 1, -1, -1):
        i = rem % bshape[a]
        rem = rem // bshape[a]
        for k in range(nops):
            offs[k] += i * bstr[k * nb + a]


ctypedef struct _Operand:
    Py_ssize_t rows, cols, rs, cs   # shape and element strides
    Py_ssize_t off                  # offset from base: a link's in its array, an
                                    # intermediate's in one sample's scratch
    bint diag
    bint link                       # a link of the chain (else an intermediate)
    const void* base                # a link's data address (NULL for an intermediate)


cdef inline void _operand(Py_ssize_t ident, const _Program* p, const Py_ssize_t* offs,
                          _Operand* o) noexcept nogil:
    """Where operand `ident` of a program is and what it is; offs: the sample's batch
    offsets of the links (NULL: none)."""
    cdef const Py_ssize_t* row
    if ident < p.nlinks:
        o.link, o.base = True, <const void*>p.addr[ident]
        o.rows, o.cols = p.dims[ident + 1], p.dims[ident]
        o.off = offs[ident] if offs != NULL else 0
        if p.meta != NULL:
            o.rs, o.cs = p.meta[ident * NMETACOL + M_RS], p.meta[ident * NMETACOL + M_CS]
            o.diag = p.meta[ident * NMETACOL + M_DIAG]
        else:           # packed links: C-contiguous
            o.rs, o.cs, o.diag = o.cols, 1, p.diag[ident]
    else:               # an intermediate: C-contiguous in scratch
        row = p.layout + (ident - p.nlinks) * NLAYOUTCOL
        o.link, o.base = False, NULL
        o.rows, o.cols, o.off = row[L_ROWS], row[L_COLS], row[L_DST]
        o.rs, o.cs, o.diag = o.cols, 1, row[L_FLAGS] & L_DIAG


cdef void run_step(Py_ssize_t m, Py_ssize_t k, Py_ssize_t n, bint ldiag, bint rdiag,
                          const floating* lp, Py_ssize_t lrs, Py_ssize_t lcs,    # IN  left
                          const floating* rp, Py_ssize_t rrs, Py_ssize_t rcs,    # IN  right
                          floating* dp) noexcept nogil:                          # OUT (m, n)
    """One product of a chain program for one sample: (m × k) @ (k × n), either side
    diagonal; a dense product of at most SMALL_MM_WORK multiply-adds by a hand loop."""
    cdef Py_ssize_t i
    if ldiag and rdiag:
        # dst = l * r
        for i in range(n):
            dp[i] = lp[i * lcs] * rp[i * rcs]
    elif ldiag:
        # dst = l[:, None] * R
        scale_rows(m, n, lp, lcs, rp, rrs, rcs, dp, n)
    elif rdiag:
        # dst = L * r[None, :]
        scale_cols(m, n, lp, lrs, lcs, rp, rcs, dp, n)
    elif m * k * n <= SMALL_MM_WORK:
        # dst = L @ R
        small_gemm(m, n, k, lp, lrs, lcs, rp, rrs, rcs, dp, n)
    else:
        blas_gemm(m, n, k, lp, lrs, lcs, rp, rrs, rcs, dp, n)


cdef void chain_sample(Py_ssize_t b,                # IN  sample (flat batch index)
                       const _Program* p,           # IN  the program and its links
                       Py_ssize_t* offs,            # OUT (nlinks,) scratch (NULL: nb == 0)
                       floating* scratch,           # OUT this sample's intermediates
                       floating* out,               # OUT this sample's product
                       ) noexcept nogil:
    """Run the program of a chain product on sample b."""
    cdef Py_ssize_t t
    cdef _Operand lo, ro
    cdef const Py_ssize_t* row
    if offs != NULL:
        batch_offsets(b, p.nlinks, p.nb, p.bshape, p.bstr, offs)
    for t in range(p.nlinks - 1):
        _operand(p.steps[2 * t], p, offs, &lo)
        _operand(p.steps[2 * t + 1], p, offs, &ro)
        row = p.layout + t * NLAYOUTCOL
        run_step(lo.rows, lo.cols, ro.cols, lo.diag, ro.diag,
                 (<const floating*>lo.base if lo.link else scratch) + lo.off, lo.rs, lo.cs,
                 (<const floating*>ro.base if ro.link else scratch) + ro.off, ro.rs, ro.cs,
                 out if row[L_DST] < 0 else scratch + row[L_DST])


cdef void chain_block(Py_ssize_t b0,                # IN  first sample of the block
                      Py_ssize_t ns,                # IN  samples in the block (<= VBLOCK)
                      const _Program* p,            # IN  the program and its links
                      Py_ssize_t sample_scratch,    # IN  scratch elements of one sample
                      Py_ssize_t out_size,          # IN  elements of one sample's result
                      Py_ssize_t* offs,             # OUT (VBLOCK, nlinks) scratch
                      floating* scratch,            # OUT (VBLOCK, sample_scratch)
                      floating* out,                # OUT (ns, out_size) the block's products
                      ) noexcept nogil:
    """A block of samples of a chain program, one step at a time for the whole block: a
    small dense product runs the block through one fixed-width kernel."""
    cdef Py_ssize_t s, t, nlinks = p.nlinks, lld, rld, dld
    cdef _Operand lo, ro
    cdef const Py_ssize_t* loff
    cdef const Py_ssize_t* roff
    cdef const Py_ssize_t* row
    cdef const floating* lp
    cdef const floating* rp
    cdef floating* dp
    for s in range(ns):
        batch_offsets(b0 + s, nlinks, p.nb, p.bshape, p.bstr, offs + s * nlinks)
    for t in range(nlinks - 1):
        _operand(p.steps[2 * t], p, NULL, &lo)
        _operand(p.steps[2 * t + 1], p, NULL, &ro)
        # a link's sample s is at its base + offs[s, id]; an intermediate's at
        # scratch + off + s * sample_scratch
        if lo.link:
            lp, loff, lld = <const floating*>lo.base, offs + p.steps[2 * t], 0
        else:
            lp, loff, lld = scratch + lo.off, NULL, sample_scratch
        if ro.link:
            rp, roff, rld = <const floating*>ro.base, offs + p.steps[2 * t + 1], 0
        else:
            rp, roff, rld = scratch + ro.off, NULL, sample_scratch
        row = p.layout + t * NLAYOUTCOL
        if row[L_DST] < 0:
            dp, dld = out, out_size
        else:
            dp, dld = scratch + row[L_DST], sample_scratch
        if (not lo.diag and not ro.diag and ro.cs == 1
                and lo.rows * lo.cols * ro.cols <= SMALL_MM_WORK):
            # dst_s = L_s @ R_s for every sample s of the block
            if floating is double:
                mc_gemm_block_double(ns, lo.rows, ro.cols, lo.cols, lp, loff, lld, lo.rs,
                                     lo.cs, rp, roff, rld, ro.rs, nlinks, dp, dld, ro.cols)
            else:
                mc_gemm_block_float(ns, lo.rows, ro.cols, lo.cols, lp, loff, lld, lo.rs,
                                    lo.cs, rp, roff, rld, ro.rs, nlinks, dp, dld, ro.cols)
        else:
            for s in range(ns):
                run_step(lo.rows, lo.cols, ro.cols, lo.diag, ro.diag,
                         lp + (loff[s * nlinks] if loff != NULL else s * lld), lo.rs, lo.cs,
                         rp + (roff[s * nlinks] if roff != NULL else s * rld), ro.rs, ro.cs,
                         dp + s * dld)


cdef extern from *:
    """
    /* Vector chains on a block of samples: one step (one link) for every sample of the
       block, so the dispatch on the width happens once per block and the samples' short
       FMA chains overlap. A sample's matrix is at a + aoff[s * ostride]; its input vector
       at x + xoff[s * ostride] (stride xs) or, when xoff is NULL, at x + s * xld. */
    #define MC_VEC_N(T, N)                                                                \
    static inline __attribute__((always_inline)) void mc_vgrad_##T##_##N(                 \
            Py_ssize_t ns, Py_ssize_t rows, const T* a, const Py_ssize_t* aoff,           \
            Py_ssize_t ostride, Py_ssize_t rs, const T* x, const Py_ssize_t* xoff,        \
            Py_ssize_t xs, Py_ssize_t xld, T* y, Py_ssize_t yld) {                         \
        for (Py_ssize_t s = 0; s < ns; s++) {      /* y_s = A_sᵀ x_s = x_sᵀ A_s */        \
            const T* as = a + aoff[s * ostride];                                          \
            const T* xv = xoff ? x + xoff[s * ostride] : x + s * xld;                     \
            T acc[N], acc2[N];                                                            \
            Py_ssize_t p = 0;                                                             \
            for (int j = 0; j < N; j++) { acc[j] = 0; acc2[j] = 0; }                      \
            for (; p + 1 < rows; p += 2) {                                                \
                const T x0 = xv[p * xs], x1 = xv[(p + 1) * xs];                           \
                const T* a0 = as + p * rs;                                                \
                const T* a1 = a0 + rs;                                                    \
                for (int j = 0; j < N; j++) { acc[j] += x0 * a0[j]; acc2[j] += x1 * a1[j]; } \
            }                                                                             \
            if (p < rows) {                                                               \
                const T x0 = xv[p * xs];                                                  \
                const T* a0 = as + p * rs;                                                \
                for (int j = 0; j < N; j++) acc[j] += x0 * a0[j];                         \
            }                                                                             \
            for (int j = 0; j < N; j++) y[s * yld + j] = acc[j] + acc2[j];                \
        }                                                                                 \
    }                                                                                     \
    static inline __attribute__((always_inline)) void mc_vtan_##T##_##N(                  \
            Py_ssize_t ns, Py_ssize_t rows, const T* a, const Py_ssize_t* aoff,           \
            Py_ssize_t ostride, Py_ssize_t rs, const T* x, const Py_ssize_t* xoff,        \
            Py_ssize_t xs, Py_ssize_t xld, T* y, Py_ssize_t yld) {                         \
        for (Py_ssize_t s = 0; s < ns; s++) {      /* y_s = A_s x_s */                    \
            const T* as = a + aoff[s * ostride];                                          \
            const T* xv = xoff ? x + xoff[s * ostride] : x + s * xld;                     \
            T xr[N];                                                                      \
            for (int j = 0; j < N; j++) xr[j] = xv[j * xs];                               \
            for (Py_ssize_t i = 0; i < rows; i++) {                                       \
                const T* ai = as + i * rs;                                                \
                T acc = 0;                                                                \
                for (int j = 0; j < N; j++) acc += ai[j] * xr[j];                         \
                y[s * yld + i] = acc;                                                     \
            }                                                                             \
        }                                                                                 \
    }
    #define MC_VEC_CASE(T, N) case N:                                                     \
        if (grad) mc_vgrad_##T##_##N(ns, rows, a, aoff, ostride, rs, x, xoff, xs, xld, y, yld); \
        else mc_vtan_##T##_##N(ns, rows, a, aoff, ostride, rs, x, xoff, xs, xld, y, yld);  \
        return 1;
    #define MC_VEC_ALL(T)                                                                 \
    MC_VEC_N(T, 1) MC_VEC_N(T, 2) MC_VEC_N(T, 3) MC_VEC_N(T, 4) MC_VEC_N(T, 5)            \
    MC_VEC_N(T, 6) MC_VEC_N(T, 7) MC_VEC_N(T, 8) MC_VEC_N(T, 9) MC_VEC_N(T, 10)           \
    MC_VEC_N(T, 11) MC_VEC_N(T, 12) MC_VEC_N(T, 13) MC_VEC_N(T, 14) MC_VEC_N(T, 15)       \
    MC_VEC_N(T, 16)                                                                       \
    /* 1 when done; 0 when the width (cols) is not 1..16: the caller loops per sample */   \
    MC_CLONES static int mc_vec_block_##T(int grad, Py_ssize_t ns, Py_ssize_t rows,       \
            Py_ssize_t cols, const T* a, const Py_ssize_t* aoff, Py_ssize_t ostride,      \
            Py_ssize_t rs, const T* x, const Py_ssize_t* xoff, Py_ssize_t xs,             \
            Py_ssize_t xld, T* y, Py_ssize_t yld) {                                       \
        switch (cols) {                                                                   \
        MC_VEC_CASE(T, 1) MC_VEC_CASE(T, 2) MC_VEC_CASE(T, 3) MC_VEC_CASE(T, 4)           \
        MC_VEC_CASE(T, 5) MC_VEC_CASE(T, 6) MC_VEC_CASE(T, 7) MC_VEC_CASE(T, 8)           \
        MC_VEC_CASE(T, 9) MC_VEC_CASE(T, 10) MC_VEC_CASE(T, 11) MC_VEC_CASE(T, 12)        \
        MC_VEC_CASE(T, 13) MC_VEC_CASE(T, 14) MC_VEC_CASE(T, 15) MC_VEC_CASE(T, 16)       \
        }                                                                                 \
        return 0;                                                                         \
    }
    MC_VEC_ALL(double)
    MC_VEC_ALL(float)
    """
    int mc_vec_block_double(int grad, Py_ssize_t ns, Py_ssize_t rows, Py_ssize_t cols,
                            const double* a, const Py_ssize_t* aoff, Py_ssize_t ostride,
                            Py_ssize_t rs, const double* x, const Py_ssize_t* xoff,
                            Py_ssize_t xs, Py_ssize_t xld, double* y,
                            Py_ssize_t yld) noexcept nogil
    int mc_vec_block_float(int grad, Py_ssize_t ns, Py_ssize_t rows, Py_ssize_t cols,
                           const float* a, const Py_ssize_t* aoff, Py_ssize_t ostride,
                           Py_ssize_t rs, const float* x, const Py_ssize_t* xoff,
                           Py_ssize_t xs, Py_ssize_t xld, float* y,
                           Py_ssize_t yld) noexcept nogil


cdef void vector_one(bint grad, Py_ssize_t rows, Py_ssize_t cols, bint diag,
                            bint small, const floating* a, Py_ssize_t rs, Py_ssize_t cs,
                            const floating* x, Py_ssize_t xs, floating* y) noexcept nogil:
    """One sample, one link: y = Aᵀ x (grad) or A x (tangent); y = a * x for a Diagonal."""
    cdef Py_ssize_t i
    if diag:
        # y = a * x
        for i in range(rows):
            y[i] = a[i * cs] * x[i * xs]
    elif grad and small:
        # y = A.T @ x, as the row vector xᵀ A (1 × cols)
        small_gemm(1, cols, rows, x, 0, xs, a, rs, cs, y, cols)
    elif small:
        # y = A @ x, as the column A (rows × cols) @ x (cols × 1)
        small_gemm(rows, 1, cols, a, rs, cs, x, xs, 1, y, 1)
    elif cs == 1:
        # y = A @ x, or A.T @ x
        gemv(Trans if grad else NoTrans, rows, cols, <floating>1, a, rs, x, xs,
             <floating>0, y, 1)
    else:           # unit row stride: A is the row-major storage of Aᵀ (cols, rows)
        gemv(NoTrans if grad else Trans, cols, rows, <floating>1, a, cs, x, xs,
             <floating>0, y, 1)


cdef void vector_block(Py_ssize_t b0,               # IN  first sample of the block
                       Py_ssize_t ns,               # IN  samples in the block (<= VBLOCK)
                       bint grad,                   # IN  1: J1ᵀ(⋯(Jnᵀ v)); 0: Jn(⋯(J1 v))
                       Py_ssize_t nlinks,
                       const Py_ssize_t* addr,      # IN  (nlinks + 1,) links, then the vector
                       const Py_ssize_t* meta,      # IN  (nlinks + 1, NMETACOL)
                       Py_ssize_t nb,
                       const Py_ssize_t* bshape,    # IN  (nb,)
                       const Py_ssize_t* bstr,      # IN  (nlinks + 1, nb)
                       const Py_ssize_t* dims,      # IN  (nlinks + 1,) d_0 .. d_n
                       Py_ssize_t maxd,             # IN  max(dims)
                       Py_ssize_t* offs,            # OUT (VBLOCK, nlinks + 1) scratch
                       floating* scratch,           # OUT (2, VBLOCK, maxd) ping-pong vectors
                       floating* out,               # OUT (ns, d_0 or d_n) the block's result
                       ) noexcept nogil:
    """A block of samples of a vector chain: matrix-vector products only, Σ d_k d_{k-1}
    multiply-adds per sample, one link at a time for the whole block."""
    cdef Py_ssize_t nops = nlinks + 1, step, k, s, rows, cols, rs, cs, xs, xld, yld
    cdef Py_ssize_t turn = 0
    cdef const Py_ssize_t* mk
    cdef const Py_ssize_t* xoff
    cdef const floating* a
    cdef const floating* x
    cdef floating* y
    cdef int done
    for s in range(ns):
        batch_offsets(b0 + s, nops, nb, bshape, bstr, offs + s * nops)
    # the block's input vectors: per-sample offsets into the user's array
    x = <const floating*>addr[nlinks]
    xoff = offs + nlinks
    xs = meta[nlinks * NMETACOL + M_CS]
    xld = 0
    for step in range(nlinks):
        k = nlinks - 1 - step if grad else step
        rows, cols = dims[k + 1], dims[k]
        mk = meta + k * NMETACOL
        a = <const floating*>addr[k]
        rs, cs = mk[M_RS], mk[M_CS]
        yld = cols if grad else rows
        y = out if step == nlinks - 1 else scratch + turn * VBLOCK * maxd
        if step < nlinks - 1:
            yld = maxd
        turn = 1 - turn
        done = 0
        if mk[M_SMALL] and not mk[M_DIAG] and cs == 1:
            if floating is double:
                done = mc_vec_block_double(grad, ns, rows, cols, a, offs + k, nops, rs,
                                           x, xoff, xs, xld, y, yld)
            else:
                done = mc_vec_block_float(grad, ns, rows, cols, a, offs + k, nops, rs,
                                          x, xoff, xs, xld, y, yld)
        if not done:
            for s in range(ns):
                vector_one(grad, rows, cols, mk[M_DIAG], mk[M_SMALL], a + offs[s * nops + k],
                           rs, cs, (x + xoff[s * nops]) if xoff != NULL else (x + s * xld),
                           xs, y + s * yld)
        x, xoff, xs, xld = y, NULL, 1, yld


# ---------------------------------------------------------------------------------------
# the batch over threads: each sample's chain is computed whole by one thread, so the
# results do not depend on the thread count

ctypedef struct _Batch:
    Py_ssize_t nsamples, nblocks, ntasks, nlinks, nb, sample_scratch, out_size, maxd
    bint grad
    _Program prog           # chain products (the vector chains read the fields below)
    const Py_ssize_t* addr
    const Py_ssize_t* meta
    const Py_ssize_t* bshape
    const Py_ssize_t* bstr
    const Py_ssize_t* dims
    Py_ssize_t* offs        # (nthreads, offs_ld)
    Py_ssize_t offs_ld
    void* scratch           # (nthreads, scratch_ld) of the dtype
    Py_ssize_t scratch_ld
    void* out


cdef inline void _batch_range(_Batch* c, Py_ssize_t q, int tid, bint vector,
                              floating* tag) noexcept nogil:
    """Blocks q·nblocks/ntasks .. of the batch (VBLOCK samples each), on thread tid."""
    cdef Py_ssize_t b, b0 = q * c.nblocks // c.ntasks, b1 = (q + 1) * c.nblocks // c.ntasks
    cdef Py_ssize_t* offs = c.offs + tid * c.offs_ld
    cdef floating* scratch = <floating*>c.scratch + tid * c.scratch_ld
    cdef floating* out = <floating*>c.out
    for b in range(b0, b1):
        if vector:
            vector_block(b * VBLOCK, min(VBLOCK, c.nsamples - b * VBLOCK), c.grad, c.nlinks,
                         c.addr, c.meta, c.nb, c.bshape, c.bstr, c.dims, c.maxd, offs,
                         scratch, out + b * VBLOCK * c.out_size)
        else:
            chain_block(b * VBLOCK, min(VBLOCK, c.nsamples - b * VBLOCK), &c.prog,
                        c.sample_scratch, c.out_size, offs, scratch,
                        out + b * VBLOCK * c.out_size)


cdef void _chain_task_d(void* c, Py_ssize_t q, int tid) noexcept nogil:
    _batch_range(<_Batch*>c, q, tid, False, <double*>NULL)


cdef void _chain_task_f(void* c, Py_ssize_t q, int tid) noexcept nogil:
    _batch_range(<_Batch*>c, q, tid, False, <float*>NULL)


cdef void _vector_task_d(void* c, Py_ssize_t q, int tid) noexcept nogil:
    _batch_range(<_Batch*>c, q, tid, True, <double*>NULL)


cdef void _vector_task_f(void* c, Py_ssize_t q, int tid) noexcept nogil:
    _batch_range(<_Batch*>c, q, tid, True, <float*>NULL)


cdef inline Py_ssize_t _batch_tasks(Py_ssize_t nblocks, int nthreads) noexcept nogil:
    """Runs of blocks the threads take as they finish (8 a thread: load balance)."""
    return max(1, min(nblocks, 8 * <Py_ssize_t>max(nthreads, 1)))


# ---------------------------------------------------------------------------------------
# def wrappers

cdef Py_ssize_t[::1] _addresses(list arrays):
    """The data address of each ndarray in `arrays`."""
    cdef Py_ssize_t k, n = len(arrays)
    cdef Py_ssize_t[::1] addr = np.empty(max(n, 1), dtype=np.intp)
    for k in range(n):
        addr[k] = <Py_ssize_t>cnp.PyArray_DATA(<cnp.ndarray?>arrays[k])
    return addr


def chain_program(const Py_ssize_t[::1] dims not None,      # IN  (n + 1,) d_0 .. d_n
                  const unsigned char[::1] diag not None,   # IN  (n,) 1 for a Diagonal
                  const Py_ssize_t[:, ::1] steps not None): # IN  (n - 1, 2) (left, right)
    """The program of a plan's steps (chain_layout, the layout mk.jacobian_chain_steps
    uses): (layout (n - 1, NLAYOUTCOL), scratch entries of one sample, every dense product
    small (at most SMALL_MM multiply-adds), every product with a Diagonal side)."""
    cdef Py_ssize_t n = diag.shape[0], t, top
    cdef bint small = True, scaled = True
    if n < 2 or dims.shape[0] != n + 1 or steps.shape[0] != n - 1 or steps.shape[1] != 2:
        raise ValueError("chain_program: dims, diag and steps do not fit")
    layout = np.empty((n - 1, NLAYOUTCOL), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] lay = layout
    cdef Py_ssize_t left, right, k
    cdef bint ld, rd
    with nogil:
        top = chain_layout(n, &dims[0], &diag[0], &steps[0, 0], &lay[0, 0])
        for t in range(n - 1 if top >= 0 else 0):
            left, right = steps[t, 0], steps[t, 1]
            ld = diag[left] if left < n else lay[left - n, L_FLAGS] & L_DIAG
            rd = diag[right] if right < n else lay[right - n, L_FLAGS] & L_DIAG
            k = dims[left] if left < n else lay[left - n, L_COLS]
            scaled = scaled and (ld or rd)
            small = small and (ld or rd or lay[t, L_ROWS] * k * lay[t, L_COLS] <= SMALL_MM_WORK)
    if top < 0:
        raise ValueError("chain_program: the steps are not a bracketing of the chain")
    return layout, top, small, scaled


def chain_product(list arrays not None,                     # IN  nlinks arrays of the dtype
                  const Py_ssize_t[:, ::1] meta not None,   # IN  (nlinks, NMETACOL)
                  const Py_ssize_t[::1] bshape not None,    # IN  (nb,) batch shape
                  const Py_ssize_t[:, ::1] bstr not None,   # IN  (nlinks, nb) batch strides
                  const Py_ssize_t[::1] dims not None,      # IN  (nlinks + 1,) d_0 .. d_n
                  const Py_ssize_t[:, ::1] steps not None,  # IN  (nlinks - 1, 2) the plan
                  const Py_ssize_t[:, ::1] layout not None, # IN  (nlinks - 1, NLAYOUTCOL)
                  Py_ssize_t sample_scratch,                # IN  scratch elements per sample
                  bint blocked,                             # IN  VBLOCK samples at a time
                  floating[:, ::1] scratch not None,        # OUT (nthreads, [VBLOCK] * per-sample)
                  floating[::1] out not None,               # OUT (nsamples * out_size,)
                  Py_ssize_t out_size,                      # IN  elements of one sample's result
                  int nthreads):                            # IN  1: serial loop
    """Run a chain program (steps and their chain_program layout) over every sample of the
    batch (nsamples = prod(bshape)).

    `blocked` (for programs of small steps) runs VBLOCK samples one step at a time; else
    one sample runs the whole program at a time (large steps, BLAS per sample).
    """
    cdef Py_ssize_t nlinks = len(arrays), nb = bshape.shape[0], nsteps = steps.shape[0]
    cdef Py_ssize_t b, nsamples = 1, nblocks
    cdef Py_ssize_t per = VBLOCK if blocked else 1
    cdef _Batch c
    cdef Py_ssize_t[::1] addr = _addresses(arrays)
    cdef Py_ssize_t[:, ::1] offs = np.empty((max(nthreads, 1), per * max(nlinks, 1)),
                                            dtype=np.intp)
    for b in range(nb):
        nsamples *= bshape[b]
    if (meta.shape[0] != nlinks or bstr.shape[0] != nlinks or bstr.shape[1] != nb
            or dims.shape[0] != nlinks + 1 or nsteps != nlinks - 1 or nsteps < 1
            or steps.shape[1] != 2 or layout.shape[0] != nsteps
            or layout.shape[1] != NLAYOUTCOL or meta.shape[1] != NMETACOL
            or scratch.shape[0] < max(nthreads, 1)
            or scratch.shape[1] < per * sample_scratch or out.shape[0] < nsamples * out_size):
        raise ValueError("chain_product: inconsistent program or buffer shapes")
    nblocks = (nsamples + VBLOCK - 1) // VBLOCK
    c.prog.nlinks, c.prog.dims, c.prog.diag, c.prog.addr = nlinks, &dims[0], NULL, &addr[0]
    c.prog.meta, c.prog.nb = &meta[0, 0], nb
    c.prog.bshape = &bshape[0] if nb else NULL
    c.prog.bstr = &bstr[0, 0] if nb else NULL
    c.prog.steps, c.prog.layout = &steps[0, 0], &layout[0, 0]
    with nogil:
        if blocked and nthreads > 1:
            c.nsamples, c.nblocks, c.ntasks = nsamples, nblocks, _batch_tasks(nblocks, nthreads)
            c.sample_scratch, c.out_size = sample_scratch, out_size
            c.offs, c.offs_ld = &offs[0, 0], offs.shape[1]
            c.scratch, c.scratch_ld, c.out = &scratch[0, 0], scratch.shape[1], &out[0]
            parallel_for(_chain_task_d if floating is double else _chain_task_f, &c, c.ntasks,
                         nthreads)
        elif blocked:
            for b in range(nblocks):
                chain_block(b * VBLOCK, min(VBLOCK, nsamples - b * VBLOCK), &c.prog,
                            sample_scratch, out_size, &offs[0, 0], &scratch[0, 0],
                            &out[b * VBLOCK * out_size])
        else:
            for b in range(nsamples):
                chain_sample(b, &c.prog, &offs[0, 0] if nb else NULL, &scratch[0, 0],
                             &out[b * out_size])


def vector_chain(list arrays not None,                      # IN  nlinks links, then the vector
                 const Py_ssize_t[:, ::1] meta not None,    # IN  (nlinks + 1, NMETACOL)
                 const Py_ssize_t[::1] bshape not None,     # IN  (nb,)
                 const Py_ssize_t[:, ::1] bstr not None,    # IN  (nlinks + 1, nb)
                 const Py_ssize_t[::1] dims not None,       # IN  (nlinks + 1,) d_0 .. d_n
                 bint grad,                                 # IN  grad_chain or tangent_chain
                 floating[:, ::1] scratch not None,         # OUT (nthreads, 2 VBLOCK max(dims))
                 floating[::1] out not None,                # OUT (nsamples * out_size,)
                 int nthreads):                             # IN  1: serial loop
    """J1ᵀ(⋯(Jnᵀ g)) (grad) or Jn(⋯(J1 t)) (tangent) for every sample of the batch."""
    cdef Py_ssize_t nops = len(arrays), nlinks = nops - 1, nb = bshape.shape[0]
    cdef Py_ssize_t b, nsamples = 1, maxd = 0, out_size, nblocks
    cdef _Batch c
    cdef Py_ssize_t[::1] addr = _addresses(arrays)
    cdef Py_ssize_t[:, ::1] offs = np.empty((max(nthreads, 1), VBLOCK * nops), dtype=np.intp)
    for b in range(nb):
        nsamples *= bshape[b]
    if (nlinks < 1 or meta.shape[0] != nops or bstr.shape[0] != nops or bstr.shape[1] != nb
            or dims.shape[0] != nops or meta.shape[1] != NMETACOL):
        raise ValueError("vector_chain: inconsistent program or buffer shapes")
    for b in range(nops):
        maxd = max(maxd, dims[b])
    out_size = dims[0] if grad else dims[nlinks]
    if scratch.shape[0] < max(nthreads, 1) or scratch.shape[1] < 2 * VBLOCK * maxd \
            or out.shape[0] < nsamples * out_size:
        raise ValueError("vector_chain: buffers too small")
    nblocks = (nsamples + VBLOCK - 1) // VBLOCK
    with nogil:
        if nthreads > 1:
            c.nsamples, c.nblocks, c.ntasks = nsamples, nblocks, _batch_tasks(nblocks, nthreads)
            c.nlinks, c.nb, c.grad, c.maxd = nlinks, nb, grad, maxd
            c.out_size, c.addr, c.meta, c.dims = out_size, &addr[0], &meta[0, 0], &dims[0]
            c.bshape = &bshape[0] if nb else NULL
            c.bstr = &bstr[0, 0] if nb else NULL
            c.offs, c.offs_ld = &offs[0, 0], offs.shape[1]
            c.scratch, c.scratch_ld, c.out = &scratch[0, 0], scratch.shape[1], &out[0]
            parallel_for(_vector_task_d if floating is double else _vector_task_f, &c,
                         c.ntasks, nthreads)
        else:
            for b in range(nblocks):
                vector_block(b * VBLOCK, min(VBLOCK, nsamples - b * VBLOCK), grad, nlinks,
                             &addr[0], &meta[0, 0], nb, &bshape[0] if nb else NULL,
                             &bstr[0, 0] if nb else NULL, &dims[0], maxd, &offs[0, 0],
                             &scratch[0, 0], &out[b * VBLOCK * out_size])


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
    if work < NOGIL_WORK:           # releasing the GIL would cost more than the product
        if typenum == cnp.NPY_DOUBLE:
            _fast_run(n, d, reverse, <const double*>p[0], <const double*>p[1],
                      <const double*>p[2], <double*>tmp, <double*>po)
        else:
            _fast_run(n, d, reverse, <const float*>p[0], <const float*>p[1],
                      <const float*>p[2], <float*>tmp, <float*>po)
    else:
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                _fast_run(n, d, reverse, <const double*>p[0], <const double*>p[1],
                          <const double*>p[2], <double*>tmp, <double*>po)
            else:
                _fast_run(n, d, reverse, <const float*>p[0], <const float*>p[1],
                          <const float*>p[2], <float*>tmp, <float*>po)
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
        vector_one(grad, rows[k], cols[k], diag[k], rows[k] * cols[k] <= SMALL_MV_WORK,
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
    if work < NOGIL_WORK:
        if typenum == cnp.NPY_DOUBLE:
            _fast_vector_run(n, grad, rows, cols, diag, ptr, <const double*>px,
                             <double*>tmp, maxd, <double*>po)
        else:
            _fast_vector_run(n, grad, rows, cols, diag, ptr, <const float*>px,
                             <float*>tmp, maxd, <float*>po)
    else:
        with nogil:
            if typenum == cnp.NPY_DOUBLE:
                _fast_vector_run(n, grad, rows, cols, diag, ptr, <const double*>px,
                                 <double*>tmp, maxd, <double*>po)
            else:
                _fast_vector_run(n, grad, rows, cols, diag, ptr, <const float*>px,
                                 <float*>tmp, maxd, <float*>po)
    return out


cdef inline bint _factor_ok(object f, int typenum) noexcept:
    """A Kronecker factor NumPy's dot may read as is: an exact ndarray of the type number, in
    native byte order, with no zero-size axis (any strides: dot copies what BLAS cannot
    read)."""
    return (cnp.PyArray_CheckExact(f) and cnp.PyArray_TYPE(<cnp.ndarray>f) == typenum
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>f)
            and cnp.PyArray_DIMS(<cnp.ndarray>f)[0] > 0
            and cnp.PyArray_DIMS(<cnp.ndarray>f)[1] > 0)


cdef inline object _reshaped(cnp.ndarray x, int ndim, Py_ssize_t rows, Py_ssize_t cols):
    """x (C-contiguous, rows·cols entries) viewed as a (rows, cols) matrix (ndim 2) or a
    (rows,) vector (ndim 1)."""
    cdef cnp.npy_intp shape[2]
    cdef cnp.PyArray_Dims dims
    shape[0], shape[1] = rows, cols
    dims.ptr, dims.len = shape, ndim
    return cnp.PyArray_Newshape(x, &dims, cnp.NPY_CORDER)


def fast_kron_vector(object links, object vector, bint grad, type kronecker):
    """J1ᵀ(⋯(Jnᵀ g)) (grad) or Jn(⋯(J1 t)) when every link is a `kronecker`, or None.

    The vector is a C-contiguous float ndarray and the factors ndarrays of its dtype (any
    strides) in native byte order; anything else returns None (the general path, which
    also reports every error). Each link is two matrix products through NumPy's dot (its
    BLAS, as the Python path's np.matmul), in the order the link chose when made:
    forward Y = A X Bᵀ, adjoint Y = Aᵀ X B, X the vector as a matrix. Checking in C and
    calling dot from C is what the Python path spends on top of those products.
    """
    cdef Py_ssize_t n, k, step, length, rows, cols
    cdef int typenum
    cdef cnp.ndarray x
    typenum = _fast_vector_args(links, vector)
    if typenum < 0:
        return None
    n = len(links)
    length = cnp.PyArray_DIMS(<cnp.ndarray>vector)[0]
    for step in range(n):
        link = links[n - 1 - step if grad else step]
        if type(link) is not kronecker:
            return None
        A, B = link._a, link._b
        if not _factor_ok(A, typenum) or not _factor_ok(B, typenum):
            return None
        # the sizes the vector has on entering this link, and on leaving it
        rows = cnp.PyArray_DIMS(<cnp.ndarray>A)[0] * cnp.PyArray_DIMS(<cnp.ndarray>B)[0]
        cols = cnp.PyArray_DIMS(<cnp.ndarray>A)[1] * cnp.PyArray_DIMS(<cnp.ndarray>B)[1]
        if length != (rows if grad else cols):
            return None
        length = cols if grad else rows
    x = <cnp.ndarray>vector
    for step in range(n):
        link = links[n - 1 - step if grad else step]
        A, B = link._a, link._b
        if grad:
            # Y = Aᵀ X B, X (pa, pb): (Aᵀ X) B or Aᵀ (X B), as the link chose
            X = _reshaped(x, 2, cnp.PyArray_DIMS(<cnp.ndarray>A)[0],
                          cnp.PyArray_DIMS(<cnp.ndarray>B)[0])
            At = cnp.PyArray_Transpose(<cnp.ndarray>A, NULL)
            if link._a_first[1]:
                Y = cnp.PyArray_MatrixProduct(cnp.PyArray_MatrixProduct(At, X), B)
            else:
                Y = cnp.PyArray_MatrixProduct(At, cnp.PyArray_MatrixProduct(X, B))
        else:
            # Y = A X Bᵀ, X (qa, qb): (A X) Bᵀ or A (X Bᵀ)
            X = _reshaped(x, 2, cnp.PyArray_DIMS(<cnp.ndarray>A)[1],
                          cnp.PyArray_DIMS(<cnp.ndarray>B)[1])
            Bt = cnp.PyArray_Transpose(<cnp.ndarray>B, NULL)
            if link._a_first[0]:
                Y = cnp.PyArray_MatrixProduct(cnp.PyArray_MatrixProduct(A, X), Bt)
            else:
                Y = cnp.PyArray_MatrixProduct(A, cnp.PyArray_MatrixProduct(X, Bt))
        x = <cnp.ndarray>Y
    return _reshaped(x, 1, length, 1)


# ---------------------------------------------------------------------------------------
# a dense block times a CSR matrix: the adjoint mode of a sparse link

ctypedef fused sp_index:
    cnp.int32_t
    cnp.int64_t


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
    cdef Py_ssize_t m = X.shape[0], p = X.shape[1], q = out.shape[1], k, t, nnz, i
    cdef Py_ssize_t chunk, nchunks
    cdef _CsrRows c
    if indptr.shape[0] != p + 1 or out.shape[0] != m:
        raise ValueError("dense_csr_product: inconsistent shapes")
    nnz = indptr[p] if p >= 0 else 0
    if indptr[0] != 0 or nnz > indices.shape[0] or nnz > data.shape[0]:
        raise ValueError("dense_csr_product: indptr does not fit indices/data")
    for k in range(p):
        if indptr[k + 1] < indptr[k]:
            raise ValueError("dense_csr_product: indptr decreases")
    for t in range(nnz):
        if indices[t] < 0 or indices[t] >= q:
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

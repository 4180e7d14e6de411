# cython: language_level=3
"""The Hessian of a linear-model loss: per row block a rank-k update, X read once.

Design. H = Σ_i (x_i x_iᵀ) ⊗ D_i with x_i ending in a 1 for the intercept and D_i the
K × K Hessian of ℓ in the row's predictions z_i (times w_i). Per block of rows:
  B = X_b in double, row major: float64 C rows read in place where m is a multiple of
      8, else widened (float32 X: float64 arithmetic) into scratch rows padded with
      zeros to a multiple of 8 (F columns transposed, CSR scattered into zeros); the
      intercept's column of ones is never stored (its row of H is Bᵀd and Σ d);
  z = B Θ, then the loss hooks of mc_loss.h: w ∘ ℓ′ and the loss (grad_hess:
      G += (w ∘ ℓ′)ᵀ B), and the Hessian factors d = w ∘ ℓ″ (one hook call with
      q = 1; multinomial: K calls with q = e_k give D's columns, w p_c (δ_ck − p_k);
      squared: d = 2w, one block shared by its K targets, and without weights no d);
  per class pair (c ≤ k) with factors d: H_ck += [B, 1]ᵀ diag(d) [B, 1] in one pass by
      mc_sandwich.h's kernel on U = d ∘ B, for d of any sign (negative weights,
      multinomial's off-diagonal classes), the intercept's column with it, the next
      block's rows prefetched meanwhile (C order). The block products are
      mc_sandwich.h's vector kernels (z, the gradient, the sandwich), not BLAS: on
      32 columns OpenBLAS spends more time packing its operands than multiplying.
No n × m temporary: the block scratch is tens of KiB. Blocks are grouped into parts fixed
by the data's shape (never by the thread count); each part accumulates into its own
upper triangles, summed in part order at the end, so the result is bitwise the same on
any number of threads. The full (mp·K) × (mp·K) matrix of θ flattened in C order
(index j·K + c) is then written from the triangles, mirrored.
"""
from cython cimport floating
from libc.stdint cimport uintptr_t
from libc.string cimport memset, memcpy
from libc.math cimport NAN

cimport numpy as cnp
import numpy as np

from ._threads cimport openmp_effective_n_threads, parallel_for
from ._engine cimport check_entry, entry_args

cnp.import_array()

cdef extern from "mc_simd.h":
    enum:
        MC_LINE_BYTES          # bytes of a cache line (128 on Apple M, else 64)
        LINE "MC_LINE_DOUBLES"  # the same in doubles

cdef extern from "mc_codes.h":
    enum:
        MC_SRC_C
        MC_SRC_F
        MC_SRC_CSR

cdef extern from "mc_hess.h":
    ctypedef struct mc_loss:
        int kind
        double delta
    enum:
        MC_SQUARED
        MC_MULTINOMIAL
    double mc_hess_hook(const mc_loss* L, int hess, Py_ssize_t nb, Py_ssize_t K,
                        const double* z, const double* q, const double* y,
                        const double* w, double* r, double* lv,
                        double* tmp) noexcept nogil
    void mc_sandwich(Py_ssize_t nb, Py_ssize_t m, const double* d, double alpha,
                     const double* B, Py_ssize_t ldb, double* Ubuf, int intercept,
                     double* H, Py_ssize_t ldh, const char* next,
                     Py_ssize_t next_bytes) noexcept nogil
    void mc_hess_gt(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const double* r,
                    const double* B, Py_ssize_t ldb, double* g, Py_ssize_t ldg) noexcept nogil
    void mc_hess_z(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const double* B,
                   Py_ssize_t ldb, const double* th, Py_ssize_t ldt, const double* bias,
                   double* z) noexcept nogil
    Py_ssize_t mc_sandwich_ubuf(Py_ssize_t m) noexcept nogil
    int mc_hess_set_level(int level) noexcept nogil
    int mc_get_level() noexcept nogil


cdef enum:
    # Bytes of the double block scratch B: it is read by two or three products (z, the
    # gradient, the rank-k updates), so it should stay in L2.
    BLOCK_BYTES = 64 * 1024
    MIN_BLOCK = 64              # rows per block at least: the rank of each update
    MAX_BLOCK = 4096
    MAX_PARTS = 16
    # CSR rows with fewer than m / SPARSE_RANK_RATIO stored entries (on average) take
    # rank-one updates over their entries instead of the sandwich of the scattered block
    SPARSE_RANK_RATIO = 8
    # multiply-adds a thread gets at least
    WORK_PER_THREAD = 1 << 20


cdef struct hprob:
    int kind                    # SRC_C, SRC_F or SRC_CSR
    const void* x               # dense values or CSR data
    bint xf32                   # x is float32 (else float64), widened as it is read
    Py_ssize_t ld               # dense: elements from one row (C) / column (F) to the next
    const void* indices
    const void* indptr
    bint idx64
    const Py_ssize_t* rows      # NULL, or the storage row of each source row
    Py_ssize_t n, m, mp, K, ycols, npairs, block
    bint intercept
    mc_loss loss
    const void* y
    const void* w
    bint yf32, wf32             # y, w float32 (else float64)
    const double* theta         # Θ (mp, K) in double
    const double* thz           # Θ[:m]ᵀ (K, pad8(m)) in double, zero past column m
    bint grad                   # also the loss and gradient
    bint sparse_rank            # CSR: rank-one updates over each row's stored entries


# --------------------------------------------------------------------------------------
# planning and scratch
# --------------------------------------------------------------------------------------

cdef inline Py_ssize_t _lines(Py_ssize_t ndoubles) noexcept nogil:
    return (ndoubles + LINE - 1) // LINE * LINE


cdef Py_ssize_t n_pairs(int loss, Py_ssize_t K) noexcept nogil:
    """Class pairs with their own Hessian block: K(K+1)/2 for multinomial, else 1 (K = 1,
    or squared with K targets: D = 2w I, one block Bᵀ diag(2w) B on the diagonal)."""
    return K * (K + 1) // 2 if loss == MC_MULTINOMIAL and K > 1 else 1


cdef Py_ssize_t plan_block(Py_ssize_t n, Py_ssize_t mp) noexcept nogil:
    """Rows per block: BLOCK_BYTES of doubles, MIN_BLOCK … MAX_BLOCK rows, at most n."""
    cdef Py_ssize_t b = max(MIN_BLOCK, min(MAX_BLOCK, BLOCK_BYTES // (8 * max(mp, 1))))
    return max(1, min(b, n))


cdef Py_ssize_t plan_parts(Py_ssize_t n, Py_ssize_t mp, Py_ssize_t npairs,
                           Py_ssize_t block) noexcept nogil:
    """Parts of a call, from the shape only: at most MAX_PARTS, a block each, and their
    accumulators (npairs·mp² doubles each) together at most 1/64 of n·mp."""
    cdef Py_ssize_t nblocks = (n + block - 1) // block
    cdef Py_ssize_t cap = n * mp // max(64 * npairs * mp * mp, 1)
    return max(1, min(min(nblocks, <Py_ssize_t>MAX_PARTS), cap))


cdef int plan_threads(Py_ssize_t n, Py_ssize_t mp, Py_ssize_t npairs, Py_ssize_t nparts,
                      int max_threads) noexcept nogil:
    """Threads: WORK_PER_THREAD multiply-adds each, a part each, at most `max_threads`
    (0: what the process allows now)."""
    cdef Py_ssize_t t = min(n * mp * (mp + 8) * npairs // WORK_PER_THREAD, nparts)
    if t > 1:
        t = min(t, <Py_ssize_t>(max_threads if max_threads > 0
                                else openmp_effective_n_threads()))
    return <int>max(t, 1)


cdef inline Py_ssize_t _region(Py_ssize_t mp, Py_ssize_t K,
                               Py_ssize_t npairs) noexcept nogil:
    """Doubles of one part: the pairs' mp × mp triangles | gradient (K × mp) | loss, bad."""
    return _lines(npairs * mp * mp + K * mp + 2)


cdef inline Py_ssize_t _pad8(Py_ssize_t m) noexcept nogil:
    """Row stride of the block scratch B and U: m rounded up to 8 (mc_sandwich.h reads
    rows up to there)."""
    return (m + 7) // 8 * 8


cdef inline Py_ssize_t _scratch(Py_ssize_t m, Py_ssize_t K, Py_ssize_t ycols,
                                Py_ssize_t npairs, Py_ssize_t block) noexcept nogil:
    """Doubles of one thread's block scratch: B (nb·pad8(m)) | mc_sandwich's U | z, q, r
    (K·nb each) | d (npairs·nb) | y_b (ycols·nb) | w_b, lv (nb each) | tmp (2·nb)."""
    return _lines(block * _pad8(m) + mc_sandwich_ubuf(m)
                  + block * (3 * K + npairs + ycols + 4))


cdef Py_ssize_t work_size(Py_ssize_t n, Py_ssize_t m, bint intercept, Py_ssize_t K,
                          int loss, int nthreads) noexcept nogil:
    """Doubles of scratch for a call on n rows, m columns, K outputs and `nthreads`."""
    cdef Py_ssize_t mp = m + intercept, npairs = n_pairs(loss, K)
    cdef Py_ssize_t block = plan_block(n, mp)
    cdef Py_ssize_t ycols = K if loss == MC_SQUARED else 1
    return (_lines(mp * K) + _lines(K * _pad8(m))
            + plan_parts(n, mp, npairs, block) * _region(mp, K, npairs)
            + max(nthreads, 1) * _scratch(m, K, ycols, npairs, block) + LINE)


cdef inline double* _aligned(double* work) noexcept nogil:
    return <double*>((<uintptr_t>work + MC_LINE_BYTES - 1)
                      & ~(<uintptr_t>(MC_LINE_BYTES - 1)))


cdef inline Py_ssize_t _pair(Py_ssize_t c, Py_ssize_t k, Py_ssize_t K) noexcept nogil:
    """Index of the class pair (c ≤ k) among the K(K+1)/2 of multinomial."""
    return c * K - c * (c - 1) // 2 + (k - c)


# --------------------------------------------------------------------------------------
# one block
# --------------------------------------------------------------------------------------

cdef inline Py_ssize_t _idx(const void* a, Py_ssize_t k, bint is64) noexcept nogil:
    return (<const long long*>a)[k] if is64 else (<const int*>a)[k]


cdef inline double _at(const void* a, bint f32, Py_ssize_t k) noexcept nogil:
    return (<const float*>a)[k] if f32 else (<const double*>a)[k]


cdef inline Py_ssize_t _gather(const hprob* p, Py_ssize_t i0, Py_ssize_t nb,
                               double* B) noexcept nogil:
    """`_gather_t` at X's stored dtype."""
    if p.xf32:
        return _gather_t(p, <const float*>p.x, i0, nb, B)
    return _gather_t(p, <const double*>p.x, i0, nb, B)


cdef Py_ssize_t _gather_t(const hprob* p, const floating* x, Py_ssize_t i0, Py_ssize_t nb,
                          double* B) noexcept nogil:
    """B = X_b in double, row major: B[i·ldb + j] with ldb = pad8(m), the columns m …
    ldb − 1 zero. Returns the count of CSR column indices out of range (left out)."""
    cdef Py_ssize_t i, j, k, r, col, bad = 0, m = p.m, ld = p.ld, ldb = _pad8(p.m)
    cdef const floating* xr
    cdef double* bi
    if p.kind == MC_SRC_F:               # F: B[i, j] = X[r, j] at x[j·ld + r]
        for i in range(nb):
            r = p.rows[i0 + i] if p.rows != NULL else i0 + i
            bi = B + i * ldb
            for j in range(m):
                bi[j] = x[j * ld + r]
            for j in range(m, ldb):
                bi[j] = 0
    elif p.kind == MC_SRC_C:             # C: rows
        for i in range(nb):
            r = p.rows[i0 + i] if p.rows != NULL else i0 + i
            xr = x + r * ld
            bi = B + i * ldb
            for j in range(m):
                bi[j] = xr[j]
            for j in range(m, ldb):
                bi[j] = 0
    else:                                # CSR scattered into zeros (duplicates add up)
        memset(B, 0, nb * ldb * sizeof(double))
        for i in range(nb):
            r = p.rows[i0 + i] if p.rows != NULL else i0 + i
            bi = B + i * ldb
            for k in range(_idx(p.indptr, r, p.idx64), _idx(p.indptr, r + 1, p.idx64)):
                col = _idx(p.indices, k, p.idx64)
                if col < 0 or col >= m:
                    bad += 1
                else:
                    bi[col] += x[k]
    return bad


cdef void _sandwich(const hprob* p, const double* d, double dconst, Py_ssize_t nb,
                    const double* B, Py_ssize_t ldb, double* U, double* H,
                    const char* next, Py_ssize_t next_bytes) noexcept nogil:
    """H (mp × mp, upper) += [B, 1]ᵀ diag(d) [B, 1] (d NULL: every d_i = dconst): the
    corner Σ d here, the coefficients' triangle and the intercept's column Bᵀd by
    mc_sandwich (U its scratch; `next`, `next_bytes`: what it prefetches)."""
    cdef Py_ssize_t i, m = p.m, mp = p.mp, nz = 0
    cdef double sd = 0
    if d == NULL:
        if dconst == 0:
            return
        sd = dconst * nb
    else:
        for i in range(nb):
            sd += d[i]
            nz += d[i] != 0
        if nz == 0:
            return
    if p.intercept:
        H[m * mp + m] += sd
    if m > 0:
        mc_sandwich(nb, m, d, 1.0 if d != NULL else dconst, B, ldb, U, p.intercept, H, mp,
                    next, next_bytes)


ctypedef fused index_t:
    int
    long long


cdef enum:
    # what `_csr` does over a block of CSR rows
    CSR_COUNT = 0       # count the column indices out of range
    CSR_Z = 1           # that, and z = Θ[:m]ᵀ X_bᵀ
    CSR_GRAD = 2        # G += rrᵀ X_b
    CSR_RANK = 3        # H += X_bᵀ diag(d) X_b (+ the intercept's row), rank-one updates


cdef Py_ssize_t _csr(const hprob* p, int op, Py_ssize_t i0, Py_ssize_t nb,
                     const double* v, double* out) noexcept nogil:
    """Operation `op` on rows i0 … i0 + nb − 1 at X's index and value types: v is rr
    (CSR_GRAD) or d (CSR_RANK), out z, G or H. Returns the out-of-range count
    (CSR_COUNT, CSR_Z; else 0)."""
    if p.idx64:
        if p.xf32:
            return _csr_t(p, op, <const long long*>p.indices, <const long long*>p.indptr,
                          <const float*>p.x, i0, nb, v, out)
        return _csr_t(p, op, <const long long*>p.indices, <const long long*>p.indptr,
                      <const double*>p.x, i0, nb, v, out)
    if p.xf32:
        return _csr_t(p, op, <const int*>p.indices, <const int*>p.indptr,
                      <const float*>p.x, i0, nb, v, out)
    return _csr_t(p, op, <const int*>p.indices, <const int*>p.indptr,
                  <const double*>p.x, i0, nb, v, out)


cdef inline Py_ssize_t _csr_t(const hprob* p, int op, const index_t* ind,
                              const index_t* indptr, const floating* x, Py_ssize_t i0,
                              Py_ssize_t nb, const double* v, double* out) noexcept nogil:
    if op == CSR_GRAD:
        _csr_grad_t(p, ind, indptr, x, i0, nb, v, out)
        return 0
    if op == CSR_RANK:
        _rank_one_rows(p, ind, indptr, x, i0, nb, v, out)
        return 0
    return _csr_z_t(p, ind, indptr, x, i0, nb, out, op == CSR_Z)


cdef Py_ssize_t _csr_z_t(const hprob* p, const index_t* ind, const index_t* indptr,
                         const floating* x, Py_ssize_t i0, Py_ssize_t nb, double* z,
                         bint need_z) noexcept nogil:
    """z (K × nb) = Θ[:m]ᵀ X_bᵀ over the block's stored entries (with ``need_z``; the
    intercept is added by the caller), each entry summed in a register in the order of
    the row's entries; returns the count of column indices out of range (left out)."""
    cdef Py_ssize_t i, k, c, r, col, k0, k1, bad = 0, m = p.m, K = p.K
    cdef const double* theta = p.theta
    cdef double acc
    for i in range(nb):
        r = p.rows[i0 + i] if p.rows != NULL else i0 + i
        k0 = indptr[r]
        k1 = indptr[r + 1]
        for k in range(k0, k1):
            if ind[k] < 0 or ind[k] >= m:
                bad += 1
        if not need_z:
            continue
        for c in range(K):
            acc = 0
            for k in range(k0, k1):
                col = ind[k]
                if col >= 0 and col < m:
                    acc += x[k] * theta[col * K + c]
            z[c * nb + i] = acc
    return bad


cdef void _csr_grad_t(const hprob* p, const index_t* ind, const index_t* indptr,
                      const floating* x, Py_ssize_t i0, Py_ssize_t nb, const double* rr,
                      double* gacc) noexcept nogil:
    """G[:, :m] (K × mp) += rrᵀ X_b over the block's stored entries."""
    cdef Py_ssize_t i, k, c, r, col, m = p.m, mp = p.mp, K = p.K
    cdef double v
    for i in range(nb):
        r = p.rows[i0 + i] if p.rows != NULL else i0 + i
        for k in range(indptr[r], indptr[r + 1]):
            col = ind[k]
            if col >= 0 and col < m:
                v = x[k]
                for c in range(K):
                    gacc[c * mp + col] += rr[c * nb + i] * v


cdef void _rank_one_rows(const hprob* p, const index_t* ind, const index_t* indptr,
                         const floating* x, Py_ssize_t i0, Py_ssize_t nb,
                         const double* d, double* H) noexcept nogil:
    """H (mp × mp, upper) += [X_b, 1]ᵀ diag(d) [X_b, 1] for a sparse CSR block, over each
    row's stored entries: the intercept's column and corner, and the coefficients'
    triangle by a rank-one update over the pairs of stored entries a ≤ b (nnz(nnz+1)/2
    a row). A row whose columns are in range and strictly increasing (canonical CSR)
    takes a loop without tests; any other row the general one: duplicates add up as in
    a scatter (a pair of two entries of one column counts twice on the diagonal),
    column indices out of range are left out (counted by `_csr_z_t`). Both add the same
    terms in the same order."""
    cdef Py_ssize_t i, a, b, r, ja, jb, k0, k1, m = p.m, mp = p.mp
    cdef double di, va, v, sd = 0
    cdef double* Hr
    cdef bint plain
    for i in range(nb):
        di = d[i]
        if di == 0:
            continue
        sd += di
        r = p.rows[i0 + i] if p.rows != NULL else i0 + i
        k0 = indptr[r]
        k1 = indptr[r + 1]
        plain = True
        jb = -1
        for a in range(k0, k1):
            ja = ind[a]
            if ja <= jb or ja >= m:
                plain = False
                break
            jb = ja
        if plain:
            # np.triu(H[np.ix_(j, j)]) += di * np.triu(np.outer(x_j, x_j)), j = the row's columns
            for a in range(k0, k1):
                ja = ind[a]
                va = di * x[a]
                Hr = H + ja * mp
                if p.intercept:
                    Hr[m] += va
                Hr[ja] += va * x[a]
                for b in range(a + 1, k1):
                    Hr[ind[b]] += va * x[b]
            continue
        for a in range(k0, k1):
            ja = ind[a]
            if ja < 0 or ja >= m:
                continue
            va = di * x[a]
            if p.intercept:
                H[ja * mp + m] += va
            H[ja * mp + ja] += va * x[a]
            for b in range(a + 1, k1):
                jb = ind[b]
                if jb < 0 or jb >= m:
                    continue
                v = va * x[b]
                if jb > ja:
                    H[ja * mp + jb] += v
                elif jb < ja:
                    H[jb * mp + ja] += v
                else:
                    H[ja * mp + ja] += 2 * v
    if p.intercept:
        H[m * mp + m] += sd


cdef bint _use_sparse_rank(const void* indptr, bint idx64, Py_ssize_t nstore,
                           Py_ssize_t m) noexcept nogil:
    """A CSR X sparse enough that rank-one updates over its stored entries (nnz² a row,
    scalar) beat the sandwich of the scattered block (m²/2 a row, in vectors): fewer
    than m / SPARSE_RANK_RATIO stored entries a row on average."""
    if nstore <= 0 or m <= 0:
        return False
    cdef double avg = <double>(_idx(indptr, nstore, idx64) - _idx(indptr, 0, idx64)) / nstore
    return avg * SPARSE_RANK_RATIO < m


cdef double _block(const hprob* p, Py_ssize_t i0, Py_ssize_t nb, Py_ssize_t nb_next,
                   double* acc, double* gacc, double* scr, Py_ssize_t* bad) noexcept nogil:
    """The block's rank-k updates into acc (npairs triangles), with p.grad its gradient
    into gacc (K × mp) and its loss returned; the next block's nb_next rows (0: none)
    prefetched where they are a C source's consecutive rows."""
    cdef Py_ssize_t m = p.m, mp = p.mp, K = p.K, yc = p.ycols, npairs = p.npairs
    cdef Py_ssize_t i, c, k, r, ldb = _pad8(m)
    cdef double* Bs = scr
    cdef double* U = Bs + nb * ldb
    cdef double* z = U + mc_sandwich_ubuf(m)
    cdef double* q = z + K * nb
    cdef double* rr = q + K * nb
    cdef double* d = rr + K * nb
    cdef double* yb = d + npairs * nb
    cdef double* wb = yb + yc * nb
    cdef double* lv = wb + nb
    cdef double* tmp = lv + nb
    cdef const double* B = Bs
    cdef const double* yp = NULL
    cdef const double* wp = NULL
    cdef const void* y = p.y
    cdef const void* w = p.w
    cdef double loss = 0, b
    cdef bint squared = p.loss.kind == MC_SQUARED
    cdef bint need_z = p.grad or not squared
    cdef Py_ssize_t esize = 4 if p.xf32 else 8
    cdef const char* nxt = NULL
    cdef Py_ssize_t nxt_bytes = 0
    if p.kind == MC_SRC_C and p.rows == NULL and nb_next > 0:
        nxt = <const char*>p.x + (i0 + nb) * p.ld * esize
        nxt_bytes = ((nb_next - 1) * p.ld + m) * esize
    if p.sparse_rank:        # CSR read in place: z here, no scattered block B
        bad[0] += _csr(p, CSR_Z if need_z else CSR_COUNT, i0, nb, NULL, z)
    elif (p.kind == MC_SRC_C and not p.xf32 and p.rows == NULL and m % 8 == 0):
        # float64 C rows read in place: their rows are the whole of pad8(m)
        B = <const double*>p.x + i0 * p.ld
        ldb = p.ld
    else:
        bad[0] += _gather(p, i0, nb, Bs)
    # z (K × nb) = Θ[:m]ᵀ Bᵀ + b   (z = (B @ theta[:m] + theta[m]).T; CSR read in
    # place: Θ[:m]ᵀ X_bᵀ came from `_csr` above)
    if need_z:
        if not p.sparse_rank:
            mc_hess_z(nb, m, K, B, ldb, p.thz, _pad8(m),
                      p.theta + m * K if p.intercept else NULL, z)
        elif p.intercept:
            for c in range(K):
                b = p.theta[m * K + c]
                for i in range(nb):
                    z[c * nb + i] += b
    if y != NULL:
        for i in range(nb):
            r = p.rows[i0 + i] if p.rows != NULL else i0 + i
            for c in range(yc):
                yb[i * yc + c] = _at(y, p.yf32, r * yc + c)
        yp = yb
    if w != NULL:
        for i in range(nb):
            wb[i] = _at(w, p.wf32, p.rows[i0 + i] if p.rows != NULL else i0 + i)
        wp = wb
    if p.grad:
        # rr = w ∘ ℓ′;  G[:, :m] (K × mp) += rrᵀ B, G[:, m] += Σ rr
        loss = mc_hess_hook(&p.loss, 0, nb, K, z, q, yp, wp, rr, lv, tmp)
        if p.sparse_rank:
            _csr(p, CSR_GRAD, i0, nb, rr, gacc)
        elif m > 0:
            mc_hess_gt(nb, m, K, rr, B, ldb, gacc, mp)
        if p.intercept:
            for c in range(K):
                b = 0
                for i in range(nb):
                    b += rr[c * nb + i]
                gacc[c * mp + m] += b
    if squared:
        # D = 2w I for every target: one block, d = 2w (no weights: 2, U = B)
        if wp != NULL:
            for i in range(nb):
                d[i] = 2 * wp[i]
        if p.sparse_rank:
            if wp == NULL:
                for i in range(nb):
                    d[i] = 2
            _csr(p, CSR_RANK, i0, nb, d, acc)
        else:
            _sandwich(p, d if wp != NULL else NULL, 2.0, nb, B, ldb, U, acc, nxt, nxt_bytes)
        return loss
    if p.loss.kind == MC_MULTINOMIAL and K > 1:
        # column k of each row's D: w p_c (δ_ck − p_k), kept for the pairs c ≤ k
        for k in range(K):
            memset(q, 0, K * nb * sizeof(double))
            for i in range(nb):
                q[k * nb + i] = 1
            mc_hess_hook(&p.loss, 1, nb, K, z, q, yp, wp, rr, lv, tmp)
            for c in range(k + 1):
                memcpy(d + _pair(c, k, K) * nb, rr + c * nb, nb * sizeof(double))
    else:
        # d = w ∘ ℓ″
        for i in range(nb):
            q[i] = 1
        mc_hess_hook(&p.loss, 1, nb, K, z, q, yp, wp, d, lv, tmp)
    for c in range(npairs):
        if p.sparse_rank:
            _csr(p, CSR_RANK, i0, nb, d + c * nb, acc + c * mp * mp)
        else:
            # the next block's prefetch with the last pair's pass
            _sandwich(p, d + c * nb, 0.0, nb, B, ldb, U, acc + c * mp * mp,
                      nxt if c == npairs - 1 else NULL, nxt_bytes)
    return loss


cdef void _part(const hprob* p, Py_ssize_t b0, Py_ssize_t b1,
                double* region, double* scr) noexcept nogil:
    """Blocks b0 … b1 − 1 into the part's region: triangles | gradient | loss, bad."""
    cdef Py_ssize_t b, i0, bad = 0, la = p.npairs * p.mp * p.mp
    cdef double loss = 0
    for b in range(b0, b1):
        i0 = b * p.block
        loss += _block(p, i0, min(p.block, p.n - i0),
                       min(p.block, p.n - i0 - p.block) if b + 1 < b1 else 0,
                       region, region + la, scr, &bad)
    region[la + p.K * p.mp] = loss
    region[la + p.K * p.mp + 1] = <double>bad


ctypedef struct _Parts:
    const hprob* p
    double* parts
    double* scr
    Py_ssize_t per, nblocks, region, scratch


cdef void _part_task(void* ctx, Py_ssize_t q, int tid) noexcept nogil:
    """Part q of a call (a task of parallel_for), in thread tid's block scratch."""
    cdef _Parts* c = <_Parts*>ctx
    cdef Py_ssize_t b0 = q * c.per, b1 = min(q * c.per + c.per, c.nblocks)
    cdef double* region = c.parts + q * c.region
    cdef double* scr = c.scr + tid * c.scratch
    _part(c.p, b0, b1, region, scr)


cdef double _run(hprob* p, const floating* theta, double l2,
                 floating* grad, floating* H, double* work, int nthreads,
                 Py_ssize_t* bad) noexcept nogil:
    """The Hessian into H ((mp·K)², C order), with grad ≠ NULL the gradient into grad
    and the loss returned (else 0)."""
    cdef Py_ssize_t mp = p.mp, K = p.K, m = p.m, n = p.n, npairs = p.npairs
    cdef Py_ssize_t s = mp * K, block = p.block, j, l, c, k, q, pr, la = npairs * mp * mp
    cdef Py_ssize_t nblocks = (n + block - 1) // block if n > 0 else 0
    cdef Py_ssize_t nparts = plan_parts(n, mp, npairs, block), per, b0, b1
    cdef Py_ssize_t region = _region(mp, K, npairs)
    cdef Py_ssize_t scratch = _scratch(m, K, p.ycols, npairs, block)
    cdef double* base = _aligned(work)
    cdef double* th = base
    cdef double* thz = th + _lines(mp * K)
    cdef double* parts = thz + _lines(K * _pad8(m))
    cdef double* scr = parts + nparts * region
    cdef double v, loss = 0
    for j in range(mp * K):
        th[j] = theta[j]
    memset(thz, 0, K * _pad8(m) * sizeof(double))
    for j in range(m):
        for c in range(K):
            thz[c * _pad8(m) + j] = th[j * K + c]
    p.theta = th
    p.thz = thz
    p.grad = grad != NULL
    memset(parts, 0, nparts * region * sizeof(double))
    per = (nblocks + nparts - 1) // nparts if nblocks else 0
    nthreads = <int>max(1, min(<Py_ssize_t>nthreads, nparts))
    cdef _Parts ctx
    ctx.p, ctx.parts, ctx.scr = p, parts, scr
    ctx.per, ctx.nblocks, ctx.region, ctx.scratch = per, nblocks, region, scratch
    parallel_for(_part_task, &ctx, nparts, nthreads)
    # H[j·K + c, l·K + k] = Σ_q (part q's triangle of the pair (c, k))[j, l], mirrored
    memset(H, 0, s * s * sizeof(floating))
    for c in range(K):
        for k in range(c, K):
            if npairs > 1:
                pr = _pair(c, k, K)
            elif k != c:
                continue
            else:
                pr = 0
            for j in range(mp):
                for l in range(j, mp):
                    v = 0
                    for q in range(nparts):
                        v += parts[q * region + pr * mp * mp + j * mp + l]
                    H[(j * K + c) * s + l * K + k] = <floating>v
                    H[(l * K + c) * s + j * K + k] = <floating>v
                    H[(l * K + k) * s + j * K + c] = <floating>v
                    H[(j * K + k) * s + l * K + c] = <floating>v
    if l2 != 0:
        for j in range(m * K):
            H[j * s + j] = <floating>(<double>H[j * s + j] + 2 * l2)
    for q in range(nparts):
        bad[0] += <Py_ssize_t>parts[q * region + la + K * mp + 1]
    if grad == NULL:
        return 0
    # grad[j·K + c] = Σ_q G_q[c, j] + 2 l2 θ (coefficients, l2 ≠ 0 only)
    for j in range(mp):
        for c in range(K):
            v = 0
            for q in range(nparts):
                v += parts[q * region + la + c * mp + j]
            if l2 != 0 and j < m:
                v += 2 * l2 * th[j * K + c]
            grad[j * K + c] = <floating>v
    for q in range(nparts):
        loss += parts[q * region + la + K * mp]
    if l2 != 0:
        v = 0
        for j in range(m * K):
            v += th[j] * th[j]
        loss += l2 * v
    return NAN if bad[0] else loss


cdef inline void _problem(hprob* p, Py_ssize_t n, Py_ssize_t m, const Py_ssize_t* rows,
                          Py_ssize_t nrows, Py_ssize_t K, bint intercept, const void* y,
                          const void* w, int loss, double delta) noexcept nogil:
    p.rows = rows
    p.n = nrows if rows != NULL else n
    p.m = m
    p.mp = m + intercept
    p.K = K
    p.intercept = intercept
    p.loss.kind = loss
    p.loss.delta = delta
    p.ycols = K if loss == MC_SQUARED else 1
    p.npairs = n_pairs(loss, K)
    p.block = plan_block(p.n, p.mp)
    p.y = y
    p.w = w
    p.yf32 = p.wf32 = p.xf32 = False
    p.sparse_rank = False


cdef double dense_hessian(int kind, const floating* X, Py_ssize_t n, Py_ssize_t m,
                          Py_ssize_t ld, const Py_ssize_t* rows, Py_ssize_t nrows,
                          const floating* theta, Py_ssize_t K, bint intercept,
                          const floating* y, const floating* w, int loss, double delta,
                          double l2, floating* grad, floating* H, double* work,
                          int nthreads) noexcept nogil:
    """The Hessian (and with grad ≠ NULL the loss and gradient) for a dense X."""
    cdef hprob p
    cdef Py_ssize_t bad = 0
    _problem(&p, n, m, rows, nrows, K, intercept, y, w, loss, delta)
    p.kind = kind
    p.x = X
    p.xf32 = p.yf32 = p.wf32 = floating is float
    p.ld = ld
    p.indices = NULL
    p.indptr = NULL
    p.idx64 = 0
    return _run(&p, theta, l2, grad, H, work, nthreads, &bad)


cdef double csr_hessian(const floating* data, const void* indices, const void* indptr,
                        bint idx64, Py_ssize_t n, Py_ssize_t m,
                        const Py_ssize_t* rows, Py_ssize_t nrows,
                        const floating* theta, Py_ssize_t K, bint intercept,
                        const floating* y, const floating* w, int loss, double delta,
                        double l2, floating* grad, floating* H, double* work,
                        int nthreads, Py_ssize_t* bad) noexcept nogil:
    """The Hessian (and with grad ≠ NULL the loss and gradient) for a CSR X."""
    cdef hprob p
    _problem(&p, n, m, rows, nrows, K, intercept, y, w, loss, delta)
    p.kind = MC_SRC_CSR
    p.sparse_rank = _use_sparse_rank(indptr, idx64, n, m)
    p.x = data
    p.xf32 = p.yf32 = p.wf32 = floating is float
    p.ld = 0
    p.indices = indices
    p.indptr = indptr
    p.idx64 = idx64
    return _run(&p, theta, l2, grad, H, work, nthreads, bad)


# --------------------------------------------------------------------------------------
# the def entry: ndarrays in, pointers out; checks that keep every access in bounds
# --------------------------------------------------------------------------------------

cdef inline bint _carray(object a, int typenum):
    return (cnp.PyArray_Check(a) and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a))


cdef inline void* _data(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


def _fail(what):
    raise ValueError(f"hessian: {what}")


def hessian(X, indices, indptr, tuple shape, int kind, rows, theta, y, w, int loss,
            double delta, bint intercept, double l2, grad, H, int max_threads):
    """The Hessian of Σ w ℓ(XΘ (+ b), y) + l2‖Θ[:m]‖² in θ flattened in C order, into H
    ((θ.size, θ.size), X's dtype, C-contiguous); with `grad` (θ's shape) also the
    gradient there, and the loss returned (else 0.0).

    X: dense (n, m) read in place, with unit stride along one axis (C or F order), or
    CSR data with `indices` and `indptr` (int32 or int64 of one type); `kind` its source
    kind as the caller classified it (`_engine.dense_kind`), checked. θ, grad and H
    share one float dtype, the arithmetic's; X, y and w share it too, except that under
    float64 arithmetic a float32 X is widened as it is read, and y and w may then each
    be float32. Arguments are checked as the engine's (`_engine.check_entry`). rows: None or C-contiguous intp indices in 0 … n−1. y: (n,) or (n, K) for
    squared; w: (n,) or None. `max_threads` 0: what the process allows now.
    mcfast.linear_loss validates and names arguments first; this refuses only what
    would read or write out of bounds.
    """
    cdef entry_args a
    check_entry("hessian", X, indices, indptr, shape, kind, rows, theta, y, w, loss,
                intercept, &a)
    cdef cnp.ndarray ax = X
    cdef int typenum = a.typenum
    cdef bint mixed = a.mixed, idx64 = a.idx64
    cdef Py_ssize_t n = a.n, m = a.m, K = a.K, mp = a.mp, nrows = a.nrows, ld = a.ld
    cdef Py_ssize_t s = theta.size
    cdef const Py_ssize_t* rp = a.rows
    if K < 1:
        _fail("theta must have >= 1 column")
    if not (_carray(H, typenum) and H.shape == (s, s)
            and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>H)):
        _fail("H must be C-contiguous, writeable, of theta's dtype, (theta.size, theta.size)")
    if grad is not None and not (_carray(grad, typenum) and grad.shape == theta.shape
                                 and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>grad)):
        _fail("grad must be C-contiguous, writeable, of theta's dtype and shape")
    cdef Py_ssize_t nused = nrows if rows is not None else n
    cdef Py_ssize_t npairs = n_pairs(loss, K)
    cdef int nthreads = plan_threads(nused, mp, npairs,
                                     plan_parts(nused, mp, npairs, plan_block(nused, mp)),
                                     max_threads)
    cdef double[::1] work = np.empty(work_size(nused, m, intercept, K, loss, nthreads))
    cdef double out
    cdef Py_ssize_t bad = 0
    cdef double* pwork = &work[0]
    cdef void* px = cnp.PyArray_DATA(ax)
    cdef void* pi = _data(indices)
    cdef void* pp = _data(indptr)
    cdef void* pth = _data(theta)
    cdef void* py = _data(y)
    cdef void* pw = _data(w)
    cdef void* pg = _data(grad)
    cdef void* ph = _data(H)
    cdef hprob mp_
    if mixed:
        _problem(&mp_, n, m, rp, nrows, K, intercept, py, pw, loss, delta)
        mp_.kind, mp_.x, mp_.ld, mp_.xf32 = kind, px, ld, True
        mp_.indices, mp_.indptr, mp_.idx64 = pi, pp, idx64
        mp_.sparse_rank = kind == MC_SRC_CSR and _use_sparse_rank(pp, idx64, shape[0], m)
        mp_.yf32 = y is not None and cnp.PyArray_TYPE(<cnp.ndarray>y) == cnp.NPY_FLOAT
        mp_.wf32 = w is not None and cnp.PyArray_TYPE(<cnp.ndarray>w) == cnp.NPY_FLOAT
        with nogil:
            out = _run(&mp_, <const double*>pth, l2, <double*>pg, <double*>ph, pwork,
                       nthreads, &bad)
    else:
        with nogil:
            if kind == MC_SRC_CSR:
                if typenum == cnp.NPY_DOUBLE:
                    out = csr_hessian(<const double*>px, pi, pp, idx64, n, m, rp, nrows,
                                      <const double*>pth, K, intercept, <const double*>py,
                                      <const double*>pw, loss, delta, l2, <double*>pg,
                                      <double*>ph, pwork, nthreads, &bad)
                else:
                    out = csr_hessian(<const float*>px, pi, pp, idx64, n, m, rp, nrows,
                                      <const float*>pth, K, intercept, <const float*>py,
                                      <const float*>pw, loss, delta, l2, <float*>pg,
                                      <float*>ph, pwork, nthreads, &bad)
            elif typenum == cnp.NPY_DOUBLE:
                out = dense_hessian(kind, <const double*>px, n, m, ld, rp, nrows,
                                    <const double*>pth, K, intercept, <const double*>py,
                                    <const double*>pw, loss, delta, l2, <double*>pg,
                                    <double*>ph, pwork, nthreads)
            else:
                out = dense_hessian(kind, <const float*>px, n, m, ld, rp, nrows,
                                    <const float*>pth, K, intercept, <const float*>py,
                                    <const float*>pw, loss, delta, l2, <float*>pg,
                                    <float*>ph, pwork, nthreads)
    if bad:
        raise ValueError(f"X (CSR) has {bad} column indices outside 0 ... {m - 1}")
    return out


mc_hess_set_level(-1)   # the best instruction set this CPU has


def set_simd_level(int level):
    """Use SIMD level `level` in the loss hooks of the Hessian (0 baseline, 1 AVX2+FMA,
    2 AVX-512; -1 the best there is), clipped to what the CPU has. Returns the previous
    level. For tests and benchmarks: not thread-safe against concurrent kernel calls."""
    return mc_hess_set_level(level)


def simd_level():
    """The SIMD level in use in the Hessian's loss hooks (0, 1 or 2)."""
    return mc_get_level()

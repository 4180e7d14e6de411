# cython: language_level=3
"""The one-pass engine: every linear-model loss, its gradient and Hessian product, X read once.

Design. z = f(Y), Y = XΘ ⇒ ∂z/∂Θ = Xᵀ ∂z/∂Y, with f a sum of pointwise losses: per
block of rows, z_b = X_b Θ, then r_b = w ∘ ℓ′(z_b, y_b), then G += X_bᵀ r_b while X_b
is in cache. The files, one concern each:
  mc_levels.h  the one list of instantiations, (float64, float32) × (SSE2 baseline,
               AVX2+FMA, AVX-512): re-included with MC_BODY naming a body header
               (mc_*_body.h), each a plain C function body over the element type and
               the vector width, with no function bodies inside #define;
  mc_rows.h    the row sources: dense C, dense F read in place (a row block of an F
               array is m contiguous column segments), CSR, each optionally through
               `rows` (minibatches without copying X); the two block products
               (mc_rows_body.h);
  mc_loss.h    the pointwise loss hooks (squared, logistic, Poisson, Huber, multinomial),
               in double, stable for large |z| (mc_hook_body.h); each loss's ℓ, ℓ′, ℓ″
               once in mc_loss_lanes.h and eˣ, log(1 + e) once in mc_vmath_body.h, on a
               lane type (mc_lane_vec.h: vector lanes; mc_lane_one.h: one double);
  mc_group.h   the fast paths of the common cases, each reading X once in one stream:
               dense rows with one output in groups of one vector's lanes of rows (C
               order, row slices, rows=), F order in sub-blocks of column segments,
               multinomial with the classes as a vector's lanes (mc_group_body.h; its
               named variants from mc_group_kind.h, _narrow.h, _pwidth.h, _mrows.h);
  mc_kern.h    the one dispatch table: the kernels of each (dtype, level) by name,
               MC_KERN(d|f) the level in use (mc_simd.h's mc_level, MCFAST_SIMD);
  mc_engine.h  one block: a fast path of mc_group.h where one applies, else source,
               hook, source (and the intercept, gathered y and w; mc_block_body.h);
  this file    the driver: blocks grouped into parts, a number fixed by the shape (n, m,
               K, dtype, source kind: `plan_parts`), never by the thread count; threads
               of mcfast's pool (_threads.parallel_for) take parts as they finish; each
               part owns its partial gradient (float64, own cache lines) and loss, and
               the parts are summed in their own order, so results are bitwise the same
               on 1, 2, 3 or 64 threads, or in a forked child (serial). Then the ridge
               term, never added when l2 == 0 (IEEE: l2·θ with θ = ±inf would turn a
               finite gradient into NaN).
The Python layers (mcfast.linear_loss, mcfast.lstsq) validate and name arguments; the
`def` entry here refuses only what would read or write out of bounds.
"""
from cython cimport floating
from libc.stdint cimport uintptr_t
from libc.string cimport memset
from libc.math cimport NAN, INFINITY

cimport numpy as cnp
import numpy as np

from ._threads cimport openmp_effective_n_threads, parallel_for

cnp.import_array()

cdef extern from "mc_simd.h":
    enum:
        MC_LINE_BYTES          # bytes of a cache line (128 on Apple M, else 64)
        LINE "MC_LINE_DOUBLES"  # the same in doubles

cdef extern from "mc_engine.h":
    ctypedef struct mc_src:
        int kind
        const void* x
        Py_ssize_t ld
        const void* indices
        const void* indptr
        int idx64
        const Py_ssize_t* rows
        Py_ssize_t n
        Py_ssize_t m
        Py_ssize_t nstore
    ctypedef struct mc_loss:
        int kind
        double delta
    ctypedef struct mc_prob:
        mc_src src
        mc_loss loss
        Py_ssize_t K
        Py_ssize_t mp
        int intercept
        int hess
        const void* tt
        const void* pt
        const void* y
        Py_ssize_t ycols
        const void* w
    enum:
        MC_SRC_C
        MC_SRC_F
        MC_SRC_CSR
        MC_SQUARED
        MC_LOGISTIC
        MC_POISSON
        MC_HUBER
        MC_MULTINOMIAL
    Py_ssize_t mc_scratch_items(Py_ssize_t K, Py_ssize_t mp, Py_ssize_t ycols,
                                Py_ssize_t nb) noexcept nogil
    double mc_block_d(const mc_prob* p, Py_ssize_t i0, Py_ssize_t nb, double* scr,
                      double* acc, Py_ssize_t* bad) noexcept nogil
    double mc_block_f(const mc_prob* p, Py_ssize_t i0, Py_ssize_t nb, float* scr,
                      double* acc, Py_ssize_t* bad) noexcept nogil
    double mc_sum_d(const double* x, Py_ssize_t n) noexcept nogil
    double mc_sum_f(const float* x, Py_ssize_t n) noexcept nogil
    int mc_set_level(int level) noexcept nogil
    int mc_get_level() noexcept nogil
    int mc_cpu_level() noexcept nogil

cdef extern from "mc_limits.h":
    # the thresholds that size a block and pick a path (exported below as THRESHOLDS)
    enum:
        MC_BLOCK_BYTES_C
        MC_BLOCK_BYTES_F
        MC_GROUP_ROWS
        MC_BLOCK_ROWS
        MC_BLOCK_ROWS_F_MIN
        MC_BLOCK_ROWS_F
        MC_NARROW_VECTORS
        MC_AL_MAX
        MC_F_BYTES
        MC_F_ROWS
        MC_STAGE_C_BYTES
        MC_STAGE_F_BYTES
        MC_STAGE_ENTRIES

cdef extern from "mc_stage.h":
    ctypedef struct mc_stage:
        mc_prob p
        mc_src src
        int xf32
        int df32
        const void* y
        const void* w
        int yf32
        int wf32
        Py_ssize_t sub
        Py_ssize_t ent
    enum:
        MC_SRC_STAGED
    Py_ssize_t mc_stage_rows(int kind, Py_ssize_t m, Py_ssize_t size,
                             Py_ssize_t block) noexcept nogil
    Py_ssize_t mc_stage_items(const mc_prob* p, Py_ssize_t block) noexcept nogil
    double mc_stage_block(const mc_stage* s, Py_ssize_t i0, Py_ssize_t nb, double* scr,
                          double* acc, Py_ssize_t* bad) noexcept nogil


cdef enum:
    STACK_WORK = 4096  # doubles of scratch on the C stack before a NumPy buffer is used
    # Parts (runs of blocks, each with its own accumulator region): as many as fit in
    # PART_BYTES of accumulators, within PARTS_MIN .. PARTS_MAX, and never more than the
    # blocks. Threads take parts as they finish, so a thread sharing its core with
    # another program just takes fewer (PARTS_MAX: 32 parts a thread on 2 cores, 4 on
    # 16); the count depends on the shape only, so the sum does too.
    PARTS_MIN = 16
    PARTS_MAX = 64
    PART_BYTES = 64 * 1024
    # Elements of X per part of sum_rows at least, and its parts at most.
    SUM_PART = 1 << 16
    SUM_PARTS_MAX = 256
    # Elements (or stored entries) of X each thread gets at least (bench_lstsq.py --tune).
    ELEMENTS_PER_THREAD = 1 << 16


# --------------------------------------------------------------------------------------
# planning and scratch
# --------------------------------------------------------------------------------------

cdef inline Py_ssize_t _lines(Py_ssize_t nbytes) noexcept nogil:
    """Bytes rounded up to whole cache lines, in doubles."""
    return (nbytes + 8 * LINE - 1) // (8 * LINE) * LINE


cdef Py_ssize_t plan_block(int kind, Py_ssize_t m, Py_ssize_t K,
                           Py_ssize_t itemsize) noexcept nogil:
    """Rows per block for a source of `kind` with m columns and K outputs per row."""
    cdef Py_ssize_t width = max(m, 1) * itemsize
    if kind == SRC_F:
        return max(MC_BLOCK_ROWS_F_MIN, min(MC_BLOCK_BYTES_F // width, MC_BLOCK_ROWS_F))
    if K == 1:
        # one output: C rows go through the fused row groups (mc_group.h), which read
        # each row once, so a block only amortises its set-up (and bounds float32 sums);
        # CSR rows take the same blocks (against 8-row blocks, 200,000×20,000 with 50
        # entries a row was level within this machine's noise). At least MC_GROUP_ROWS.
        return max(MC_GROUP_ROWS, min(MC_BLOCK_BYTES_C // width, MC_BLOCK_ROWS))
    return max(8, min(MC_BLOCK_BYTES_C // width, MC_BLOCK_ROWS // max(K, 1) + 8))


cdef int plan_threads(Py_ssize_t elements, Py_ssize_t nblocks,
                      int max_threads) noexcept nogil:
    """Threads for a call: ELEMENTS_PER_THREAD elements each, a block each, at most
    `max_threads`, or when that is 0, at most what the process allows now
    (openmp_effective_n_threads: threadpoolctl, OMP_NUM_THREADS, affinity, 1 after fork;
    asked only when the work would take a second thread)."""
    cdef Py_ssize_t t = min(elements // ELEMENTS_PER_THREAD, nblocks)
    if t > 1:
        t = min(t, <Py_ssize_t>(max_threads if max_threads > 0
                                else openmp_effective_n_threads()))
    return <int>max(t, 1)


cdef inline Py_ssize_t _head(Py_ssize_t mp, Py_ssize_t K, Py_ssize_t itemsize) noexcept nogil:
    """Doubles before the parts' regions: Θᵀ and Pᵀ in the working dtype."""
    return 2 * _lines(itemsize * K * mp)


cdef inline Py_ssize_t _region(Py_ssize_t mp, Py_ssize_t K) noexcept nogil:
    """Doubles of one part: acc (K·mp float64) | loss and bad count (a line)."""
    return _lines(8 * K * mp) + LINE


cdef inline Py_ssize_t _scratch(Py_ssize_t mp, Py_ssize_t K, Py_ssize_t ycols,
                                Py_ssize_t block, Py_ssize_t itemsize) noexcept nogil:
    """Doubles of one thread's block scratch (mc_engine.h: z, q, r, y_b, w_b, g)."""
    return _lines(itemsize * mc_scratch_items(K, mp, ycols, block))


cdef inline Py_ssize_t _max_parts(Py_ssize_t mp, Py_ssize_t K) noexcept nogil:
    """Parts a call on (mp, K) coefficients may have: a function of mp and K only."""
    return max(<Py_ssize_t>PARTS_MIN, min(<Py_ssize_t>PARTS_MAX,
                                          PART_BYTES // (8 * _region(mp, K))))


cdef Py_ssize_t plan_parts(Py_ssize_t nblocks, Py_ssize_t mp, Py_ssize_t K) noexcept nogil:
    """Parts of a call of nblocks blocks: one a block up to the cap of (mp, K). Part q
    holds blocks q·nblocks/nparts .. (q+1)·nblocks/nparts - 1."""
    return max(1, min(nblocks, _max_parts(mp, K)))


cdef Py_ssize_t work_size(Py_ssize_t mp, Py_ssize_t K, Py_ssize_t ycols, Py_ssize_t block,
                          int nthreads, Py_ssize_t itemsize) noexcept nogil:
    """Doubles of scratch for a call: Θᵀ and Pᵀ, one region per part (as many as the
    most parts of (mp, K)), one block scratch per thread, alignment slack."""
    nthreads = max(nthreads, 1)
    return (_head(mp, K, itemsize) + _max_parts(mp, K) * _region(mp, K)
            + nthreads * _scratch(mp, K, ycols, block, itemsize) + LINE)


cdef inline double* _aligned(double* work) noexcept nogil:
    return <double*>((<uintptr_t>work + MC_LINE_BYTES - 1)
                      & ~(<uintptr_t>(MC_LINE_BYTES - 1)))


# --------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------

cdef inline double _block(const mc_prob* p, Py_ssize_t i0, Py_ssize_t nb, floating* scr,
                          double* acc, Py_ssize_t* bad) noexcept nogil:
    if p.src.kind == MC_SRC_STAGED:     # float32 X under double arithmetic (mc_stage.h)
        return mc_stage_block(<const mc_stage*>p, i0, nb, <double*>scr, acc, bad)
    if floating is double:
        return mc_block_d(p, i0, nb, scr, acc, bad)
    else:
        return mc_block_f(p, i0, nb, scr, acc, bad)


cdef void _part(const mc_prob* p, Py_ssize_t block, Py_ssize_t b0, Py_ssize_t b1,
                double* region, Py_ssize_t la, floating* scratch) noexcept nogil:
    """Blocks b0..b1 into the part's acc (region) and loss / bad slots (region + la)."""
    cdef Py_ssize_t b, i0, bad = 0
    cdef double loss = 0
    for b in range(b0, b1):
        i0 = b * block
        loss += _block(p, i0, min(block, p.src.n - i0), scratch, region, &bad)
    region[la] = loss
    region[la + 1] = <double>bad


ctypedef struct _Parts:
    const mc_prob* p
    Py_ssize_t block, nblocks, nparts, region, la, scratch
    double* parts
    double* scr
    bint single         # float32 data


cdef void _part_task(void* ctx, Py_ssize_t q, int tid) noexcept nogil:
    """Part q of a call (a task of parallel_for), in thread tid's block scratch."""
    cdef _Parts* c = <_Parts*>ctx
    cdef Py_ssize_t b0 = q * c.nblocks // c.nparts, b1 = (q + 1) * c.nblocks // c.nparts
    cdef double* region = c.parts + q * c.region
    cdef double* scr = c.scr + tid * c.scratch
    if c.single:
        _part(c.p, c.block, b0, b1, region, c.la, <float*>scr)
    else:
        _part(c.p, c.block, b0, b1, region, c.la, <double*>scr)


cdef double _run(mc_prob* p, const floating* theta, const floating* pdir, double l2,
                 floating* grad, double* work, Py_ssize_t block, int nthreads,
                 Py_ssize_t* bad) noexcept nogil:
    """The loss of problem `p` (gradient, or Hessian product in the direction pdir, into
    grad (mp, K)); Θᵀ and Pᵀ are laid out here from theta and pdir (mp, K)."""
    cdef Py_ssize_t K = p.K, mp = p.mp, m = p.src.m, n = p.src.n, j, c, q
    cdef Py_ssize_t itemsize = sizeof(floating)
    cdef Py_ssize_t nblocks = (n + block - 1) // block
    cdef Py_ssize_t la = _lines(8 * K * mp)
    cdef Py_ssize_t region = _region(mp, K)
    cdef Py_ssize_t scratch = (_scratch(mp, K, p.ycols, block, itemsize)
                               + mc_stage_items(p, block))   # 0 unless staged
    cdef double* base = _aligned(work)
    cdef double* parts = base + _head(mp, K, itemsize)
    cdef double* scr
    cdef floating* tt = <floating*>base
    cdef floating* pt = <floating*>(base + _lines(itemsize * K * mp))
    cdef Py_ssize_t nparts = plan_parts(nblocks, mp, K)
    cdef double s, loss = 0
    cdef const floating* th
    cdef _Parts ctx
    nthreads = <int>max(1, min(<Py_ssize_t>nthreads, nparts))
    scr = parts + _max_parts(mp, K) * region        # the threads' block scratch
    # Θᵀ, Pᵀ (K, mp): each output's coefficients contiguous
    for j in range(mp):
        for c in range(K):
            tt[c * mp + j] = theta[j * K + c]
            if pdir != NULL:
                pt[c * mp + j] = pdir[j * K + c]
    p.tt = tt
    p.pt = pt if pdir != NULL else NULL
    p.hess = pdir != NULL
    for q in range(nparts):
        memset(parts + q * region, 0, region * sizeof(double))
    ctx.p, ctx.block, ctx.nblocks, ctx.nparts = p, block, nblocks, nparts
    ctx.region, ctx.la, ctx.scratch, ctx.parts, ctx.scr = region, la, scratch, parts, scr
    ctx.single = floating is float
    parallel_for(_part_task, &ctx, nparts, nthreads)
    # G = Σ_q acc_q (in part order) + 2 l2 θ (coefficients only, and only when l2 ≠ 0)
    th = pdir if pdir != NULL else theta
    for j in range(mp):
        for c in range(K):
            s = 0
            for q in range(nparts):
                s += parts[q * region + c * mp + j]
            if l2 != 0 and j < m:
                s += 2 * l2 * th[j * K + c]
            grad[j * K + c] = <floating>s
    for q in range(nparts):
        loss += parts[q * region + la]
        bad[0] += <Py_ssize_t>parts[q * region + la + 1]
    if pdir != NULL:
        return 0
    if l2 != 0:
        s = 0
        for j in range(m):
            for c in range(K):
                s += <double>theta[j * K + c] * theta[j * K + c]
        loss += l2 * s
    return NAN if bad[0] else loss


cdef inline void _problem(mc_prob* p, Py_ssize_t n, Py_ssize_t m, const Py_ssize_t* rows,
                          Py_ssize_t nrows, Py_ssize_t K, bint intercept, const void* y,
                          const void* w, int loss, double delta) noexcept nogil:
    """The fields of `p` shared by every source."""
    p.src.rows = rows
    p.src.n = nrows if rows != NULL else n
    p.src.nstore = n
    p.src.m = m
    p.loss.kind = loss
    p.loss.delta = delta
    p.K = K
    p.mp = m + intercept
    p.intercept = intercept
    p.y = y
    p.ycols = K if loss == MC_SQUARED else 1
    p.w = w


cdef double dense_loss_grad(int kind, const floating* X, Py_ssize_t n, Py_ssize_t m,
                            Py_ssize_t ld, const Py_ssize_t* rows, Py_ssize_t nrows,
                            const floating* theta, Py_ssize_t K, bint intercept,
                            const floating* y, const floating* w, int loss, double delta,
                            double l2, const floating* p, floating* grad, double* work,
                            Py_ssize_t block, int nthreads) noexcept nogil:
    """Loss, and gradient (p NULL) or Hessian product along p, for a dense X."""
    cdef mc_prob prob
    cdef Py_ssize_t bad = 0
    _problem(&prob, n, m, rows, nrows, K, intercept, y, w, loss, delta)
    prob.src.kind = kind
    prob.src.x = X
    prob.src.ld = ld
    prob.src.indices = NULL
    prob.src.indptr = NULL
    prob.src.idx64 = 0
    return _run(&prob, theta, p, l2, grad, work, block, nthreads, &bad)


cdef double csr_loss_grad(const floating* data, const void* indices, const void* indptr,
                          bint idx64, Py_ssize_t n, Py_ssize_t m,
                          const Py_ssize_t* rows, Py_ssize_t nrows,
                          const floating* theta, Py_ssize_t K, bint intercept,
                          const floating* y, const floating* w, int loss, double delta,
                          double l2, const floating* p, floating* grad, double* work,
                          Py_ssize_t block, int nthreads, Py_ssize_t* bad) noexcept nogil:
    """Loss, and gradient (p NULL) or Hessian product along p, for a CSR X."""
    cdef mc_prob prob
    _problem(&prob, n, m, rows, nrows, K, intercept, y, w, loss, delta)
    prob.src.kind = MC_SRC_CSR
    prob.src.x = data
    prob.src.ld = 0
    prob.src.indices = indices
    prob.src.indptr = indptr
    prob.src.idx64 = idx64
    return _run(&prob, theta, p, l2, grad, work, block, nthreads, bad)


cdef double staged_loss_grad(mc_stage* s, const floating* theta, const floating* p,
                            double l2, floating* grad, double* work, Py_ssize_t block,
                            int nthreads, Py_ssize_t* bad) noexcept nogil:
    """Loss, and gradient (p NULL) or Hessian product along p, for a staged X (`s`
    filled by the def entry: a float32 X under double arithmetic, or an F-ordered X;
    each block staged into C-ordered rows, mc_stage.h)."""
    return _run(&s.p, theta, p, l2, grad, work, block, nthreads, bad)


ctypedef struct _Sum:
    const void* x
    Py_ssize_t n, m, nparts
    double* part
    bint single


cdef void _sum_task(void* ctx, Py_ssize_t q, int tid) noexcept nogil:
    """Σ of part q's rows (a task of parallel_for)."""
    cdef _Sum* c = <_Sum*>ctx
    cdef Py_ssize_t i0 = q * c.n // c.nparts, i1 = (q + 1) * c.n // c.nparts
    if c.single:
        c.part[q] = mc_sum_f(<const float*>c.x + i0 * c.m, (i1 - i0) * c.m)
    else:
        c.part[q] = mc_sum_d(<const double*>c.x + i0 * c.m, (i1 - i0) * c.m)


cdef double sum_rows(const floating* X, Py_ssize_t n, Py_ssize_t m,
                     int nthreads) noexcept nogil:
    """Σ X (C-contiguous): parts of whole rows, SUM_PART elements or more each (at most
    SUM_PARTS_MAX), fixed by (n, m), summed in their order whatever thread did which."""
    cdef double part[SUM_PARTS_MAX]
    cdef double total = 0
    cdef _Sum ctx
    cdef Py_ssize_t q
    if n == 0 or m == 0:
        return 0
    ctx.x, ctx.n, ctx.m, ctx.part = X, n, m, part
    ctx.nparts = max(1, min(<Py_ssize_t>SUM_PARTS_MAX, min(n, n * m // SUM_PART)))
    ctx.single = floating is float
    parallel_for(_sum_task, &ctx, ctx.nparts, nthreads)
    for q in range(ctx.nparts):
        total += part[q]
    return total


# --------------------------------------------------------------------------------------
# the def entry: ndarrays in, pointers out; checks that keep every access in bounds
# --------------------------------------------------------------------------------------

cdef inline bint _carray(object a, int typenum):
    """a is an ndarray of type `typenum`, C-contiguous."""
    return (cnp.PyArray_Check(a) and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a))


cdef inline void* _data(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _unit(Py_ssize_t stride, Py_ssize_t length, Py_ssize_t itemsize):
    """An axis of `length` entries `stride` bytes apart is contiguous."""
    return length <= 1 or stride == itemsize


cdef inline bint _lead(Py_ssize_t stride, Py_ssize_t length, Py_ssize_t inner,
                       Py_ssize_t itemsize):
    """An outer axis steps over whole inner runs of `inner` entries (any step for one)."""
    return length <= 1 or (stride >= 0 and stride % itemsize == 0
                           and stride // itemsize >= inner)


def _fail(what):
    raise ValueError(f"engine.loss_grad: {what}")


def _fail_in(func, what):
    raise ValueError(f"{func}: {what}")


cdef bint _fits(int kind, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t n, Py_ssize_t m,
               Py_ssize_t itemsize) noexcept:
    """A dense (n, m) X with byte strides (s0, s1) can be read as source `kind`: C rows
    (unit stride along a row, whole rows apart) or F columns (the transpose)."""
    if kind == SRC_C:
        return _unit(s1, m, itemsize) and _lead(s0, n, m, itemsize)
    if kind == SRC_F:
        return _unit(s0, n, itemsize) and _lead(s1, m, n, itemsize)
    return False


def dense_kind(X):
    """The source kind a dense 2-D ndarray X is read in place as: SOURCE_KINDS["C"] (unit
    stride along its rows, rows whole rows apart, C order first), ["F"] (the transpose),
    or -1 (neither: the caller copies X to C order). The one place strides are classified
    (mcfast._onepass.Problem calls it once; the def entries only check its answer)."""
    cdef cnp.ndarray ax = X
    if cnp.PyArray_NDIM(ax) != 2:
        raise ValueError("dense_kind: X must be 2-D")
    cdef Py_ssize_t size = cnp.PyArray_ITEMSIZE(ax)
    for kind in (SRC_C, SRC_F):
        if _fits(kind, ax.strides[0], ax.strides[1], ax.shape[0], ax.shape[1], size):
            return kind
    return -1


cdef int check_entry(str func, X, indices, indptr, tuple shape, int kind, rows, theta, y,
                     w, int loss, bint intercept, entry_args* a) except -1:
    """The checks every def entry over a linear-model problem shares (the engine's
    loss_grad, the Hessian's hessian): dtypes, θ's shape, y, w, rows=, and that X can
    be read as the source `kind` the caller classified (`dense_kind`; CSR with
    `indices`), filling `a`. Raises ValueError ("func: what") on anything that would
    read or write out of bounds."""
    cdef cnp.ndarray ax = X
    a.xtype = cnp.PyArray_TYPE(ax)
    a.typenum = cnp.PyArray_TYPE(<cnp.ndarray>theta) if cnp.PyArray_Check(theta) else -1
    # a float32 X under float64 arithmetic is read in place, widened as it is read
    a.mixed = a.xtype == cnp.NPY_FLOAT and a.typenum == cnp.NPY_DOUBLE
    cdef int typenum = a.typenum
    if typenum == cnp.NPY_DOUBLE:
        a.itemsize = 8
    elif typenum == cnp.NPY_FLOAT:
        a.itemsize = 4
    else:
        _fail_in(func, "theta must be float32 or float64")
    if a.xtype != typenum and not a.mixed:
        _fail_in(func, "X must have theta's dtype, or be float32 under float64 arithmetic")
    cdef Py_ssize_t n = shape[0], m = shape[1]
    if n < 0 or m < 0:
        _fail_in(func, "bad shape")
    if not (_carray(theta, typenum) and cnp.PyArray_NDIM(<cnp.ndarray>theta) in (1, 2)):
        _fail_in(func, "theta must be C-contiguous, 1-D or 2-D")
    cdef Py_ssize_t K = theta.shape[1] if theta.ndim == 2 else 1
    a.K, a.m, a.mp = K, m, m + intercept
    if theta.shape[0] != a.mp:
        _fail_in(func, "theta must have m (+ 1 with an intercept) rows")
    if (loss < MC_SQUARED or loss > MC_MULTINOMIAL
            or (loss != MC_SQUARED and loss != MC_MULTINOMIAL and K != 1)):
        _fail_in(func, "unknown loss, or a 2-D theta for a single-output loss")
    a.ycols = K if loss == MC_SQUARED else 1
    if y is None:
        if loss != MC_SQUARED:
            _fail_in(func, "y is needed for this loss")
    elif not ((_carray(y, typenum) or (a.mixed and _carray(y, cnp.NPY_FLOAT)))
              and y.size == n * a.ycols):
        _fail_in(func, "y must be C-contiguous, of theta's dtype (or float32 with a float32 "
                 "X), with n (x K for squared) entries")
    if w is not None and not ((_carray(w, typenum) or (a.mixed and _carray(w, cnp.NPY_FLOAT)))
                              and w.size == n):
        _fail_in(func, "w must be C-contiguous, of theta's dtype (or float32 with a float32 "
                 "X), with n entries")
    cdef Py_ssize_t i
    a.nrows, a.rows = 0, NULL
    if rows is not None:
        if not (_carray(rows, cnp.NPY_INTP) and cnp.PyArray_NDIM(<cnp.ndarray>rows) == 1):
            _fail_in(func, "rows must be a C-contiguous 1-D intp array")
        a.nrows = rows.shape[0]
        a.rows = <const Py_ssize_t*>cnp.PyArray_DATA(<cnp.ndarray>rows)
        for i in range(a.nrows):
            if a.rows[i] < 0 or a.rows[i] >= n:
                _fail_in(func, "rows out of range")
        if a.nrows == 0:
            a.rows = NULL
            n = 0
    a.n = n
    a.kind, a.ld, a.longest, a.idx64 = kind, 0, 0, False
    cdef Py_ssize_t s0, s1, xsize
    cdef int itype
    if (indices is None) == (kind == MC_SRC_CSR):
        _fail_in(func, "kind must be CSR exactly when indices are given")
    if indices is None:
        if cnp.PyArray_NDIM(ax) != 2 or ax.shape[0] != shape[0] or ax.shape[1] != m:
            _fail_in(func, "X must be 2-D of the given shape")
        s0, s1 = ax.strides[0], ax.strides[1]
        xsize = cnp.PyArray_ITEMSIZE(ax)
        if not _fits(kind, s0, s1, ax.shape[0], m, xsize):
            _fail_in(func, "X must have unit stride along the axis its kind names")
        if kind == SRC_C:
            a.ld = s0 // xsize if ax.shape[0] > 1 else m
        else:
            a.ld = s1 // xsize if m > 1 else ax.shape[0]
    else:
        if not (_carray(X, a.xtype) and cnp.PyArray_NDIM(ax) == 1):
            _fail_in(func, "CSR data must be C-contiguous 1-D")
        if not (cnp.PyArray_Check(indices) and cnp.PyArray_Check(indptr)):
            _fail_in(func, "CSR indices and indptr must be ndarrays")
        a.idx64 = cnp.PyArray_TYPE(<cnp.ndarray>indices) == cnp.NPY_INT64
        itype = cnp.NPY_INT64 if a.idx64 else cnp.NPY_INT32
        if not (_carray(indices, itype) and _carray(indptr, itype)
                and indices.ndim == 1 and indptr.ndim == 1
                and indptr.shape[0] == shape[0] + 1):
            _fail_in(func, "CSR indices and indptr must be C-contiguous 1-D int32 or int64 "
                     "of one type, indptr of n + 1 entries")
        a.longest = _indptr_scan(indptr, min(ax.shape[0], indices.shape[0]))
        if a.longest < 0:
            _fail_in(func, "CSR indptr must be non-decreasing within the stored entries")
    return 0


def plan(int kind, Py_ssize_t n, Py_ssize_t m, Py_ssize_t K, Py_ssize_t itemsize,
         Py_ssize_t elements, int max_threads):
    """(rows per block, threads) for a source of `kind` (0 C, 1 F, 2 CSR) of n rows,
    m columns, K outputs and `elements` entries to read (n·m dense, nnz sparse);
    `max_threads` 0: as many as the process allows now."""
    if itemsize < 1 or n < 0 or m < 0 or K < 0:
        raise ValueError("plan: sizes must be >= 0 and itemsize >= 1")
    cdef Py_ssize_t block = plan_block(kind, m, K, itemsize)
    return block, plan_threads(elements * max(K, 1), (n + block - 1) // block, max_threads)


def loss_grad(X, indices, indptr, tuple shape, int kind, rows, theta, p, y, w, int loss,
              double delta, bint intercept, double l2, grad, Py_ssize_t block,
              int nthreads):
    """Σ w ℓ(XΘ (+ b), y) + l2‖Θ[:m]‖², writing its gradient (or, with a direction p,
    the Hessian product) into `grad` (Θ's shape).

    X: a 2-D ndarray with unit stride along one axis (row-major or column-major), or,
    with `indices` and `indptr` (int32 or int64, C-contiguous), a CSR matrix's data.
    shape: (n, m) of X. kind: its source kind (SOURCE_KINDS; dense: `dense_kind(X)`,
    classified once by the caller, checked here). rows: None or C-contiguous intp
    indices into 0 … n−1. theta, p, grad: C-contiguous (mp,) or (mp, K), mp = m +
    intercept; y: (n,), or (n, K) for
    squared with a 2-D Θ; w: (n,); y and w may be None (y only for squared). θ, p and
    grad share one float dtype, the arithmetic's; X, y and w share it too, except that
    under float64 arithmetic a float32 X is read in place and widened block by block
    (mc_stage.h), and y and w may then each be float32 or float64. mcfast.linear_loss
    validates and names arguments first; this refuses only what would read or write out
    of bounds.
    """
    cdef entry_args a
    check_entry("engine.loss_grad", X, indices, indptr, shape, kind, rows, theta, y, w,
                loss, intercept, &a)
    cdef cnp.ndarray ax = X
    cdef int xtype = a.xtype, typenum = a.typenum
    cdef bint mixed = a.mixed, idx64 = a.idx64
    cdef Py_ssize_t n = a.n, m = a.m, K = a.K, mp = a.mp, ycols = a.ycols
    cdef Py_ssize_t nrows = a.nrows, ld = a.ld, longest = a.longest, itemsize = a.itemsize
    cdef const Py_ssize_t* rp = a.rows
    if block < 1 or nthreads < 1:
        _fail("bad block or nthreads")
    if not (_carray(grad, typenum) and grad.shape == theta.shape
            and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>grad)):
        _fail("grad must be C-contiguous, writeable, of theta's dtype and shape")
    if p is not None and not (_carray(p, typenum) and p.shape == theta.shape):
        _fail("p must be C-contiguous, of theta's dtype and shape")
    # staged (mc_stage.h): a float32 X under double arithmetic. F order of one dtype
    # stays on mc_group.h's column runs read in place: transposed into C rows (the
    # staging with df32 / double) it took 2.8-3.4x the C floor against 1.9-2.0x
    # (bench/bench_mixed.py, 2e6 x 32, two threads, Zen 4)
    cdef bint staged = mixed
    cdef mc_stage stage
    if staged:      # X as stored in stage.src
        _problem(&stage.p, n, m, rp, nrows, K, intercept, NULL, NULL, loss, delta)
        stage.src = stage.p.src
        stage.src.kind = kind
        stage.src.x = cnp.PyArray_DATA(ax)
        stage.src.ld = ld
        stage.src.indices = _data(indices)
        stage.src.indptr = _data(indptr)
        stage.src.idx64 = idx64
        stage.p.src.kind = MC_SRC_STAGED
        stage.xf32 = xtype == cnp.NPY_FLOAT
        stage.df32 = typenum == cnp.NPY_FLOAT
        stage.y = _data(y)
        stage.w = _data(w)
        stage.yf32 = y is not None and cnp.PyArray_TYPE(<cnp.ndarray>y) == cnp.NPY_FLOAT
        stage.wf32 = w is not None and cnp.PyArray_TYPE(<cnp.ndarray>w) == cnp.NPY_FLOAT
        stage.sub = mc_stage_rows(kind, m, itemsize, block)
        stage.ent = max(<Py_ssize_t>MC_STAGE_ENTRIES,
                        longest if kind == MC_SRC_CSR else 0)
    cdef Py_ssize_t need = (work_size(mp, K, ycols, block, nthreads, itemsize)
                            + (nthreads * mc_stage_items(&stage.p, block) if staged else 0))
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    cdef double out
    cdef Py_ssize_t bad = 0
    cdef void* px = cnp.PyArray_DATA(ax)
    cdef void* pi = _data(indices)
    cdef void* pp = _data(indptr)
    cdef void* pth = _data(theta)
    cdef void* pd = _data(p)
    cdef void* py = _data(y)
    cdef void* pw = _data(w)
    cdef void* pg = _data(grad)
    with nogil:
        if staged and typenum == cnp.NPY_DOUBLE:
            out = staged_loss_grad(&stage, <const double*>pth, <const double*>pd, l2,
                                   <double*>pg, work, block, nthreads, &bad)
        elif staged:
            out = staged_loss_grad(&stage, <const float*>pth, <const float*>pd, l2,
                                   <float*>pg, work, block, nthreads, &bad)
        elif kind == MC_SRC_CSR:
            if typenum == cnp.NPY_DOUBLE:
                out = csr_loss_grad(<const double*>px, pi, pp, idx64, n, m, rp, nrows,
                                    <const double*>pth, K, intercept, <const double*>py,
                                    <const double*>pw, loss, delta, l2, <const double*>pd,
                                    <double*>pg, work, block, nthreads, &bad)
            else:
                out = csr_loss_grad(<const float*>px, pi, pp, idx64, n, m, rp, nrows,
                                    <const float*>pth, K, intercept, <const float*>py,
                                    <const float*>pw, loss, delta, l2, <const float*>pd,
                                    <float*>pg, work, block, nthreads, &bad)
        elif typenum == cnp.NPY_DOUBLE:
            out = dense_loss_grad(kind, <const double*>px, n, m, ld, rp, nrows,
                                  <const double*>pth, K, intercept, <const double*>py,
                                  <const double*>pw, loss, delta, l2, <const double*>pd,
                                  <double*>pg, work, block, nthreads)
        else:
            out = dense_loss_grad(kind, <const float*>px, n, m, ld, rp, nrows,
                                  <const float*>pth, K, intercept, <const float*>py,
                                  <const float*>pw, loss, delta, l2, <const float*>pd,
                                  <float*>pg, work, block, nthreads)
    if bad:
        raise ValueError(f"X (CSR) has {bad} column indices outside 0 ... {m - 1}")
    return out


cdef Py_ssize_t _indptr_scan(cnp.ndarray indptr, Py_ssize_t nnz):
    """The most stored entries of one row of a CSR matrix, or -1 unless indptr starts at
    >= 0, never decreases, and ends within the stored entries."""
    cdef Py_ssize_t i, n = indptr.shape[0], a, b, most = 0
    cdef const int* p32 = NULL
    cdef const long long* p64 = NULL
    if cnp.PyArray_TYPE(indptr) == cnp.NPY_INT64:
        p64 = <const long long*>cnp.PyArray_DATA(indptr)
    else:
        p32 = <const int*>cnp.PyArray_DATA(indptr)
    a = p64[0] if p64 != NULL else p32[0]
    if a < 0:
        return -1
    for i in range(1, n):
        b = p64[i] if p64 != NULL else p32[i]
        if b < a:
            return -1
        most = max(most, b - a)
        a = b
    return most if a <= nnz else -1


def row_sum(X, int nthreads):
    """Σ X read once (C-contiguous float32/float64), the rows over `nthreads` threads."""
    cdef cnp.ndarray a = X
    if nthreads < 1 or cnp.PyArray_NDIM(a) != 2 or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError("row_sum: a C-contiguous 2-D X and nthreads >= 1 are needed")
    cdef Py_ssize_t n = a.shape[0], m = a.shape[1]
    cdef void* px = cnp.PyArray_DATA(a)
    cdef double total
    if cnp.PyArray_TYPE(a) == cnp.NPY_DOUBLE:
        with nogil:
            total = sum_rows(<const double*>px, n, m, nthreads)
    elif cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT:
        with nogil:
            total = sum_rows(<const float*>px, n, m, nthreads)
    else:
        raise ValueError("row_sum: X must be float32 or float64")
    return total


def index_extremes(rows):
    """(min, max) of a C-contiguous 1-D intp array (rows=), one compiled pass; (0, -1)
    when it is empty. The Python side's range check of rows=, without NumPy's two
    reductions."""
    cdef cnp.ndarray ar = rows
    if not (_carray(rows, cnp.NPY_INTP) and cnp.PyArray_NDIM(ar) == 1):
        raise ValueError("index_extremes: rows must be a C-contiguous 1-D intp array")
    cdef const Py_ssize_t* r = <const Py_ssize_t*>cnp.PyArray_DATA(ar)
    cdef Py_ssize_t i, k = ar.shape[0], lo = 0, hi = -1
    if k:
        lo = hi = r[0]
        with nogil:
            for i in range(1, k):
                lo = min(lo, r[i])
                hi = max(hi, r[i])
    return lo, hi


cdef extern from "mc_rows.h":
    enum: MC_TAKE_AHEAD
    void MC_PREFETCH_LINE(const void* p) noexcept nogil


cdef extern from "mc_extremes.h":
    void mc_extremes_d(const char* x, Py_ssize_t n, Py_ssize_t stride, double* out) noexcept nogil
    void mc_extremes_f(const char* x, Py_ssize_t n, Py_ssize_t stride, double* out) noexcept nogil


ctypedef struct _Extremes:
    const char* x
    Py_ssize_t n, stride, nparts
    bint single
    double* out             # lo, hi, Σ(v − v) of each part


cdef void _extremes_task(void* ctx, Py_ssize_t q, int tid) noexcept nogil:
    """The extremes of part q of the targets (a task of parallel_for)."""
    cdef _Extremes* c = <_Extremes*>ctx
    cdef Py_ssize_t i0 = q * c.n // c.nparts, i1 = (q + 1) * c.n // c.nparts
    if c.single:
        mc_extremes_f(c.x + i0 * c.stride, i1 - i0, c.stride, c.out + 3 * q)
    else:
        mc_extremes_d(c.x + i0 * c.stride, i1 - i0, c.stride, c.out + 3 * q)


def value_extremes(y):
    """(min, max) of a 1-D native float32/float64 y (any stride) in one pass, on the
    threads a read of y takes (parts fixed by its length); None when y holds a NaN or an
    infinity (the caller then asks NumPy, whose rules for those it keeps), or when y is
    not such an array. A loss's domain check without NumPy's two passes."""
    if not cnp.PyArray_Check(y):
        return None
    cdef cnp.ndarray ay = y
    cdef int t = cnp.PyArray_TYPE(ay)
    if cnp.PyArray_NDIM(ay) != 1 or not (t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT) \
            or not cnp.PyArray_ISNOTSWAPPED(ay) or ay.shape[0] == 0:
        return None
    cdef double out[3 * SUM_PARTS_MAX]
    cdef _Extremes ctx
    cdef Py_ssize_t q, n = ay.shape[0]
    cdef double lo, hi, z = 0
    ctx.x, ctx.n, ctx.stride = <const char*>cnp.PyArray_DATA(ay), n, ay.strides[0]
    ctx.single, ctx.out = t == cnp.NPY_FLOAT, out
    ctx.nparts = max(1, min(<Py_ssize_t>SUM_PARTS_MAX, n // SUM_PART))
    cdef int nthreads = plan_threads(n, ctx.nparts, 0)
    with nogil:
        parallel_for(_extremes_task, &ctx, ctx.nparts, nthreads)
    lo, hi = out[0], out[1]
    for q in range(ctx.nparts):
        lo = min(lo, out[3 * q])
        hi = max(hi, out[3 * q + 1])
        z += out[3 * q + 2]
    if z != z:
        return None
    return lo, hi


def take_extremes(y, rows):
    """(min, max) of y[rows] without gathering it, as NumPy's y[rows].min() and .max()
    give them: (nan, nan) when a value is NaN, (inf, −inf) when rows is empty. y: 1-D
    float32 or float64, native, any stride; rows: a C-contiguous 1-D intp array of
    indices in 0 … len(y)−1 (else ValueError). A minibatch's domain check (rows=) in one
    compiled pass."""
    cdef cnp.ndarray ay = y, ar = rows
    cdef int t = cnp.PyArray_TYPE(ay)
    if cnp.PyArray_NDIM(ay) != 1 or not (t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT) \
            or not cnp.PyArray_ISNOTSWAPPED(ay):
        raise ValueError("take_extremes: y must be 1-D native float32 or float64")
    if not (_carray(rows, cnp.NPY_INTP) and cnp.PyArray_NDIM(ar) == 1):
        raise ValueError("take_extremes: rows must be a C-contiguous 1-D intp array")
    cdef const Py_ssize_t* r = <const Py_ssize_t*>cnp.PyArray_DATA(ar)
    cdef const char* base = <const char*>cnp.PyArray_DATA(ay)
    cdef Py_ssize_t i, j, k = ar.shape[0], n = ay.shape[0], stride = ay.strides[0]
    cdef double v, lo = INFINITY, hi = -INFINITY
    cdef bint bad = False, nan = False
    with nogil:
        for i in range(k):
            j = r[i]
            if i + MC_TAKE_AHEAD < k and 0 <= r[i + MC_TAKE_AHEAD] < n:
                MC_PREFETCH_LINE(base + r[i + MC_TAKE_AHEAD] * stride)
            if j < 0 or j >= n:
                bad = True
                break
            if t == cnp.NPY_DOUBLE:
                v = (<const double*>(base + j * stride))[0]
            else:
                v = (<const float*>(base + j * stride))[0]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
            elif v != v:
                nan = True
    if bad:
        raise ValueError("take_extremes: rows out of range")
    if nan:
        lo = hi = NAN
    return lo, hi


mc_set_level(-1)   # the best instruction set this CPU has

# the C headers' codes (mc_loss.h, mc_rows.h), defined there once, for the Python side
LOSS_CODES = {"squared": MC_SQUARED, "logistic": MC_LOGISTIC, "poisson": MC_POISSON,
              "huber": MC_HUBER, "multinomial": MC_MULTINOMIAL}
SOURCE_KINDS = {"C": MC_SRC_C, "F": MC_SRC_F, "CSR": MC_SRC_CSR}   # plan()'s kind
# the cut-offs that size a block and pick a path (mc_limits.h, which says what each is)
THRESHOLDS = {
    "block_bytes_c": MC_BLOCK_BYTES_C, "block_bytes_f": MC_BLOCK_BYTES_F,
    "group_rows": MC_GROUP_ROWS, "block_rows": MC_BLOCK_ROWS,
    "block_rows_f_min": MC_BLOCK_ROWS_F_MIN, "block_rows_f": MC_BLOCK_ROWS_F,
    "narrow_vectors": MC_NARROW_VECTORS, "aligned_max": MC_AL_MAX,
    "f_bytes": MC_F_BYTES, "f_rows": MC_F_ROWS,
    "stage_c_bytes": MC_STAGE_C_BYTES, "stage_f_bytes": MC_STAGE_F_BYTES,
    "stage_entries": MC_STAGE_ENTRIES,
}
if <int>SRC_C != <int>MC_SRC_C or <int>SRC_F != <int>MC_SRC_F:   # _engine.pxd's copies
    raise ImportError("mcfast._kernels._engine: _engine.pxd's SRC_C/SRC_F differ from mc_rows.h")

_LEVEL_NAMES = ("baseline", "avx2", "avx512")


def set_simd_level(int level):
    """Use SIMD level `level` (0 baseline, 1 AVX2+FMA, 2 AVX-512; -1 the best there is).

    Levels the CPU lacks are clipped to the best it has. Returns the previous level.
    For tests and benchmarks: not thread-safe against concurrent kernel calls.
    """
    return mc_set_level(level)


def simd_level():
    """(level in use, best level of this CPU, name of the level in use)."""
    cdef int level = mc_get_level()
    return level, mc_cpu_level(), _LEVEL_NAMES[level]

# cython: language_level=3
"""Batched kernels for stacks of small square chains: jacobian, grad and tangent over (B, n, n) links.

The C is in mc_stack.h (instances in mc_stack_inl.h): this module checks the arrays,
splits the chains into chunks (whole chains, a multiple of MC_STK_CHUNK_ALIGN each, so
results do not depend on the thread count), releases the GIL and runs the chunks over
the threads it may use now (_threads.pxd).
"""
cimport numpy as cnp
from ._threads cimport openmp_effective_n_threads, parallel_for
from ._ndarray cimport disjoint, plain

import numpy as np

__all__ = ["stack_chain", "fast_stack", "served", "set_simd_level", "simd_level", "ran_level",
           "compact_ns", "set_compact_ns", "set_compact_table", "chunk_chains",
           "fma_peak",
           "GRAD", "TANGENT", "JACOBIAN", "JACOBIAN_REVERSE", "READ", "READ_BLOCK",
           "CHUNK_ALIGN"]

cnp.import_array()

cdef extern from "mc_stack.h":
    ctypedef struct mc_stk:
        Py_ssize_t n
        Py_ssize_t nlinks
        const void* const* link
        const Py_ssize_t* bstride
        const unsigned char* diag
        const void* vec
        Py_ssize_t vstride
        void* out
        int mode
        int stream
    enum:
        MC_STK_GRAD
        MC_STK_TAN
        MC_STK_JAC
        MC_STK_JAC_REVERSE
        MC_STK_READ
        MC_STK_READ_BLOCK
        MC_STK_CHUNK_ALIGN
        MC_STK_LEVELS
    ctypedef struct mc_stk_kern:
        int (*run_d)(const mc_stk* s, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
        int (*run_f)(const mc_stk* s, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
        int level
    unsigned int mc_stk_compact_ns[MC_STK_LEVELS][2][2]
    const mc_stk_kern* mc_stk_kern_now() noexcept nogil
    int mc_stk_served(Py_ssize_t n) noexcept nogil
    int mc_stk_streams(int mode, Py_ssize_t out_bytes) noexcept nogil
    bint MC_STK_IS_JAC(int mode) noexcept nogil
    int mc_set_level(int level) noexcept nogil
    int mc_get_level() noexcept nogil
    int mc_cpu_level() noexcept nogil

cdef extern from "mc_peak.h":
    int mc_fma_lanes() noexcept nogil
    double mc_fma_loop(Py_ssize_t iters, double m, double a) noexcept nogil

GRAD = MC_STK_GRAD
TANGENT = MC_STK_TAN
JACOBIAN = MC_STK_JAC
JACOBIAN_REVERSE = MC_STK_JAC_REVERSE
READ = MC_STK_READ          # not a rule: the benchmark's floor (mc_stack_read.h)
READ_BLOCK = MC_STK_READ_BLOCK
CHUNK_ALIGN = MC_STK_CHUNK_ALIGN

cdef enum:
    # A task (chunk) of a call reads about 1/TASKS_PER_THREAD of a thread's share of the
    # links, between CHUNK_MIN and CHUNK_MAX bytes. Long runs let the prefetchers stream:
    # 32 KB tasks, as before, read 64 MB of links from memory at 1.2-3.0x a two-thread
    # read of as many bytes, 384 KB-1.5 MB ones at 0.9-1.3x (a C model of the walk on
    # Zen 3, /tmp/rd/rd2.c in session 17's note). Four a thread keep the load balanced.
    CHUNK_MIN = 32 * 1024
    CHUNK_MAX = 1024 * 1024
    TASKS_PER_THREAD = 4
    PARALLEL_MIN = 1 << 16      # link elements of a call below which one thread runs it
    MAX_LINKS = 64              # links of a chain on this path

_LEVEL_NAMES = ("baseline", "avx2", "avx512")


cdef int _ran_level = -1     # the level of the table the last stack_chain call ran


ctypedef struct _Chunks:
    const mc_stk* s
    const mc_stk_kern* kern     # the instruction set's table, picked once per call
    Py_ssize_t chunk, nchains
    bint dbl


cdef void _run_chunk(void* ctx, Py_ssize_t c, int tid) noexcept nogil:
    """Chains c * chunk .. of the stack, whole, at the instruction set in use (a task of
    parallel_for: any thread, the same bits)."""
    cdef _Chunks* k = <_Chunks*>ctx
    cdef Py_ssize_t c0 = c * k.chunk, c1 = min(c0 + k.chunk, k.nchains)
    if k.dbl:
        k.kern.run_d(k.s, c0, c1)
    else:
        k.kern.run_f(k.s, c0, c1)


def served(Py_ssize_t n):
    """True when stacks of n × n links run here."""
    return bool(mc_stk_served(n))


def stack_chain(list links not None,                        # IN  nlinks C-contiguous arrays
                tuple diag not None,                        # IN  (nlinks,) true: Diagonal
                tuple bstride not None,                     # IN  (nlinks,) elements per chain, 0: shared
                object vec,                                 # IN  vectors (grad/tangent) or None
                Py_ssize_t vstride,                         # IN  elements per chain of vec, 0: shared
                cnp.ndarray out not None,                   # OUT (nchains, n) or (nchains, n, n)
                Py_ssize_t n,                               # IN  the matrix size
                Py_ssize_t nchains,
                int mode):                                  # IN  GRAD, TANGENT, JACOBIAN[_REVERSE], READ
    """Run one of the stack kernels over every chain; the arrays share out's dtype.

    READ is the benchmark's floor, not a rule: out[c] = vec[c] + the sum of every link
    element of the chains of c's block (chains READ_BLOCK * (c // READ_BLOCK) onwards), each
    link's part of a block read as one run, over the chunks and threads of GRAD and TANGENT.

    Returns False (and does nothing) when n is not served. Raises ValueError on
    arguments that do not fit together (the caller, mcfast.chain, checks the shapes).
    """
    cdef Py_ssize_t nlinks = len(links), k, per, elems = 0
    cdef int typenum = cnp.PyArray_TYPE(out)
    cdef bint dbl = typenum == cnp.NPY_DOUBLE
    cdef bint jac = MC_STK_IS_JAC(mode)
    cdef const void* ptrs[MAX_LINKS]
    cdef unsigned char flags[MAX_LINKS]
    cdef Py_ssize_t strides[MAX_LINKS]
    cdef mc_stk s
    cdef cnp.ndarray a
    if not mc_stk_served(n):
        return False
    if (nlinks < 1 or nlinks > MAX_LINKS or len(diag) != nlinks
            or len(bstride) != nlinks or mode < MC_STK_GRAD or mode > MC_STK_READ
            or jac == (vec is not None)
            or not (dbl or typenum == cnp.NPY_FLOAT) or not cnp.PyArray_IS_C_CONTIGUOUS(out)
            or cnp.PyArray_SIZE(out) != nchains * n * (n if jac else 1)):
        raise ValueError("stack_chain: inconsistent arguments")
    for k in range(nlinks):
        a = <cnp.ndarray?>links[k]
        flags[k] = 1 if diag[k] else 0
        strides[k] = bstride[k]
        per = n if flags[k] else n * n
        if (cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(a)
                or (strides[k] != 0 and strides[k] != per)
                or cnp.PyArray_SIZE(a) < (nchains if strides[k] else 1) * per):
            raise ValueError(f"stack_chain: link {k} does not fit")
        ptrs[k] = cnp.PyArray_DATA(a)
        elems += per if strides[k] else 0
    s.n, s.nlinks, s.link, s.bstride, s.diag = n, nlinks, ptrs, strides, flags
    s.vec, s.vstride, s.out, s.mode = NULL, vstride, cnp.PyArray_DATA(out), mode
    s.stream = mc_stk_streams(mode, cnp.PyArray_NBYTES(out))
    if vec is not None:
        a = <cnp.ndarray?>vec
        if (cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(a)
                or (vstride != 0 and vstride != n)
                or cnp.PyArray_SIZE(a) < (nchains if vstride else 1) * n):
            raise ValueError("stack_chain: the vectors do not fit")
        s.vec = cnp.PyArray_DATA(a)
    if jac:
        for k in range(nlinks):
            if not flags[k]:
                break
        else:
            raise ValueError("stack_chain: a chain of Diagonals only")
    _run(&s, nchains, elems, cnp.PyArray_ITEMSIZE(out), dbl)
    return True


cpdef Py_ssize_t chunk_chains(Py_ssize_t nchains, Py_ssize_t chain_bytes, int nthreads):
    """Chains per task of a call on nthreads threads (a multiple of MC_STK_CHUNK_ALIGN):
    about TASKS_PER_THREAD tasks a thread, each between CHUNK_MIN and CHUNK_MAX bytes of
    links (chain_bytes a chain). Any chunking gives the same bits: a chain is computed
    whole by one thread."""
    cdef Py_ssize_t total = nchains * max(chain_bytes, 1)
    cdef Py_ssize_t target = total // (max(nthreads, 1) * TASKS_PER_THREAD)
    target = min(max(target, CHUNK_MIN), CHUNK_MAX)
    return max(target // max(chain_bytes, 1) // MC_STK_CHUNK_ALIGN, 1) * MC_STK_CHUNK_ALIGN


cdef void _run(const mc_stk* s, Py_ssize_t nchains, Py_ssize_t elems, Py_ssize_t item,
               bint dbl) noexcept:
    """Every chain of `s` (checked), `elems` link elements a chain: chunks of whole chains
    (chunk_chains) over the threads of this call, the GIL released."""
    cdef int nthreads = openmp_effective_n_threads() if nchains * elems >= PARALLEL_MIN else 1
    cdef Py_ssize_t chunk = chunk_chains(nchains, elems * item, nthreads), nchunks
    cdef _Chunks ctx
    nchunks = (nchains + chunk - 1) // chunk
    nthreads = <int>min(nthreads, nchunks)
    ctx.s, ctx.chunk, ctx.nchains, ctx.dbl = s, chunk, nchains, dbl
    ctx.kern = mc_stk_kern_now()
    global _ran_level
    _ran_level = ctx.kern.level
    with nogil:
        parallel_for(_run_chunk, &ctx, nchunks, nthreads)


def fast_stack(object links, object vec, int mode, type diagonal, bint dense_only=False,
               object out=None):
    """The cheap entry of mcfast.grad_chain, tangent_chain (`vec` the vectors) and
    jacobian_chain (`vec` None; `mode` JACOBIAN or JACOBIAN_REVERSE) for the common stack:
    a list or tuple of links, each an exact C-contiguous ndarray (B, n, n) or a
    `diagonal` over one (B, n), all of one float dtype and one B ≥ 1, vec (B, n), n
    served; `dense_only`: no Diagonal. `out`: a plain writeable array of the result's
    shape and dtype that shares no memory with the operands, or None. Returns the result
    (`out` or a new array), or None for anything else (the general path, which checks and
    explains). The same kernels, so the same bits, as the general path."""
    cdef Py_ssize_t nlinks, k, n = 0, nchains = 0, elems = 0
    cdef int typenum = -1, ndim
    cdef bint dense = False
    cdef const void* ptrs[MAX_LINKS]
    cdef unsigned char flags[MAX_LINKS]
    cdef Py_ssize_t strides[MAX_LINKS]
    cdef cnp.npy_intp shape[3]
    cdef cnp.ndarray a
    cdef mc_stk s
    if type(links) is not list and type(links) is not tuple:
        return None
    nlinks = len(links)
    if (not 1 <= nlinks <= MAX_LINKS or not MC_STK_GRAD <= mode <= MC_STK_JAC_REVERSE
            or (vec is None) != (mode >= MC_STK_JAC)):
        return None
    for k in range(nlinks):
        obj = links[k]
        flags[k] = type(obj) is diagonal
        if flags[k]:
            if dense_only:
                return None
            obj = obj.diagonal
        if type(obj) is not cnp.ndarray:
            return None
        a = <cnp.ndarray>obj
        if typenum < 0:
            if cnp.PyArray_NDIM(a) < 1:
                return None
            typenum = cnp.PyArray_TYPE(a)
            if typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT:
                return None
            nchains, n = cnp.PyArray_DIMS(a)[0], cnp.PyArray_DIMS(a)[cnp.PyArray_NDIM(a) - 1]
            if nchains < 1 or not mc_stk_served(n):
                return None
        ndim = 2 if flags[k] else 3
        if (not plain(a, typenum, ndim) or cnp.PyArray_DIMS(a)[0] != nchains
                or cnp.PyArray_DIMS(a)[1] != n or (ndim == 3 and cnp.PyArray_DIMS(a)[2] != n)):
            return None
        dense = dense or not flags[k]
        ptrs[k] = cnp.PyArray_DATA(a)
        strides[k] = n if flags[k] else n * n
        elems += strides[k]
    s.n, s.nlinks, s.link, s.bstride, s.diag = n, nlinks, ptrs, strides, flags
    s.vec, s.vstride, s.mode = NULL, n, mode
    shape[0], shape[1], shape[2] = nchains, n, n
    if vec is not None:
        if (type(vec) is not cnp.ndarray or not plain(vec, typenum, 2)
                or cnp.PyArray_DIMS(<cnp.ndarray>vec)[0] != nchains
                or cnp.PyArray_DIMS(<cnp.ndarray>vec)[1] != n):
            return None
        s.vec = cnp.PyArray_DATA(<cnp.ndarray>vec)
    elif not dense or nlinks < 2:
        return None         # Diagonals only (a Diagonal result), one link (a copy)
    ndim = 2 if vec is not None else 3
    if out is None:
        out = cnp.PyArray_EMPTY(ndim, shape, typenum, 0)
    elif (not plain(out, typenum, ndim) or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
          or cnp.PyArray_DIMS(<cnp.ndarray>out)[0] != nchains
          or cnp.PyArray_DIMS(<cnp.ndarray>out)[1] != n
          or (ndim == 3 and cnp.PyArray_DIMS(<cnp.ndarray>out)[2] != n)
          or (vec is not None and not disjoint(<cnp.ndarray>out, <cnp.ndarray>vec))):
        return None
    else:
        for k in range(nlinks):
            obj = links[k].diagonal if flags[k] else links[k]
            if not disjoint(<cnp.ndarray>out, <cnp.ndarray>obj):
                return None
    s.out = cnp.PyArray_DATA(<cnp.ndarray>out)
    s.stream = mc_stk_streams(mode, cnp.PyArray_NBYTES(<cnp.ndarray>out))
    _run(&s, nchains, elems, cnp.PyArray_ITEMSIZE(<cnp.ndarray>out), typenum == cnp.NPY_DOUBLE)
    return out


def ran_level():
    """The level (0 baseline, 1 AVX2+FMA, 2 AVX-512) the kernels of the last stack_chain
    call were compiled for; -1 before the first. For tests of MCFAST_SIMD."""
    return _ran_level


mc_set_level(-1)   # the best instruction set this CPU has


def set_simd_level(int level):
    """Use SIMD level `level` in the stack kernels (0 baseline, 1 AVX2+FMA, 2 AVX-512; -1
    the best there is), clipped to what the CPU has. Returns the previous level. For tests
    and benchmarks: not thread-safe against concurrent kernel calls."""
    return mc_set_level(level)


def simd_level():
    """(level in use, best level of this CPU, name of the level in use)."""
    cdef int level = mc_get_level()
    return level, mc_cpu_level(), _LEVEL_NAMES[level]


def compact_ns():
    """The n run in the compact layout, by level (0 baseline, 1 AVX2+FMA, 2 AVX-512): a
    tuple of ((float64, float32) for grad/tangent, the same for jacobian), frozensets;
    every other served n runs one chain at a time (mc_stk_compact_ns, mc_stack.h)."""
    cdef int level, t, mode
    return tuple(tuple(tuple(frozenset(n for n in range(17)
                                       if mc_stk_compact_ns[level][t][mode] >> n & 1)
                             for t in range(2)) for mode in range(2))
                 for level in range(MC_STK_LEVELS))


cdef unsigned int _ns_bits(str name, object ns) except? 0:
    cdef unsigned int bits = 0
    for n in ns:
        if not 0 <= n <= 16:
            raise ValueError(f"{name}: n = {n} is outside 0 ... 16")
        bits |= 1u << n
    return bits


def set_compact_ns(object vec, object jac, object level=None):
    """Run the n in `vec` (grad/tangent) and `jac` (jacobian) in the compact layout at
    `level` (None: every level), the other served n one chain at a time. `vec`, `jac`:
    an iterable of n (both dtypes) or a pair of them (float64, float32). Returns the
    table before (compact_ns()), which set_compact_table takes back. For benchmarks
    choosing the layouts, and tests: not thread-safe against concurrent kernel calls."""
    if level is not None and not 0 <= level < MC_STK_LEVELS:
        raise ValueError(f"level must be None or 0 ... {MC_STK_LEVELS - 1}, got {level!r}")
    old = compact_ns()
    bits = []
    for name, ns in (("vec", vec), ("jac", jac)):
        ns = list(ns)
        pair = ns if len(ns) == 2 and not isinstance(ns[0], (int, np.integer)) else [ns, ns]
        bits.append([_ns_bits(name, each) for each in pair])
    for lvl in (range(MC_STK_LEVELS) if level is None else [level]):
        for mode in range(2):
            for t in range(2):
                mc_stk_compact_ns[lvl][t][mode] = bits[mode][t]
    return old


def set_compact_table(object table):
    """Take back a table of compact_ns() (as set_compact_ns returned it)."""
    for level, (vec, jac) in enumerate(table):
        set_compact_ns(vec, jac, level)


ctypedef struct _Fma:
    Py_ssize_t iters
    double* sink


cdef void _fma_task(void* ctx, Py_ssize_t t, int tid) noexcept nogil:
    cdef _Fma* f = <_Fma*>ctx
    f.sink[t] = mc_fma_loop(f.iters, 0.999999, 1e-7)


def fma_peak(int nthreads, Py_ssize_t iters=1 << 22):
    """Float64 flops per second of a compiled FMA loop on `nthreads` threads at the level in
    use (single precision: twice that); 0.0 below AVX2. For benchmarks."""
    import time
    cdef int lanes = mc_fma_lanes(), t
    cdef double sink = 0
    cdef double[::1] sinks = np.zeros(max(nthreads, 1))
    cdef _Fma ctx
    if lanes == 0:
        return 0.0
    ctx.iters, ctx.sink = iters, &sinks[0]
    t0 = time.perf_counter()
    with nogil:
        parallel_for(_fma_task, &ctx, nthreads, nthreads)
    dt = time.perf_counter() - t0
    for t in range(nthreads):
        sink += sinks[t]
    return 2.0 * 12 * lanes * iters * nthreads / dt if sink == sink else 0.0

# Batches over threads and the def entries of batched chains (included by _chain.pyx)

# ---------------------------------------------------------------------------------------
# the batch over threads: each sample's chain is computed whole by one thread, so the
# results do not depend on the thread count

ctypedef struct _Batch:
    Py_ssize_t nsamples, nblocks, ntasks, nlinks, nb, sample_scratch, out_size, maxd
    bint grad
    bint vector             # vector chains (else chain products)
    bint single             # float32 (else float64)
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


cdef void _batch_task(void* ctx, Py_ssize_t q, int tid) noexcept nogil:
    """Task q of a batch (a task of parallel_for), in the batch's dtype."""
    cdef _Batch* c = <_Batch*>ctx
    if c.single:
        _batch_range(c, q, tid, c.vector, <float*>NULL)
    else:
        _batch_range(c, q, tid, c.vector, <double*>NULL)


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


def chain_product(list arrays not None,                     # IN  nlinks arrays of the dtype
                  const Py_ssize_t[:, ::1] meta not None,   # IN  (nlinks, NMETACOL)
                  const Py_ssize_t[::1] bshape not None,    # IN  (nb,) batch shape
                  const Py_ssize_t[:, ::1] bstr not None,   # IN  (nlinks, nb) batch strides
                  const Py_ssize_t[::1] program not None,   # IN  chain_program's (dims, steps, layout)
                  Py_ssize_t sample_scratch,                # IN  scratch elements per sample
                  bint blocked,                             # IN  VBLOCK samples at a time
                  floating[:, ::1] scratch not None,        # OUT (nthreads, [VBLOCK] * per-sample)
                  floating[::1] out not None,               # OUT (nsamples * out_size,)
                  Py_ssize_t out_size,                      # IN  elements of one sample's result
                  int nthreads):                            # IN  1: serial loop
    """Run a chain program (chain_program's: dims, steps, layout) over every sample of the
    batch (nsamples = prod(bshape)).

    `blocked` (for programs of small steps) runs VBLOCK samples one step at a time; else
    one sample runs the whole program at a time (large steps, BLAS per sample).
    """
    cdef Py_ssize_t nlinks = len(arrays), nb = bshape.shape[0], nsteps = nlinks - 1
    cdef Py_ssize_t b, nsamples = 1, nblocks
    cdef Py_ssize_t per = VBLOCK if blocked else 1
    cdef _Batch c
    cdef Py_ssize_t[::1] addr = _addresses(arrays)
    cdef Py_ssize_t[:, ::1] offs = np.empty((max(nthreads, 1), per * max(nlinks, 1)),
                                            dtype=np.intp)
    for b in range(nb):
        nsamples *= bshape[b]
    if (meta.shape[0] != nlinks or bstr.shape[0] != nlinks or bstr.shape[1] != nb
            or nsteps < 1 or program.shape[0] != nlinks + 1 + nsteps * (2 + NLAYOUTCOL)
            or meta.shape[1] != NMETACOL
            or scratch.shape[0] < max(nthreads, 1)
            or scratch.shape[1] < per * sample_scratch or out.shape[0] < nsamples * out_size):
        raise ValueError("chain_product: inconsistent program or buffer shapes")
    nblocks = (nsamples + VBLOCK - 1) // VBLOCK
    c.prog.nlinks, c.prog.dims, c.prog.diag, c.prog.addr = nlinks, &program[0], NULL, &addr[0]
    c.prog.meta, c.prog.nb = &meta[0, 0], nb
    c.prog.bshape = &bshape[0] if nb else NULL
    c.prog.bstr = &bstr[0, 0] if nb else NULL
    c.prog.steps = &program[nlinks + 1]
    c.prog.layout = c.prog.steps + 2 * nsteps
    with nogil:
        if blocked and nthreads > 1:
            c.nsamples, c.nblocks, c.ntasks = nsamples, nblocks, _batch_tasks(nblocks, nthreads)
            c.sample_scratch, c.out_size = sample_scratch, out_size
            c.offs, c.offs_ld = &offs[0, 0], offs.shape[1]
            c.scratch, c.scratch_ld, c.out = &scratch[0, 0], scratch.shape[1], &out[0]
            c.vector, c.single = False, floating is float
            parallel_for(_batch_task, &c, c.ntasks, nthreads)
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
            c.vector, c.single = True, floating is float
            parallel_for(_batch_task, &c, c.ntasks, nthreads)
        else:
            for b in range(nblocks):
                vector_block(b * VBLOCK, min(VBLOCK, nsamples - b * VBLOCK), grad, nlinks,
                             &addr[0], &meta[0, 0], nb, &bshape[0] if nb else NULL,
                             &bstr[0, 0] if nb else NULL, &dims[0], maxd, &offs[0, 0],
                             &scratch[0, 0], &out[b * VBLOCK * out_size])

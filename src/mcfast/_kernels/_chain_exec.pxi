# The executor: one product, the scratch layout of a program, one sample or a block of samples of a chain product or a vector chain (included by _chain.pyx)

# ---------------------------------------------------------------------------------------
# one product

cdef extern from "mc_chain_kern.h":
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


cdef inline void _run_step(Py_ssize_t m, Py_ssize_t k, Py_ssize_t n, bint ldiag, bint rdiag,
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
        _run_step(lo.rows, lo.cols, ro.cols, lo.diag, ro.diag,
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
                _run_step(lo.rows, lo.cols, ro.cols, lo.diag, ro.diag,
                         lp + (loff[s * nlinks] if loff != NULL else s * lld), lo.rs, lo.cs,
                         rp + (roff[s * nlinks] if roff != NULL else s * rld), ro.rs, ro.cs,
                         dp + s * dld)


cdef extern from "mc_chain_kern.h":
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


cdef inline void _vector_one(bint grad, Py_ssize_t rows, Py_ssize_t cols, bint diag,
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
                _vector_one(grad, rows, cols, mk[M_DIAG], mk[M_SMALL], a + offs[s * nops + k],
                           rs, cs, (x + xoff[s * nops]) if xoff != NULL else (x + s * xld),
                           xs, y + s * yld)
        x, xoff, xs, xld = y, NULL, 1, yld




def chain_program(const Py_ssize_t[::1] dims not None,      # IN  (n + 1,) d_0 .. d_n
                  const unsigned char[::1] diag not None,   # IN  (n,) 1 for a Diagonal
                  const Py_ssize_t[:, ::1] steps not None): # IN  (n - 1, 2) (left, right)
    """The program of a plan's steps, packed as chain_product takes it: (program, scratch
    entries of one sample, every dense product small (at most SMALL_MM multiply-adds),
    every product with a Diagonal side). program is one intp array: dims (n + 1), the
    steps (n - 1, 2), their layout (n - 1, NLAYOUTCOL) by chain_layout (the layout
    mk.jacobian_chain_steps uses)."""
    cdef Py_ssize_t n = diag.shape[0], t, top, i
    cdef bint small = True, scaled = True
    if n < 2 or dims.shape[0] != n + 1 or steps.shape[0] != n - 1 or steps.shape[1] != 2:
        raise ValueError("chain_program: dims, diag and steps do not fit")
    program = np.empty(n + 1 + (n - 1) * (2 + NLAYOUTCOL), dtype=np.intp)
    cdef Py_ssize_t[::1] prog = program
    cdef Py_ssize_t* st = &prog[n + 1]
    cdef Py_ssize_t* lay = st + 2 * (n - 1)
    cdef Py_ssize_t left, right, k
    cdef bint ld, rd
    with nogil:
        for i in range(n + 1):
            prog[i] = dims[i]
        for t in range(n - 1):
            st[2 * t], st[2 * t + 1] = steps[t, 0], steps[t, 1]
        top = chain_layout(n, &dims[0], &diag[0], st, lay)
        for t in range(n - 1 if top >= 0 else 0):
            left, right = st[2 * t], st[2 * t + 1]
            ld = diag[left] if left < n else lay[(left - n) * NLAYOUTCOL + L_FLAGS] & L_DIAG
            rd = diag[right] if right < n else lay[(right - n) * NLAYOUTCOL + L_FLAGS] & L_DIAG
            k = dims[left] if left < n else lay[(left - n) * NLAYOUTCOL + L_COLS]
            scaled = scaled and (ld or rd)
            small = small and (ld or rd or lay[t * NLAYOUTCOL + L_ROWS] * k
                               * lay[t * NLAYOUTCOL + L_COLS] <= SMALL_MM_WORK)
    if top < 0:
        raise ValueError("chain_program: the steps are not a bracketing of the chain")
    return program, top, small, scaled


# the executor's products for the cimport API (kernels.pxd); the module inlines its own calls

cdef void run_step(Py_ssize_t m, Py_ssize_t k, Py_ssize_t n, bint ldiag, bint rdiag,
                   const floating* lp, Py_ssize_t lrs, Py_ssize_t lcs,
                   const floating* rp, Py_ssize_t rrs, Py_ssize_t rcs,
                   floating* dp) noexcept nogil:
    """One product of a chain program (see _run_step)."""
    _run_step(m, k, n, ldiag, rdiag, lp, lrs, lcs, rp, rrs, rcs, dp)


cdef void vector_one(bint grad, Py_ssize_t rows, Py_ssize_t cols, bint diag, bint small,
                     const floating* a, Py_ssize_t rs, Py_ssize_t cs,
                     const floating* x, Py_ssize_t xs, floating* y) noexcept nogil:
    """One link of a vector chain for one sample (see _vector_one)."""
    _vector_one(grad, rows, cols, diag, small, a, rs, cs, x, xs, y)

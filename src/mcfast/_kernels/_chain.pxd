# cython: language_level=3
"""cimport API of the Jacobian-chain kernels: nogil planner DP, small products, per-sample chains."""
from cython cimport floating

# a chain program: its steps (left, right) as ChainPlan.steps, and one layout row per step
# (chain_layout): the product's shape, its flags, its block in one sample's scratch
cdef enum:
    L_ROWS = 0      # the step computes (rows × cols) = left @ right
    L_COLS = 1
    L_FLAGS = 2     # L_DIAG: the product is diagonal (L_USED, L_FREE: chain_layout's own)
    L_DST = 3       # scratch offset of the result, -1 for the output
    NLAYOUTCOL = 4

cdef enum:
    L_DIAG = 1
    L_USED = 2      # consumed by a later step
    L_FREE = 4      # consumed, and its block not taken again yet

# columns of an operand row: element strides of a link's matrix and its structure
cdef enum:
    M_RS = 0        # row stride (dense) / unused (diag)
    M_CS = 1        # column stride (dense) / stride along the diagonal (diag, vector)
    M_DIAG = 2
    M_SMALL = 3     # vector chains: 1 when this link's matrix-vector product is a hand loop
    NMETACOL = 4

# the planner: the exact DP up to PLAN_DP_MAX links, beyond it the heuristic with blocks of
# PLAN_BLOCK links (mcfast._plan.DP_MAX and BLOCK: a test holds them equal)
cdef enum:
    PLAN_DP_MAX = 64
    PLAN_BLOCK = 32
    PLAN_TABLE_LINKS = 4096     # the def entry plan_dense takes chains up to this length

# samples per block of a batched chain (vector chains and products of small steps)
cdef enum:
    VBLOCK = 32

# thresholds of the hand loops (exported to mcfast.chain as SMALL_MM / SMALL_MV)
cdef enum:
    SMALL_MM_WORK = 4096    # a product of at most this many multiply-adds: hand loop, not BLAS
    SMALL_MV_WORK = 1024    # a matrix-vector product of at most this many: hand loop, not gemv


cdef void chain_order(Py_ssize_t n, const Py_ssize_t* dims, const unsigned char* diag,
                      Py_ssize_t* prefix, Py_ssize_t* cost,
                      Py_ssize_t* split) noexcept nogil

cdef Py_ssize_t chain_steps(Py_ssize_t n, const Py_ssize_t* split, Py_ssize_t* stack,
                            Py_ssize_t* steps) noexcept nogil

cdef void small_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     const floating* a, Py_ssize_t ars, Py_ssize_t acs,
                     const floating* b, Py_ssize_t brs, Py_ssize_t bcs,
                     floating* c, Py_ssize_t ldc) noexcept nogil

# a chain program with its links, as the executor reads it
ctypedef struct _Program:
    Py_ssize_t nlinks
    const Py_ssize_t* dims      # (nlinks + 1,) d_0 .. d_n
    const unsigned char* diag   # (nlinks,) 1 for a Diagonal (read where meta is NULL)
    const Py_ssize_t* addr      # (nlinks,) data addresses
    const Py_ssize_t* meta      # (nlinks, NMETACOL) strides and structure; NULL: packed links
                                # (C-contiguous, a Diagonal as its diagonal)
    Py_ssize_t nb               # batch dimensions (0: one sample)
    const Py_ssize_t* bshape    # (nb,)
    const Py_ssize_t* bstr      # (nlinks, nb) element strides of the links along the batch
    const Py_ssize_t* steps     # (nlinks - 1, 2) (left, right) operand ids, post-order
    const Py_ssize_t* layout    # (nlinks - 1, NLAYOUTCOL) from chain_layout

cdef Py_ssize_t chain_layout(Py_ssize_t n, const Py_ssize_t* dims, const unsigned char* diag,
                             const Py_ssize_t* steps, Py_ssize_t* layout) noexcept nogil

cdef void run_step(Py_ssize_t m, Py_ssize_t k, Py_ssize_t n, bint ldiag, bint rdiag,
                   const floating* lp, Py_ssize_t lrs, Py_ssize_t lcs,
                   const floating* rp, Py_ssize_t rrs, Py_ssize_t rcs,
                   floating* dp) noexcept nogil

cdef void vector_one(bint grad, Py_ssize_t rows, Py_ssize_t cols, bint diag, bint small,
                     const floating* a, Py_ssize_t rs, Py_ssize_t cs,
                     const floating* x, Py_ssize_t xs, floating* y) noexcept nogil

cdef void chain_sample(Py_ssize_t b, const _Program* p, Py_ssize_t* offs, floating* scratch,
                       floating* out) noexcept nogil

cdef void chain_block(Py_ssize_t b0, Py_ssize_t ns, const _Program* p,
                      Py_ssize_t sample_scratch, Py_ssize_t out_size, Py_ssize_t* offs,
                      floating* scratch, floating* out) noexcept nogil

cdef void vector_block(Py_ssize_t b0, Py_ssize_t ns, bint grad, Py_ssize_t nlinks,
                       const Py_ssize_t* addr, const Py_ssize_t* meta, Py_ssize_t nb,
                       const Py_ssize_t* bshape, const Py_ssize_t* bstr,
                       const Py_ssize_t* dims, Py_ssize_t maxd, Py_ssize_t* offs,
                       floating* scratch, floating* out) noexcept nogil

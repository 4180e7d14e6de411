# cython: language_level=3
"""cimport API of the Jacobian-chain kernels: nogil planner DP, small products, per-sample chains."""
from cython cimport floating

# columns of a step row of a chain program (see _chain.pyx)
cdef enum:
    S_LEFT = 0      # operand id of the left factor (applied later); < nlinks: a link
    S_RIGHT = 1     # operand id of the right factor (applied first); >= nlinks: an intermediate
    S_M = 2         # the step computes (m × n) = (m × k) @ (k × n)
    S_K = 3
    S_N = 4
    S_LDIAG = 5     # 1 when the left factor is diagonal
    S_RDIAG = 6     # 1 when the right factor is diagonal
    S_SMALL = 7     # 1: hand loop (stays in L1); 0: BLAS
    S_DST = 8       # scratch offset of the result, -1 for the output
    NSTEPCOL = 9

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

cdef void chain_sample(Py_ssize_t b, Py_ssize_t nlinks, const Py_ssize_t* addr,
                       const Py_ssize_t* meta, Py_ssize_t nb, const Py_ssize_t* bshape,
                       const Py_ssize_t* bstr, Py_ssize_t nsteps, const Py_ssize_t* steps,
                       Py_ssize_t* offs, floating* scratch, floating* out) noexcept nogil

cdef void chain_block(Py_ssize_t b0, Py_ssize_t ns, Py_ssize_t nlinks, const Py_ssize_t* addr,
                      const Py_ssize_t* meta, Py_ssize_t nb, const Py_ssize_t* bshape,
                      const Py_ssize_t* bstr, Py_ssize_t nsteps, const Py_ssize_t* steps,
                      Py_ssize_t sample_scratch, Py_ssize_t out_size, Py_ssize_t* offs,
                      floating* scratch, floating* out) noexcept nogil

cdef void vector_block(Py_ssize_t b0, Py_ssize_t ns, bint grad, Py_ssize_t nlinks,
                       const Py_ssize_t* addr, const Py_ssize_t* meta, Py_ssize_t nb,
                       const Py_ssize_t* bshape, const Py_ssize_t* bstr,
                       const Py_ssize_t* dims, Py_ssize_t maxd, Py_ssize_t* offs,
                       floating* scratch, floating* out) noexcept nogil

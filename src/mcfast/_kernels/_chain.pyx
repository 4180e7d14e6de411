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

Files, by concern (included here, one extension module; the cimport API in _chain.pxd):
  _chain_plan.pxi    the nogil planner (chain_order, chain_steps) and plan_dense
  _chain_level.pxi   the instruction-set level of the compiled kernels below (mc_chain_kern.h:
                     one instantiation per level of mc_levels.h, picked by mc_level as the
                     engine's), and the level each family last ran at
  _chain_exec.pxi    the executor: one product (small_gemm over mc_chain_gemm.h, BLAS,
                     scalings), the scratch layout (chain_layout, chain_program), one
                     sample or a block of samples of a program (chain_sample,
                     chain_block) or of a vector chain (vector_one, vector_block over
                     mc_chain_vec.h)
  _chain_batch.pxi   batches over mcfast's threads: chain_product, vector_chain
  _chain_fast.pxi    the cheap unbatched entries: fast_chain, fast_vector
  _chain_kron.pxi    fast_kron_vector (Kronecker links through their public A, B, a_first)
  _chain_sparse.pxi  dense_csr_product
  _chain_mv.pxi      vector_link: one vector through one large dense link (mc_chain_mv_body.h),
                     on mcfast's threads (the one-vector path of operator chains)
"""
cimport cython
from ._threads cimport parallel_for
cimport numpy as cnp
from ._blas cimport gemm, gemv, BlasTrans, NoTrans, Trans
from ._ndarray cimport plain

import numpy as np

__all__ = ["chain_program", "chain_product", "vector_chain", "fast_chain", "fast_chain_plan",
           "fast_vector", "fast_kron_vector", "dense_csr_product", "plan_dense",
           "vector_link", "set_simd_level", "simd_level", "ran_levels", "reset_ran_levels"]

cnp.import_array()

DP_MAX = PLAN_DP_MAX        # for tests: equal to mcfast._plan.DP_MAX and BLOCK
BLOCK = PLAN_BLOCK
BATCH_BLOCK = VBLOCK        # samples per block of a batched chain (mcfast.chain sizes scratch by it)
SMALL_MM = SMALL_MM_WORK    # multiply-adds of a product done by a hand loop
SMALL_MV = SMALL_MV_WORK    # multiply-adds of a matrix-vector product done by a hand loop (M_SMALL)
# the columns of a program's layout rows (L_*) and of an operand's meta row (M_*), by name
LAYOUT_ROWS, LAYOUT_COLS, LAYOUT_FLAGS, LAYOUT_DST = L_ROWS, L_COLS, L_FLAGS, L_DST
LAYOUT_COLUMNS, LAYOUT_DIAG = NLAYOUTCOL, L_DIAG
META_RS, META_CS, META_DIAG, META_SMALL, META_COLUMNS = M_RS, M_CS, M_DIAG, M_SMALL, NMETACOL


include "_chain_level.pxi"
include "_chain_plan.pxi"
include "_chain_exec.pxi"
include "_chain_batch.pxi"
include "_chain_fast.pxi"
include "_chain_kron.pxi"
include "_chain_sparse.pxi"
include "_chain_mv.pxi"

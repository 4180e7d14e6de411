/* mcfast: one element type's entries that _chain calls: the level's table, noted, then its kernel.
 *
 * Re-included by mc_chain_kern.h (no include guard) with MC_CT (double or float) and
 * MC_CTN (d or f) defined, after the tables mc_chks_<TN>; leaves both undefined. Names as
 * _chain_exec.pxi and _chain_mv.pxi declare them: mc_small_gemm_<T>, mc_gemm_block_<T>,
 * mc_vec_block_<T>, mc_mv_grad_<T> (y[i0:i1] of xᵀA) and mc_mv_tan_<T> (of A x).
 */
#define MC_CK_TABLE() (MC_CK_NAME(mc_chks, MC_CTN)[mc_level])

static void MC_CK_NAME(mc_small_gemm, MC_CT)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
        const MC_CT* a, Py_ssize_t ars, Py_ssize_t acs, const MC_CT* b, Py_ssize_t brs,
        MC_CT* c, Py_ssize_t ldc)
{
    const MC_CK_NAME(mc_chk, MC_CTN) *t = MC_CK_TABLE();
    MC_CHK_NOTE(MC_CHK_GEMM, t->level);
    t->small_gemm(m, n, k, a, ars, acs, b, brs, c, ldc);
}

static void MC_CK_NAME(mc_gemm_block, MC_CT)(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n,
        Py_ssize_t k, const MC_CT* a, const Py_ssize_t* aoff, Py_ssize_t ald,
        Py_ssize_t ars, Py_ssize_t acs, const MC_CT* b, const Py_ssize_t* boff,
        Py_ssize_t bld, Py_ssize_t brs, Py_ssize_t ostride, MC_CT* c, Py_ssize_t cld,
        Py_ssize_t ldc)
{
    const MC_CK_NAME(mc_chk, MC_CTN) *t = MC_CK_TABLE();
    MC_CHK_NOTE(MC_CHK_GEMM, t->level);
    t->gemm_block(ns, m, n, k, a, aoff, ald, ars, acs, b, boff, bld, brs, ostride,
                  c, cld, ldc);
}

static int MC_CK_NAME(mc_vec_block, MC_CT)(int grad, Py_ssize_t ns, Py_ssize_t rows,
        Py_ssize_t cols, const MC_CT* a, const Py_ssize_t* aoff, Py_ssize_t ostride,
        Py_ssize_t rs, const MC_CT* x, const Py_ssize_t* xoff, Py_ssize_t xs,
        Py_ssize_t xld, MC_CT* y, Py_ssize_t yld)
{
    const MC_CK_NAME(mc_chk, MC_CTN) *t = MC_CK_TABLE();
    MC_CHK_NOTE(MC_CHK_VEC, t->level);
    return t->vec_block(grad, ns, rows, cols, a, aoff, ostride, rs, x, xoff, xs,
                        xld, y, yld);
}

static void MC_CK_NAME(mc_mv_grad, MC_CT)(Py_ssize_t rows, Py_ssize_t cols,
        const MC_CT* a, const MC_CT* x, MC_CT* y, Py_ssize_t i0, Py_ssize_t i1)
{
    const MC_CK_NAME(mc_chk, MC_CTN) *t = MC_CK_TABLE();
    MC_CHK_NOTE(MC_CHK_MV, t->level);
    t->mv_grad(rows, cols, a, x, y, i0, i1);
}

static void MC_CK_NAME(mc_mv_tan, MC_CT)(Py_ssize_t rows, Py_ssize_t cols,
        const MC_CT* a, const MC_CT* x, MC_CT* y, Py_ssize_t i0, Py_ssize_t i1)
{
    const MC_CK_NAME(mc_chk, MC_CTN) *t = MC_CK_TABLE();
    MC_CHK_NOTE(MC_CHK_MV, t->level);
    t->mv_tan(rows, cols, a, x, y, i0, i1);
}

#undef MC_CK_TABLE
#undef MC_CT
#undef MC_CTN

/* mcfast: one element type's table of chain kernels, mc_chk_<TN> (one per level).
 *
 * Re-included by mc_chain_kern.h (no include guard) with MC_CT (double or float) and
 * MC_CTN (d or f) defined; leaves both undefined.
 */
typedef struct {
    void (*small_gemm)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const MC_CT* a,
                       Py_ssize_t ars, Py_ssize_t acs, const MC_CT* b, Py_ssize_t brs,
                       MC_CT* c, Py_ssize_t ldc);
    void (*gemm_block)(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                       const MC_CT* a, const Py_ssize_t* aoff, Py_ssize_t ald,
                       Py_ssize_t ars, Py_ssize_t acs, const MC_CT* b,
                       const Py_ssize_t* boff, Py_ssize_t bld, Py_ssize_t brs,
                       Py_ssize_t ostride, MC_CT* c, Py_ssize_t cld, Py_ssize_t ldc);
    int (*vec_block)(int grad, Py_ssize_t ns, Py_ssize_t rows, Py_ssize_t cols,
                     const MC_CT* a, const Py_ssize_t* aoff, Py_ssize_t ostride,
                     Py_ssize_t rs, const MC_CT* x, const Py_ssize_t* xoff, Py_ssize_t xs,
                     Py_ssize_t xld, MC_CT* y, Py_ssize_t yld);
    void (*mv_grad)(Py_ssize_t rows, Py_ssize_t cols, const MC_CT* __restrict a,
                    const MC_CT* __restrict x, MC_CT* __restrict y, Py_ssize_t j0,
                    Py_ssize_t j1);
    void (*mv_tan)(Py_ssize_t rows, Py_ssize_t cols, const MC_CT* __restrict a,
                   const MC_CT* __restrict x, MC_CT* __restrict y, Py_ssize_t i0,
                   Py_ssize_t i1);
    int level;      /* the level its kernels were compiled for (mc_level's values) */
} MC_CK_NAME(mc_chk, MC_CTN);

#undef MC_CT
#undef MC_CTN

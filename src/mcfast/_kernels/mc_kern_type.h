/* mcfast: the dispatch table's entry of one dtype: the engine's kernels by name.
 *
 * Re-included by mc_kern.h with MC_T and MC_TN (d or f) defined; defines the struct
 * mc_kern_<d|f>, whose fields each instantiation fills (mc_kern_body.h).
 */
typedef struct {
    /* dense C rows (strided, rows=), one output: the fused row groups (mc_group.h) */
    double (*group)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, MC_T *g);
    /* F order, one output, no rows=: sub-blocks of column segments */
    double (*group_f)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, MC_T *g);
    /* multinomial on C rows, K ≤ classes; ex: 3·16·mp elements of scratch */
    double (*multinomial)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, MC_T *g,
                          MC_T *ex);
    Py_ssize_t classes;     /* the most classes the multinomial rows take (0: none) */
    /* the block products of every source (mc_rows.h): z = X_b Θ, Gᵀ += R_bᵀ X_b */
    Py_ssize_t (*mv)(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb, const MC_T *tt,
                     Py_ssize_t mp, Py_ssize_t K, MC_T *z);
    void (*rmv)(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb, const MC_T *r,
                Py_ssize_t K, MC_T *gt, Py_ssize_t mp);
    /* r = w ∘ ℓ′(z, y) (Hessian: w ∘ ℓ″ q) of a block, returns Σ w ℓ (mc_loss.h) */
    double (*hook)(const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K,
                   const MC_T *z, const MC_T *q, const MC_T *y, const MC_T *w, MC_T *r,
                   double *lv, double *tmp);
    /* Σ x[0:n] in double: the read floor of the benchmarks */
    double (*sum)(const MC_T *x, Py_ssize_t n);
} MC_CAT(mc_kern_, MC_TN);

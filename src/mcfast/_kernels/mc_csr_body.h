/* mcfast: CSR with one output, for one index type (mc_rows_body.h's mv and rmv).
 *
 * Re-included by mc_rows_body.h twice per instantiation, with T, TARGET and MC_R(x) of
 * that instantiation and MC_I (the CSR index type: int32_t or int64_t) and MC_IS (its
 * suffix: 32 or 64) defined; no include guard. Column indices outside 0 … m−1 are
 * counted by mv (its return value), never used.
 */
#define CSR_MV MC_CAT(MC_R(_csr_mv), MC_IS)
#define CSR_RMV MC_CAT(MC_R(_csr_rmv), MC_IS)

/* z_i = Σ_k data_k θ[col_k] over rows i0 … i0 + nb − 1; returns the count of bad indices */
TARGET MC_INLINE Py_ssize_t CSR_MV(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,
                                   const T *MC_RESTRICT tt, T *MC_RESTRICT z)
{
    const T *x = (const T *)s->x;
    const MC_I *ind = (const MC_I *)s->indices, *ptr = (const MC_I *)s->indptr;
    Py_ssize_t i, k, m = s->m, bad = 0;
    for (i = 0; i < nb; i++) {
        Py_ssize_t r = MC_ROW(s, i0 + i);
        double a = 0;
        for (k = ptr[r]; k < ptr[r + 1]; k++) {
            Py_ssize_t col = ind[k];
            if ((size_t)col >= (size_t)m) { bad++; continue; }
            a += x[k] * tt[col];
        }
        z[i] = a;
    }
    return bad;
}

/* g[col_k] += r_i data_k over rows i0 … i0 + nb − 1 */
TARGET MC_INLINE void CSR_RMV(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,
                              const T *MC_RESTRICT r, T *MC_RESTRICT gt)
{
    const T *x = (const T *)s->x;
    const MC_I *ind = (const MC_I *)s->indices, *ptr = (const MC_I *)s->indptr;
    Py_ssize_t i, k, m = s->m;
    for (i = 0; i < nb; i++) {
        Py_ssize_t row = MC_ROW(s, i0 + i);
        const double ri = r[i];
        for (k = ptr[row]; k < ptr[row + 1]; k++) {
            Py_ssize_t col = ind[k];
            if ((size_t)col < (size_t)m) gt[col] += ri * x[k];
        }
    }
}

#undef CSR_MV
#undef CSR_RMV

/* mcfast: one vector through one large dense link, for one instantiation of mc_levels.h.
   Included by mc_chain_body.h with MC_T, MC_SFX and MC_TARGET defined (names
   mc_mv_grad_<sfx>, mc_mv_tan_<sfx>). A is (rows, cols) C-contiguous. */

/* y[j0:j1] = Σ_i x_i A[i, j0:j1]: tiles of MC_MV_TILE columns summed in L1 over four rows
   per pass, rows in order (the same sums whatever range a thread is given). */
MC_TARGET static void MC_CAT(mc_mv_grad_, MC_SFX)(Py_ssize_t rows, Py_ssize_t cols,
        const MC_T* __restrict a, const MC_T* __restrict x, MC_T* __restrict y,
        Py_ssize_t j0, Py_ssize_t j1)
{
    MC_T acc[MC_MV_TILE];
    for (Py_ssize_t jt = j0; jt < j1; jt += MC_MV_TILE) {
        const Py_ssize_t w = j1 - jt < MC_MV_TILE ? j1 - jt : MC_MV_TILE;
        const MC_T* at = a + jt;
        Py_ssize_t i = 0;
        for (Py_ssize_t j = 0; j < w; j++)
            acc[j] = 0;
        for (; i + 4 <= rows; i += 4) {
            const MC_T x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
            const MC_T* a0 = at + i * cols;
            const MC_T* a1 = a0 + cols;
            const MC_T* a2 = a1 + cols;
            const MC_T* a3 = a2 + cols;
            for (Py_ssize_t j = 0; j < w; j++) {
                MC_T s = acc[j] + x0 * a0[j];
                s += x1 * a1[j];
                s += x2 * a2[j];
                acc[j] = s + x3 * a3[j];
            }
        }
        for (; i < rows; i++) {
            const MC_T xi = x[i];
            const MC_T* ai = at + i * cols;
            for (Py_ssize_t j = 0; j < w; j++)
                acc[j] += xi * ai[j];
        }
        for (Py_ssize_t j = 0; j < w; j++)
            y[jt + j] = acc[j];
    }
}

/* y[i] = A[i, :] · x for i in [i0, i1): MC_MV_LANES partial sums per row, added in a fixed
   tree, then the tail in order. */
MC_TARGET static void MC_CAT(mc_mv_tan_, MC_SFX)(Py_ssize_t rows, Py_ssize_t cols,
        const MC_T* __restrict a, const MC_T* __restrict x, MC_T* __restrict y,
        Py_ssize_t i0, Py_ssize_t i1)
{
    (void)rows;
    for (Py_ssize_t i = i0; i < i1; i++) {
        const MC_T* ai = a + i * cols;
        MC_T acc[MC_MV_LANES];
        Py_ssize_t j = 0;
        for (int l = 0; l < MC_MV_LANES; l++)
            acc[l] = 0;
        for (; j + MC_MV_LANES <= cols; j += MC_MV_LANES)
            for (int l = 0; l < MC_MV_LANES; l++)
                acc[l] += ai[j + l] * x[j + l];
        for (int h = MC_MV_LANES / 2; h > 0; h /= 2)
            for (int l = 0; l < h; l++)
                acc[l] += acc[l + h];
        MC_T s = acc[0];
        for (; j < cols; j++)
            s += ai[j] * x[j];
        y[i] = s;
    }
}

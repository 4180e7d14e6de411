/* mcfast: the row products of one (dtype, instruction set) instantiation (mc_rows.h).
 *
 * Re-included by mc_levels.h for each (dtype, level) it lists, with MC_T, MC_W,
 * MC_TARGET and MC_R(x) (this instantiation's name + x: mc_rows_<dtype>_<level>x)
 * defined; no include guard. Defines dot, axpy and sum (vectors of W bytes, or scalars
 * without vector extensions), then the two block products mv and rmv of every source.
 */
#define T MC_T
#define W MC_W
#define TARGET MC_TARGET

/* dot, axpy and sum: vectors of W bytes, or scalars */
#if MC_VEC
typedef T MC_R(_v) __attribute__((vector_size(W)));
typedef T MC_R(_h16) __attribute__((vector_size(16)));
typedef T MC_R(_h32) __attribute__((vector_size(32)));
/* Σ_j a_j b_j on four independent vector accumulators */
TARGET MC_INLINE T MC_R(_dot)(const T *MC_RESTRICT a, const T *MC_RESTRICT b,
                              Py_ssize_t n)
{
    enum { VL = W / sizeof(T) };
    typedef MC_R(_v) V;
    V p = {0}, q = {0}, u = {0}, v = {0};
    Py_ssize_t j, n4 = n - n % (4 * VL), n1 = n - n % VL;
    T s;
    for (j = 0; j < n4; j += 4 * VL) {
        p += MC_LOAD(V, a + j) * MC_LOAD(V, b + j);
        q += MC_LOAD(V, a + j + VL) * MC_LOAD(V, b + j + VL);
        u += MC_LOAD(V, a + j + 2 * VL) * MC_LOAD(V, b + j + 2 * VL);
        v += MC_LOAD(V, a + j + 3 * VL) * MC_LOAD(V, b + j + 3 * VL);
    }
    for (j = n4; j < n1; j += VL)
        p += MC_LOAD(V, a + j) * MC_LOAD(V, b + j);
    p += q; u += v; p += u;
    s = MC_HSUM(T, MC_R(_h16), MC_R(_h32), W, p);
    for (j = n1; j < n; j++) s += a[j] * b[j];
    return s;
}
/* y += alpha x */
TARGET MC_INLINE void MC_R(_axpy)(T alpha, const T *MC_RESTRICT x, T *MC_RESTRICT y,
                                  Py_ssize_t n)
{
    enum { VL = W / sizeof(T) };
    typedef MC_R(_v) V;
    Py_ssize_t j, n1 = n - n % VL;
    V yj;
    for (j = 0; j < n1; j += VL) {
        yj = MC_LOAD(V, y + j) + alpha * MC_LOAD(V, x + j);
        MC_STORE(y + j, yj);
    }
    for (j = n1; j < n; j++) y[j] += alpha * x[j];
}
/* Σ x[0:n] in double, four vector accumulators (the read floor of the benchmarks) */
TARGET static double MC_R(_sum)(const T *x, Py_ssize_t n)
{
    enum { VL = W / sizeof(T) };
    typedef MC_R(_v) V;
    V a = {0}, b = {0}, c = {0}, d = {0};
    Py_ssize_t j, n4 = n - n % (4 * VL);
    double s = 0;
    for (j = 0; j < n4; j += 4 * VL) {
        a += MC_LOAD(V, x + j); b += MC_LOAD(V, x + j + VL);
        c += MC_LOAD(V, x + j + 2 * VL); d += MC_LOAD(V, x + j + 3 * VL);
    }
    for (j = n4; j < n; j++) s += x[j];
    a += b; c += d; a += c;
    return s + MC_HSUM(T, MC_R(_h16), MC_R(_h32), W, a);
}
#else
MC_INLINE T MC_R(_dot)(const T *a, const T *b, Py_ssize_t n)
{
    T s[4] = {0, 0, 0, 0}; Py_ssize_t j, l, n4 = n - n % 4;
    for (j = 0; j < n4; j += 4) for (l = 0; l < 4; l++) s[l] += a[j + l] * b[j + l];
    for (j = n4; j < n; j++) s[0] += a[j] * b[j];
    return (s[0] + s[2]) + (s[1] + s[3]);
}
MC_INLINE void MC_R(_axpy)(T alpha, const T *x, T *y, Py_ssize_t n)
{ Py_ssize_t j; for (j = 0; j < n; j++) y[j] += alpha * x[j]; }
static double MC_R(_sum)(const T *x, Py_ssize_t n)
{
    double s[4] = {0, 0, 0, 0}; Py_ssize_t j, l, n4 = n - n % 4;
    for (j = 0; j < n4; j += 4) for (l = 0; l < 4; l++) s[l] += x[j + l];
    for (j = n4; j < n; j++) s[0] += x[j];
    return (s[0] + s[2]) + (s[1] + s[3]);
}
#endif

/* CSR with one output, per index type: _csr_mv32, _csr_mv64, _csr_rmv32, _csr_rmv64 */
#define MC_I int32_t
#define MC_IS 32
#include "mc_csr_body.h"
#undef MC_I
#undef MC_IS
#define MC_I int64_t
#define MC_IS 64
#include "mc_csr_body.h"
#undef MC_I
#undef MC_IS

/* z = Θᵀ-products of the block (K × nb); returns the count of bad CSR indices */
TARGET MC_AUTOVEC static Py_ssize_t MC_R(_mv)(const mc_src *s, Py_ssize_t i0,
                                              Py_ssize_t nb, const T *MC_RESTRICT tt,
                                              Py_ssize_t mp, Py_ssize_t K,
                                              T *MC_RESTRICT z)
{
    const T *x = (const T *)s->x;
    Py_ssize_t i, j, c, k, m = s->m, ld = s->ld, bad = 0;
    if (s->kind == MC_SRC_C) {
        /* z_ci = x_i · θ_c, x_i read from memory once, then from L1; with rows=,
           the rows MC_AHEAD on are fetched early (random rows: latency, not bandwidth) */
        for (i = 0; i < nb; i++) {
            const T *xi = x + MC_ROW(s, i0 + i) * ld;
            if (s->rows && i + MC_AHEAD < nb) MC_PREFETCH_ROW(x + s->rows[i0 + i + MC_AHEAD] * ld, m * sizeof(T));
            for (c = 0; c < K; c++) z[c * nb + i] = MC_R(_dot)(xi, tt + c * mp, m);
        }
    } else if (s->kind == MC_SRC_F) {
        memset(z, 0, (size_t)(K * nb) * sizeof(T));
        if (!s->rows) {
            /* z_c += θ_jc X[i0:i0+nb, j]: each column segment read once */
            for (j = 0; j < m; j++) {
                const T *col = x + j * ld + i0;
                for (c = 0; c < K; c++) MC_R(_axpy)(tt[c * mp + j], col, z + c * nb, nb);
            }
        } else {
            for (j = 0; j < m; j++) {
                const T *col = x + j * ld;
                for (i = 0; i < nb; i++) {
                    T xij = col[s->rows[i0 + i]];
                    for (c = 0; c < K; c++) z[c * nb + i] += xij * tt[c * mp + j];
                }
            }
        }
    } else if (K == 1) {
        /* CSR, one output: z_i = Σ_k data_k θ[col_k], the index width hoisted */
        bad = s->idx64 ? MC_R(_csr_mv64)(s, i0, nb, tt, z) : MC_R(_csr_mv32)(s, i0, nb, tt, z);
    } else {
        for (i = 0; i < nb; i++) {
            Py_ssize_t r = MC_ROW(s, i0 + i);
            Py_ssize_t k0 = MC_IDX(s->indptr, r, s->idx64);
            Py_ssize_t k1 = MC_IDX(s->indptr, r + 1, s->idx64);
            for (c = 0; c < K; c++) z[c * nb + i] = 0;
            for (k = k0; k < k1; k++) {
                Py_ssize_t col = MC_IDX(s->indices, k, s->idx64);
                T v = x[k];
                if ((size_t)col >= (size_t)m) { bad++; continue; }
                for (c = 0; c < K; c++) z[c * nb + i] += v * tt[c * mp + col];
            }
        }
    }
    return bad;
}

/* Gᵀ (K × mp) += R_bᵀ X_b for the block, r: K × nb */
TARGET MC_AUTOVEC static void MC_R(_rmv)(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,
                                         const T *MC_RESTRICT r, Py_ssize_t K,
                                         T *MC_RESTRICT gt, Py_ssize_t mp)
{
    const T *x = (const T *)s->x;
    Py_ssize_t i, j, c, k, m = s->m, ld = s->ld;
    if (s->kind == MC_SRC_C) {
        /* g_c += r_ci x_i, x_i from L1 */
        for (i = 0; i < nb; i++) {
            const T *xi = x + MC_ROW(s, i0 + i) * ld;
            for (c = 0; c < K; c++) MC_R(_axpy)(r[c * nb + i], xi, gt + c * mp, m);
        }
    } else if (s->kind == MC_SRC_F) {
        if (!s->rows) {
            /* g_jc += X[i0:i0+nb, j] · r_c */
            for (j = 0; j < m; j++) {
                const T *col = x + j * ld + i0;
                for (c = 0; c < K; c++) gt[c * mp + j] += MC_R(_dot)(col, r + c * nb, nb);
            }
        } else {
            for (j = 0; j < m; j++) {
                const T *col = x + j * ld;
                for (c = 0; c < K; c++) {
                    T acc = 0;
                    for (i = 0; i < nb; i++) acc += col[s->rows[i0 + i]] * r[c * nb + i];
                    gt[c * mp + j] += acc;
                }
            }
        }
    } else if (K == 1) {
        if (s->idx64) MC_R(_csr_rmv64)(s, i0, nb, r, gt);
        else MC_R(_csr_rmv32)(s, i0, nb, r, gt);
    } else {
        for (i = 0; i < nb; i++) {
            Py_ssize_t row = MC_ROW(s, i0 + i);
            Py_ssize_t k0 = MC_IDX(s->indptr, row, s->idx64);
            Py_ssize_t k1 = MC_IDX(s->indptr, row + 1, s->idx64);
            for (k = k0; k < k1; k++) {
                Py_ssize_t col = MC_IDX(s->indices, k, s->idx64);
                T v = x[k];
                if ((size_t)col >= (size_t)m) continue;   /* counted by mv */
                for (c = 0; c < K; c++) gt[c * mp + col] += v * r[c * nb + i];
            }
        }
    }
}

#undef T
#undef W
#undef TARGET

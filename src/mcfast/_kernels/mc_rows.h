/* mcfast: row sources, the two products of the one-pass engine over a block of rows.
 *
 * A row source is X seen as rows, whatever its storage:
 *   MC_SRC_C    dense, row-major (row i at x + i·ld): a row is contiguous;
 *   MC_SRC_F    dense, column-major (column j at x + j·ld): a block of rows is m
 *               contiguous column segments, read in place;
 *   MC_SRC_CSR  scipy.sparse CSR (data, indices, indptr; int32 or int64 indices);
 * each optionally through `rows` (rows= of the API: row i of the source is row rows[i]
 * of the storage; any order, repeats allowed).
 *
 * For the block of source rows i0 .. i0 + nb − 1 and K outputs per row:
 *   mv:   z[c·nb + i] = x_i · tt[c·mp : c·mp + m]          (Z_bᵀ = Θᵀ X_bᵀ)
 *   rmv:  gt[c·mp + j] += Σ_i x_ij r[c·nb + i]              (Gᵀ += R_bᵀ X_b)
 * with Θᵀ and Gᵀ stored K × mp (mp ≥ m: room for an intercept column the driver owns).
 * Dense loops run on vectors of the instantiation's width (mc_simd.h); sparse and
 * gathered (rows=) F loops are scalar. mv checks CSR column indices and returns the
 * number it found out of range (0 for a valid matrix), so a malformed matrix is an
 * error, never an out-of-bounds read.
 */
#ifndef MCFAST_ROWS_H
#define MCFAST_ROWS_H

#include <stdint.h>
#include "mc_simd.h"

enum { MC_SRC_C = 0, MC_SRC_F = 1, MC_SRC_CSR = 2 };

typedef struct {
    int kind;                  /* MC_SRC_C, MC_SRC_F or MC_SRC_CSR */
    const void *x;             /* dense values, or the CSR data */
    Py_ssize_t ld;             /* dense: elements from one row (C) / column (F) to the next */
    const void *indices;       /* CSR column indices */
    const void *indptr;        /* CSR row starts, one more than the storage's rows */
    int idx64;                 /* CSR indices are int64 (else int32) */
    const Py_ssize_t *rows;    /* NULL, or the storage row of each source row */
    Py_ssize_t n, m;           /* source rows (len(rows) with rows), columns */
    Py_ssize_t nstore;         /* rows of the storage (dense: X's end is row nstore − 1's end) */
} mc_src;

/* rows= reads rows in random order: fetch the row MC_AHEAD on, each of its cache lines */
#define MC_AHEAD 8
#if defined(__GNUC__) || defined(__clang__)
#define MC_PREFETCH_ROW(p, nbytes) do {                                              \
    const char *p_ = (const char *)(p); Py_ssize_t b_;                               \
    for (b_ = 0; b_ < (Py_ssize_t)(nbytes); b_ += 64) __builtin_prefetch(p_ + b_);   \
} while (0)
#else
#define MC_PREFETCH_ROW(p, nbytes) ((void)0)
#endif

/* storage row of source row i */
#define MC_ROW(s, i) ((s)->rows ? (s)->rows[i] : (i))
/* entry k of a CSR index array of either width */
#define MC_IDX(p, k, is64) ((is64) ? (Py_ssize_t)((const int64_t *)(p))[k]          \
                                   : (Py_ssize_t)((const int32_t *)(p))[k])

/* CSR with one output, for one index type I (inside mv / rmv: x, s, i0, nb, m, tt or
 * gt, z or r, bad in scope); column indices outside 0 … m−1 are counted, never used */
#define MC_CSR_MV(I) {                                                               \
    const I *ind_ = (const I *)s->indices, *ptr_ = (const I *)s->indptr;             \
    for (i = 0; i < nb; i++) {                                                       \
        Py_ssize_t r_ = MC_ROW(s, i0 + i), k_;                                       \
        double a_ = 0;                                                               \
        for (k_ = ptr_[r_]; k_ < ptr_[r_ + 1]; k_++) {                               \
            Py_ssize_t col_ = ind_[k_];                                              \
            if ((size_t)col_ >= (size_t)m) { bad++; continue; }                      \
            a_ += x[k_] * tt[col_];                                                  \
        }                                                                            \
        z[i] = a_;                                                                   \
    } }
#define MC_CSR_RMV(I) {                                                              \
    const I *ind_ = (const I *)s->indices, *ptr_ = (const I *)s->indptr;             \
    for (i = 0; i < nb; i++) {                                                       \
        Py_ssize_t r_ = MC_ROW(s, i0 + i), k_;                                       \
        const double ri_ = r[i];                                                     \
        for (k_ = ptr_[r_]; k_ < ptr_[r_ + 1]; k_++) {                               \
            Py_ssize_t col_ = ind_[k_];                                              \
            if ((size_t)col_ < (size_t)m) gt[col_] += ri_ * x[k_];                   \
        }                                                                            \
    } }

/* dot, axpy and sum of one instantiation: vectors of W bytes, or scalars */
#if MC_VEC
#define MC_DEFINE_PRIMS(T, NAME, W, TARGET)                                          \
typedef T NAME##_v __attribute__((vector_size(W)));                                  \
typedef T NAME##_h16 __attribute__((vector_size(16)));                               \
typedef T NAME##_h32 __attribute__((vector_size(32)));                               \
/* Σ_j a_j b_j on four independent vector accumulators */                           \
TARGET MC_INLINE T NAME##_dot(const T *MC_RESTRICT a, const T *MC_RESTRICT b,        \
                              Py_ssize_t n)                                          \
{                                                                                    \
    enum { VL = W / sizeof(T) };                                                     \
    typedef NAME##_v V;                                                              \
    V p = {0}, q = {0}, u = {0}, v = {0};                                            \
    Py_ssize_t j, n4 = n - n % (4 * VL), n1 = n - n % VL;                            \
    T s;                                                                             \
    for (j = 0; j < n4; j += 4 * VL) {                                               \
        p += MC_LOAD(V, a + j) * MC_LOAD(V, b + j);                                  \
        q += MC_LOAD(V, a + j + VL) * MC_LOAD(V, b + j + VL);                        \
        u += MC_LOAD(V, a + j + 2 * VL) * MC_LOAD(V, b + j + 2 * VL);                \
        v += MC_LOAD(V, a + j + 3 * VL) * MC_LOAD(V, b + j + 3 * VL);                \
    }                                                                                \
    for (j = n4; j < n1; j += VL)                                                    \
        p += MC_LOAD(V, a + j) * MC_LOAD(V, b + j);                                  \
    p += q; u += v; p += u;                                                          \
    s = MC_HSUM(T, NAME, W, p);                                                      \
    for (j = n1; j < n; j++) s += a[j] * b[j];                                       \
    return s;                                                                        \
}                                                                                    \
/* y += alpha x */                                                                   \
TARGET MC_INLINE void NAME##_axpy(T alpha, const T *MC_RESTRICT x, T *MC_RESTRICT y, \
                                  Py_ssize_t n)                                      \
{                                                                                    \
    enum { VL = W / sizeof(T) };                                                     \
    typedef NAME##_v V;                                                              \
    Py_ssize_t j, n1 = n - n % VL;                                                   \
    V yj;                                                                            \
    for (j = 0; j < n1; j += VL) {                                                   \
        yj = MC_LOAD(V, y + j) + alpha * MC_LOAD(V, x + j);                          \
        MC_STORE(y + j, yj);                                                         \
    }                                                                                \
    for (j = n1; j < n; j++) y[j] += alpha * x[j];                                   \
}                                                                                    \
/* Σ x[0:n] in double, four vector accumulators (the read floor of the benchmarks) */ \
TARGET static double NAME##_sum(const T *x, Py_ssize_t n)                            \
{                                                                                    \
    enum { VL = W / sizeof(T) };                                                     \
    typedef NAME##_v V;                                                              \
    V a = {0}, b = {0}, c = {0}, d = {0};                                            \
    Py_ssize_t j, n4 = n - n % (4 * VL);                                             \
    double s = 0;                                                                    \
    for (j = 0; j < n4; j += 4 * VL) {                                               \
        a += MC_LOAD(V, x + j); b += MC_LOAD(V, x + j + VL);                         \
        c += MC_LOAD(V, x + j + 2 * VL); d += MC_LOAD(V, x + j + 3 * VL);            \
    }                                                                                \
    for (j = n4; j < n; j++) s += x[j];                                              \
    a += b; c += d; a += c;                                                          \
    return s + MC_HSUM(T, NAME, W, a);                                               \
}
#else
#define MC_DEFINE_PRIMS(T, NAME, W, TARGET)                                          \
MC_INLINE T NAME##_dot(const T *a, const T *b, Py_ssize_t n)                         \
{                                                                                    \
    T s[4] = {0, 0, 0, 0}; Py_ssize_t j, l, n4 = n - n % 4;                          \
    for (j = 0; j < n4; j += 4) for (l = 0; l < 4; l++) s[l] += a[j + l] * b[j + l]; \
    for (j = n4; j < n; j++) s[0] += a[j] * b[j];                                    \
    return (s[0] + s[2]) + (s[1] + s[3]);                                            \
}                                                                                    \
MC_INLINE void NAME##_axpy(T alpha, const T *x, T *y, Py_ssize_t n)                  \
{ Py_ssize_t j; for (j = 0; j < n; j++) y[j] += alpha * x[j]; }                      \
static double NAME##_sum(const T *x, Py_ssize_t n)                                   \
{                                                                                    \
    double s[4] = {0, 0, 0, 0}; Py_ssize_t j, l, n4 = n - n % 4;                     \
    for (j = 0; j < n4; j += 4) for (l = 0; l < 4; l++) s[l] += x[j + l];            \
    for (j = n4; j < n; j++) s[0] += x[j];                                           \
    return (s[0] + s[2]) + (s[1] + s[3]);                                            \
}
#endif

/* the two block products of every source, for one instantiation */
#define MC_DEFINE_ROWS(T, NAME, W, TARGET)                                           \
MC_DEFINE_PRIMS(T, NAME, W, TARGET)                                                  \
                                                                                     \
/* z = Θᵀ-products of the block (K × nb); returns the count of bad CSR indices */    \
TARGET static Py_ssize_t NAME##_mv(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,    \
                                   const T *MC_RESTRICT tt, Py_ssize_t mp,           \
                                   Py_ssize_t K, T *MC_RESTRICT z)                   \
{                                                                                    \
    const T *x = (const T *)s->x;                                                    \
    Py_ssize_t i, j, c, k, m = s->m, ld = s->ld, bad = 0;                            \
    if (s->kind == MC_SRC_C) {                                                \
        /* z_ci = x_i · θ_c, x_i read from memory once, then from L1; with rows=,    \
           the rows MC_AHEAD on are fetched early (random rows: latency, not bandwidth) */ \
        for (i = 0; i < nb; i++) {                                                   \
            const T *xi = x + MC_ROW(s, i0 + i) * ld;                                \
            if (s->rows && i + MC_AHEAD < nb) MC_PREFETCH_ROW(x + s->rows[i0 + i + MC_AHEAD] * ld, m * sizeof(T)); \
            for (c = 0; c < K; c++) z[c * nb + i] = NAME##_dot(xi, tt + c * mp, m);  \
        }                                                                            \
    } else if (s->kind == MC_SRC_F) {                                                \
        memset(z, 0, (size_t)(K * nb) * sizeof(T));                                  \
        if (!s->rows) {                                                              \
            /* z_c += θ_jc X[i0:i0+nb, j]: each column segment read once */          \
            for (j = 0; j < m; j++) {                                                \
                const T *col = x + j * ld + i0;                                      \
                for (c = 0; c < K; c++) NAME##_axpy(tt[c * mp + j], col, z + c * nb, nb); \
            }                                                                        \
        } else {                                                                     \
            for (j = 0; j < m; j++) {                                                \
                const T *col = x + j * ld;                                           \
                for (i = 0; i < nb; i++) {                                           \
                    T xij = col[s->rows[i0 + i]];                                    \
                    for (c = 0; c < K; c++) z[c * nb + i] += xij * tt[c * mp + j];   \
                }                                                                    \
            }                                                                        \
        }                                                                            \
    } else if (K == 1) {                                                             \
        /* CSR, one output: z_i = Σ_k data_k θ[col_k], the index width hoisted */     \
        if (s->idx64) MC_CSR_MV(int64_t) else MC_CSR_MV(int32_t)                     \
    } else {                                                                         \
        for (i = 0; i < nb; i++) {                                                   \
            Py_ssize_t r = MC_ROW(s, i0 + i);                                        \
            Py_ssize_t k0 = MC_IDX(s->indptr, r, s->idx64);                          \
            Py_ssize_t k1 = MC_IDX(s->indptr, r + 1, s->idx64);                      \
            for (c = 0; c < K; c++) z[c * nb + i] = 0;                               \
            for (k = k0; k < k1; k++) {                                              \
                Py_ssize_t col = MC_IDX(s->indices, k, s->idx64);                    \
                T v = x[k];                                                          \
                if ((size_t)col >= (size_t)m) { bad++; continue; }                   \
                for (c = 0; c < K; c++) z[c * nb + i] += v * tt[c * mp + col];       \
            }                                                                        \
        }                                                                            \
    }                                                                                \
    return bad;                                                                      \
}                                                                                    \
                                                                                     \
/* Gᵀ (K × mp) += R_bᵀ X_b for the block, r: K × nb */                               \
TARGET static void NAME##_rmv(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,         \
                              const T *MC_RESTRICT r, Py_ssize_t K,                  \
                              T *MC_RESTRICT gt, Py_ssize_t mp)                      \
{                                                                                    \
    const T *x = (const T *)s->x;                                                    \
    Py_ssize_t i, j, c, k, m = s->m, ld = s->ld;                                     \
    if (s->kind == MC_SRC_C) {                                                \
        /* g_c += r_ci x_i, x_i from L1 */                                           \
        for (i = 0; i < nb; i++) {                                                   \
            const T *xi = x + MC_ROW(s, i0 + i) * ld;                                \
            for (c = 0; c < K; c++) NAME##_axpy(r[c * nb + i], xi, gt + c * mp, m);  \
        }                                                                            \
    } else if (s->kind == MC_SRC_F) {                                                \
        if (!s->rows) {                                                              \
            /* g_jc += X[i0:i0+nb, j] · r_c */                                       \
            for (j = 0; j < m; j++) {                                                \
                const T *col = x + j * ld + i0;                                      \
                for (c = 0; c < K; c++) gt[c * mp + j] += NAME##_dot(col, r + c * nb, nb); \
            }                                                                        \
        } else {                                                                     \
            for (j = 0; j < m; j++) {                                                \
                const T *col = x + j * ld;                                           \
                for (c = 0; c < K; c++) {                                            \
                    T acc = 0;                                                       \
                    for (i = 0; i < nb; i++) acc += col[s->rows[i0 + i]] * r[c * nb + i]; \
                    gt[c * mp + j] += acc;                                           \
                }                                                                    \
            }                                                                        \
        }                                                                            \
    } else if (K == 1) {                                                             \
        if (s->idx64) MC_CSR_RMV(int64_t) else MC_CSR_RMV(int32_t)                   \
    } else {                                                                         \
        for (i = 0; i < nb; i++) {                                                   \
            Py_ssize_t row = MC_ROW(s, i0 + i);                                      \
            Py_ssize_t k0 = MC_IDX(s->indptr, row, s->idx64);                        \
            Py_ssize_t k1 = MC_IDX(s->indptr, row + 1, s->idx64);                    \
            for (k = k0; k < k1; k++) {                                              \
                Py_ssize_t col = MC_IDX(s->indices, k, s->idx64);                    \
                T v = x[k];                                                          \
                if ((size_t)col >= (size_t)m) continue;   /* counted by mv */        \
                for (c = 0; c < K; c++) gt[c * mp + col] += v * r[c * nb + i];       \
            }                                                                        \
        }                                                                            \
    }                                                                                \
}

MC_DEFINE_ROWS(double, mc_rows_d_base, 16, MC_T_BASE)
MC_DEFINE_ROWS(float, mc_rows_f_base, 16, MC_T_BASE)
#if MC_X86
MC_DEFINE_ROWS(double, mc_rows_d_avx2, 32, MC_T_AVX2)
MC_DEFINE_ROWS(float, mc_rows_f_avx2, 32, MC_T_AVX2)
MC_DEFINE_ROWS(double, mc_rows_d_avx512, 64, MC_T_AVX512)
MC_DEFINE_ROWS(float, mc_rows_f_avx512, 64, MC_T_AVX512)
#endif

/* Σ x[0:n] at the level in use: the memory read floor of the benchmarks */
static double mc_sum_d(const double *x, Py_ssize_t n) { return MC_DISPATCH(mc_rows_d, _sum, x, n); }
static double mc_sum_f(const float *x, Py_ssize_t n) { return MC_DISPATCH(mc_rows_f, _sum, x, n); }

#endif /* MCFAST_ROWS_H */

/* mcfast: the Hessian's rank-k update H += Uᵀ B of one instruction set (mc_sandwich.h).
 *
 * Re-included by mc_levels.h for each double instantiation (MC_LEVELS_ONLY_D), with
 * MC_W (vector bytes), MC_VL (doubles a vector), MC_TARGET and MC_SFX defined; no
 * include guard. Defines mc_sw_d_<level> (mc_sandwich.h says what it computes).
 *
 * Register tiles. H's upper triangle is cut into tiles of R rows (k) × NC vectors of
 * columns (j), NC ≤ C; a tile's R·NC accumulators stay in registers over a sub-block
 * of rows, which are read from L1: per row, NC loads of B[i, j…] and R broadcasts of
 * U[i, k], R·NC multiply-adds. R × C: 4 × 2 at SSE2 (16 registers, no FMA), 4 × 3 at
 * AVX2 (12 of 16 registers), 8 × 3 at AVX-512 (24 of 32). Tiles that straddle the
 * diagonal also fill entries j < k, which no caller reads; tiles are stored into H
 * only for k < m and j < m (the columns' last vector lane by lane where m is not a
 * multiple of the lanes). The sub-block's rows of U and B (SUB_BYTES) stay in L1 while
 * every tile passes over them.
 */
#define T MC_T
#define VL MC_VL
/* the baseline is compiled for speed here (the engine's is for size, MC_T_BASE_ENGINE:
   this kernel is small, and it is the Hessian's whole arithmetic) */
#if MC_W == 16
#define TARGET
#else
#define TARGET MC_TARGET
#endif
#define MC_SW(x) MC_CAT3(mc_sw_, MC_SFX, x)

#if MC_W == 64
enum { MC_SW(_R) = 8, MC_SW(_C) = 3 };
#elif MC_W == 32
enum { MC_SW(_R) = 4, MC_SW(_C) = 3 };
#else
enum { MC_SW(_R) = 4, MC_SW(_C) = 2 };
#endif
/* VL doubles at any address (aligned(8): loads and stores need no alignment) */
typedef T MC_SW(_v) __attribute__((vector_size(MC_W), aligned(8)));

/* VL copies of *p: one broadcast from memory (`(V){0} + x` would add the zero, and GCC
 * turns a loop of copies into one load and lane permutes, slower here) */
TARGET MC_INLINE MC_SW(_v) MC_SW(_splat)(const T *p)
{
    MC_SW(_v) v;
#if MC_X86 && MC_W == 32
    __m256d b = _mm256_broadcast_sd(p);
    memcpy(&v, &b, sizeof v);
#elif MC_X86 && MC_W == 64
    __m512d b = _mm512_set1_pd(*p);
    memcpy(&v, &b, sizeof v);
#else
    int l;
    for (l = 0; l < VL; l++) v[l] = *p;
#endif
    return v;
}

/* H[k0 + r, j0 + c·VL + l] += alpha Σ_i U[i, k0 + r] B[i, j0 + c·VL + l] over nb rows,
 * for r < kn (rows k < m) and columns below jend; NC (a literal) vectors of columns */
TARGET MC_INLINE void MC_SW(_tile)(const int NC, Py_ssize_t nb, const T *MC_RESTRICT u,
                                   Py_ssize_t ldu, const T *MC_RESTRICT b, Py_ssize_t ldb,
                                   Py_ssize_t kn, Py_ssize_t jn, T alpha,
                                   T *MC_RESTRICT H, Py_ssize_t ldh)
{
    typedef MC_SW(_v) V;
    enum { R = MC_SW(_R), C = MC_SW(_C) };
    V acc[R][C];
    Py_ssize_t i, r, c, l;
#pragma GCC unroll 8
    for (r = 0; r < R; r++)
#pragma GCC unroll 3
        for (c = 0; c < C; c++) acc[r][c] = (V){0};
    for (i = 0; i < nb; i++) {
        V x[C];
#pragma GCC unroll 3
        for (c = 0; c < NC; c++) x[c] = *(const V *)(b + c * VL);
#pragma GCC unroll 8
        for (r = 0; r < R; r++) {
            const V s = MC_SW(_splat)(u + r);
#pragma GCC unroll 3
            for (c = 0; c < NC; c++) acc[r][c] += s * x[c];
        }
        u += ldu;
        b += ldb;
    }
#pragma GCC unroll 8
    for (r = 0; r < R; r++) {
        if (r >= kn) break;
#pragma GCC unroll 3
        for (c = 0; c < NC; c++) {
            T *h = H + r * ldh + c * VL;
            const Py_ssize_t left = jn - c * VL;
            const V t = alpha * acc[r][c];
            if (left >= VL) {
                *(V *)h += t;
            } else {
                T e[VL];                  /* acc stays out of memory: no lane access */
                memcpy(e, &t, sizeof t);
                for (l = 0; l < left; l++) h[l] += e[l];
            }
        }
    }
}

/* hc[k·ldh] += alpha Σ_i U[i, k] for k < m (the intercept's column), over nb rows */
TARGET MC_INLINE void MC_SW(_colsum)(Py_ssize_t nb, Py_ssize_t m, const T *MC_RESTRICT U,
                                     Py_ssize_t ldu, T alpha, T *MC_RESTRICT hc,
                                     Py_ssize_t ldh)
{
    typedef MC_SW(_v) V;
    Py_ssize_t i, k0, l;
    for (k0 = 0; k0 < m; k0 += VL) {
        V s = {0};
        const T *u = U + k0;
        for (i = 0; i < nb; i++, u += ldu) s += *(const V *)u;
        for (l = 0; l < VL && k0 + l < m; l++) hc[(k0 + l) * ldh] += alpha * s[l];
    }
}

/* U[i, :] = d_i B[i, :] over the sub-block's ns rows and ldu columns (B's columns m …
 * ldu − 1 are read only where ldb ≥ ldu; U's there are zero) */
TARGET MC_INLINE void MC_SW(_scale)(Py_ssize_t ns, Py_ssize_t m, const T *MC_RESTRICT d,
                                    const T *MC_RESTRICT B, Py_ssize_t ldb,
                                    T *MC_RESTRICT U, Py_ssize_t ldu)
{
    typedef MC_SW(_v) V;
    const Py_ssize_t mv = m / VL * VL;
    Py_ssize_t i, j;
    for (i = 0; i < ns; i++) {
        const T di = d[i];
        const T *b = B + i * ldb;
        T *u = U + i * ldu;
        for (j = 0; j < mv; j += VL) *(V *)(u + j) = di * *(const V *)(b + j);
        for (; j < m; j++) u[j] = di * b[j];
        for (; j < ldu; j++) u[j] = 0;
    }
}

TARGET static void MC_SW()(Py_ssize_t nb, Py_ssize_t m, const T *d, T alpha, const T *B,
                           Py_ssize_t ldb, T *Ubuf, int intercept, T *H, Py_ssize_t ldh,
                           const char *next, Py_ssize_t next_bytes)
{
    enum { R = MC_SW(_R), C = MC_SW(_C) };
    const Py_ssize_t ldu = (m + 7) / 8 * 8;
    /* rows a sub-block: its rows of U and B within SUB_BYTES, at least 8 */
    const Py_ssize_t fit = MC_SW_SUB_BYTES / (Py_ssize_t)(sizeof(T) * (ldu + ldb));
    const Py_ssize_t sub = fit < 8 ? 8 : fit > MC_SW_SUB_ROWS ? MC_SW_SUB_ROWS : fit;
    Py_ssize_t i0, k0, j0, line = 0;
    for (i0 = 0; i0 < nb; i0 += sub) {
        const Py_ssize_t ns = nb - i0 < sub ? nb - i0 : sub;
        const T *b = B + i0 * ldb, *u = b;
        Py_ssize_t lu = ldb;
        /* this sub-block's share of the next block's lines, towards L2 */
        for (; next && line < next_bytes * (i0 + ns) / nb; line += MC_LINE_BYTES)
            __builtin_prefetch(next + line, 0, 2);
        if (d) {                                      /* U = d ∘ B, in L1 */
            MC_SW(_scale)(ns, m, d + i0, b, ldb, Ubuf, ldu);
            u = Ubuf;
            lu = ldu;
        }
        for (k0 = 0; k0 < m; k0 += R) {
            const Py_ssize_t kn = m - k0 < R ? m - k0 : R;
            for (j0 = k0 / VL * VL; j0 < m; j0 += C * VL) {
                const Py_ssize_t jn = m - j0, nv = (jn + VL - 1) / VL;
                T *h = H + k0 * ldh + j0;
                if (nv >= C)
                    MC_SW(_tile)(C, ns, u + k0, lu, b + j0, ldb, kn, jn, alpha, h, ldh);
                else if (nv == 2)
                    MC_SW(_tile)(2, ns, u + k0, lu, b + j0, ldb, kn, jn, alpha, h, ldh);
                else
                    MC_SW(_tile)(1, ns, u + k0, lu, b + j0, ldb, kn, jn, alpha, h, ldh);
            }
        }
        if (intercept) MC_SW(_colsum)(ns, m, u, lu, alpha, H + m, ldh);
    }
}

/* g[c·ldg + j] += Σ_i r[c·nb + i] B[i, j] for c < K, j < m (the gradient's Rᵀ B) */
TARGET static void MC_SW(_gt)(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const T *r,
                              const T *B, Py_ssize_t ldb, T *g, Py_ssize_t ldg)
{
    typedef MC_SW(_v) V;
    enum { NV = 4 };                          /* vectors of columns a pass over the rows */
    Py_ssize_t c, i, j0, v, l;
    for (c = 0; c < K; c++) {
        const T *rc = r + c * nb;
        for (j0 = 0; j0 < m; j0 += NV * VL) {
            const Py_ssize_t nv = (m - j0 + VL - 1) / VL < NV ? (m - j0 + VL - 1) / VL : NV;
            V acc[NV];
            const T *b = B + j0;
#pragma GCC unroll 4
            for (v = 0; v < NV; v++) acc[v] = (V){0};
            for (i = 0; i < nb; i++, b += ldb) {
                const V s = MC_SW(_splat)(rc + i);
#pragma GCC unroll 4
                for (v = 0; v < NV; v++)
                    if (v < nv) acc[v] += s * *(const V *)(b + v * VL);
            }
#pragma GCC unroll 4
            for (v = 0; v < NV; v++) {
                T e[VL];
                if (v >= nv) break;
                memcpy(e, &acc[v], sizeof e);
                for (l = 0; l < VL && j0 + v * VL + l < m; l++)
                    g[c * ldg + j0 + v * VL + l] += e[l];
            }
        }
    }
}

/* z[c·nb + i] = Σ_j B[i, j] th[c·ldt + j] (+ bias[c] where bias ≠ NULL) for c < K; th's
 * rows zero at columns m … round_up(m, VL) − 1, as B's are (or m % VL = 0) */
TARGET static void MC_SW(_z)(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const T *B,
                             Py_ssize_t ldb, const T *th, Py_ssize_t ldt, const T *bias,
                             T *z)
{
    typedef MC_SW(_v) V;
    Py_ssize_t i, c, j, l;
    for (c = 0; c < K; c++) {
        const T *t = th + c * ldt;
        const T b0 = bias ? bias[c] : 0;
        for (i = 0; i < nb; i++) {
            const T *x = B + i * ldb;
            V a0 = {0}, a1 = {0};
            T s = b0;
            for (j = 0; j + 2 * VL <= m; j += 2 * VL) {
                a0 += *(const V *)(x + j) * *(const V *)(t + j);
                a1 += *(const V *)(x + j + VL) * *(const V *)(t + j + VL);
            }
            if (j < m) a0 += *(const V *)(x + j) * *(const V *)(t + j);
            if (j + VL < m) a1 += *(const V *)(x + j + VL) * *(const V *)(t + j + VL);
            a0 += a1;
            for (l = 0; l < VL; l++) s += a0[l];
            z[c * nb + i] = s;
        }
    }
}

#undef MC_SW
#undef T
#undef VL
#undef TARGET

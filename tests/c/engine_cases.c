/* The one-pass engine's blocks in C, against a scalar reference written from the definitions.
 *
 * Every loss × row source (C, F, CSR with int32 and int64 indices) × dtype (float64,
 * float32, and float32 X under float64 arithmetic with y and w in either: mc_stage.h) × rows= ×
 * intercept × weights × gradient / Hessian product × widths × SIMD level this CPU has,
 * the blocks driven as _engine.pyx drives them (Θᵀ laid out K × mp, one accumulator).
 * Built without Python (Py_ssize_t is ptrdiff_t here), so that CI can compile it with the
 * sanitizers and cross-compile it for aarch64 and run it under qemu-user: an x86-only
 * construct or a wrong result on ARM fails there. Prints "N passed, M failed"; exits 1
 * on any failure.
 *
 *   cc -O2 -I src/mcfast/_kernels tests/c/engine_cases.c -lm && ./a.out
 */
#include <stddef.h>
typedef ptrdiff_t Py_ssize_t;

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_stage.h"

/* ---- deterministic random numbers ---------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(void)             /* in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- the reference: ℓ, ℓ′ and ℓ″ from their definitions, in double -------------- */

static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }
static double sigmoid(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

/* one row: loss, r = ℓ′ (gradient) or ℓ″ q (Hessian product), for K outputs */
static double ref_row(int kind, double delta, Py_ssize_t K, const double *z, const double *q,
                      const double *y, int hess, double *r)
{
    Py_ssize_t c;
    double loss = 0;
    if (kind == MC_MULTINOMIAL) {
        double zmax = z[0], s = 0, pq = 0, p[64];
        int label = (int)y[0];
        for (c = 1; c < K; c++) zmax = z[c] > zmax ? z[c] : zmax;
        for (c = 0; c < K; c++) s += exp(z[c] - zmax);
        for (c = 0; c < K; c++) p[c] = exp(z[c] - zmax) / s;
        loss = zmax + log(s) - z[label];
        if (hess) {
            for (c = 0; c < K; c++) pq += p[c] * q[c];
            for (c = 0; c < K; c++) r[c] = p[c] * q[c] - p[c] * pq;
        } else {
            for (c = 0; c < K; c++) r[c] = p[c] - (c == label);
        }
        return loss;
    }
    for (c = 0; c < K; c++) {
        double d1, d2, res = z[c] - y[c];
        switch (kind) {
        case MC_SQUARED: loss += res * res; d1 = 2 * res; d2 = 2; break;
        case MC_LOGISTIC:
            loss += softplus(z[c]) - y[c] * z[c];
            d1 = sigmoid(z[c]) - y[c]; d2 = sigmoid(z[c]) * (1 - sigmoid(z[c])); break;
        case MC_POISSON:
            loss += exp(z[c]) - y[c] * z[c]; d1 = exp(z[c]) - y[c]; d2 = exp(z[c]); break;
        default:  /* huber */
            loss += fabs(res) <= delta ? 0.5 * res * res : delta * (fabs(res) - 0.5 * delta);
            d1 = res < -delta ? -delta : res > delta ? delta : res;
            d2 = fabs(res) <= delta; break;
        }
        r[c] = hess ? d2 * q[c] : d1;
    }
    return loss;
}

/* ---- one problem ----------------------------------------------------------------- */

typedef struct {
    /* is_float: 0 float64, 1 float32, 2 float32 X under float64 arithmetic (y and w
     * float32 where yw32, else float64) */
    int kind, src, is_float, yw32, idx64, intercept, weighted, hess, use_rows;
    Py_ssize_t n, m, K, nrows, xoff;
} spec;

static const char *LOSS_NAMES[] = {"squared", "logistic", "poisson", "huber", "multinomial"};
static const char *SRC_NAMES[] = {"C", "F", "CSR"};

/* lay the doubles `v` (count k) out as the problem's dtype at `dst` */
static void store(void *dst, const double *v, Py_ssize_t k, int is_float)
{
    Py_ssize_t i;
    for (i = 0; i < k; i++) {
        if (is_float) ((float *)dst)[i] = (float)v[i];
        else ((double *)dst)[i] = v[i];
    }
}

static void *aligned(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes < 64 ? 64 : (bytes + 63) / 64 * 64)) abort();
    memset(p, 0, bytes < 64 ? 64 : (bytes + 63) / 64 * 64);
    return p;
}

/* 0 when the engine agrees with the reference, else 1 (and a line saying where) */
static int run_case(const spec *s, int level, Py_ssize_t block)
{
    const Py_ssize_t n = s->n, m = s->m, K = s->K, mp = m + s->intercept;
    const Py_ssize_t ycols = s->kind == MC_SQUARED ? K : 1;
    const Py_ssize_t nsrc = s->use_rows ? s->nrows : n;
    const int f32 = s->is_float == 1, mixed = s->is_float == 2;   /* arithmetic float32 */
    const int yw32 = f32 || (mixed && s->yw32);                    /* y, w stored float32 */
    const size_t T = s->is_float ? sizeof(float) : sizeof(double);  /* X's element */
    const size_t TA = f32 ? sizeof(float) : sizeof(double);        /* θ's, y's, w's */
    double *xd = malloc(sizeof(double) * (size_t)(n * m + 1));     /* X's values, row-major */
    double *yd = malloc(sizeof(double) * (size_t)(n * ycols + 1));
    double *wd = malloc(sizeof(double) * (size_t)(n + 1));
    double *th = malloc(sizeof(double) * (size_t)(mp * K + 1));   /* θ, then P: (mp, K) */
    double *pd = malloc(sizeof(double) * (size_t)(mp * K + 1));
    double *gref = calloc((size_t)(mp * K + 1), sizeof(double));
    double *gabs = calloc((size_t)(mp * K + 1), sizeof(double));
    Py_ssize_t *rows = malloc(sizeof(Py_ssize_t) * (size_t)(nsrc + 1));
    Py_ssize_t i, j, c, ld, nnz = 0;
    double loss_ref = 0, loss_abs = 0, loss;
    int fail = 0;
    /* squared without weights and an odd width: y = NULL, which the engine reads as 0 */
    const int yzero = s->kind == MC_SQUARED && !s->weighted && m % 2;

    /* the data: a third of X's entries zero (so CSR rows differ in length) */
    for (i = 0; i < n * m; i++) xd[i] = uniform() < 0.33 ? 0.0 : 2 * uniform() - 1;
    for (i = 0; i < n; i++) {
        wd[i] = s->weighted ? (i % 7 == 3 ? 0.0 : 0.25 + 2 * uniform()) : 1.0;
        for (c = 0; c < ycols; c++) {
            double u = uniform();
            yd[i * ycols + c] = s->kind == MC_LOGISTIC ? (i % 3 ? (u < 0.5) : u)
                              : s->kind == MC_POISSON ? floor(4 * u)
                              : s->kind == MC_MULTINOMIAL ? floor(u * (double)K)
                              : yzero ? 0.0 : 3 * u - 1.5;
        }
    }
    for (i = 0; i < mp * K; i++) {
        th[i] = (uniform() - 0.5) * (s->kind == MC_POISSON ? 0.4 : 1.2);
        pd[i] = uniform() - 0.5;
    }
    for (i = 0; i < nsrc; i++)
        rows[i] = s->use_rows ? (Py_ssize_t)(uniform() * (double)n) : i;
    /* the reference reads the values the engine reads */
    if (s->is_float)
        for (i = 0; i < n * m; i++) xd[i] = (float)xd[i];
    if (yw32) {
        for (i = 0; i < n * ycols; i++) yd[i] = (float)yd[i];
        for (i = 0; i < n; i++) wd[i] = (float)wd[i];
    }
    if (f32)
        for (i = 0; i < mp * K; i++) { th[i] = (float)th[i]; pd[i] = (float)pd[i]; }

    /* the reference */
    for (i = 0; i < nsrc; i++) {
        const Py_ssize_t ri = rows[i];
        double z[64] = {0}, q[64] = {0}, r[64] = {0}, za[64] = {0}, l;
        for (c = 0; c < K; c++) {
            z[c] = s->intercept ? th[m * K + c] : 0;
            q[c] = s->intercept ? pd[m * K + c] : 0;
            za[c] = 0;
            for (j = 0; j < m; j++) {
                z[c] += xd[ri * m + j] * th[j * K + c];
                q[c] += xd[ri * m + j] * pd[j * K + c];
                za[c] += fabs(xd[ri * m + j] * th[j * K + c]);
            }
        }
        l = ref_row(s->kind, 1.0, K, z, q, yd + ri * ycols, s->hess, r);
        loss_ref += wd[ri] * l;
        loss_abs += wd[ri] * (fabs(l) + 4 * za[0] * (1 + fabs(yd[ri * ycols])));
        for (c = 0; c < K; c++) {
            for (j = 0; j < m; j++) {
                gref[j * K + c] += wd[ri] * r[c] * xd[ri * m + j];
                gabs[j * K + c] += fabs(wd[ri] * xd[ri * m + j]) * (fabs(r[c]) + 1);
            }
            if (s->intercept) {
                gref[m * K + c] += wd[ri] * r[c];
                gabs[m * K + c] += fabs(wd[ri]) * (fabs(r[c]) + 1);
            }
        }
    }

    /* the engine's storage of X, y, w in the dtype */
    {
        mc_prob p;
        void *xs, *ys = aligned(TA * (size_t)(n * ycols + 1)), *ws = aligned(TA * (size_t)(n + 1));
        void *tt = aligned(TA * (size_t)(K * mp)), *pt = aligned(TA * (size_t)(K * mp));
        mc_stage st;
        void *ind = NULL, *ptr = NULL, *scr;
        double *acc = aligned(sizeof(double) * (size_t)(K * mp)), *tmp;
        Py_ssize_t bad = 0, i0, items;
        memset(&p, 0, sizeof p);
        store(ys, yd, n * ycols, yw32);
        store(ws, wd, n, yw32);
        if (s->src == MC_SRC_CSR) {
            for (i = 0; i < n * m; i++) nnz += xd[i] != 0;
            xs = aligned(T * (size_t)(nnz + 1));
            ind = aligned((s->idx64 ? 8 : 4) * (size_t)(nnz + 1));
            ptr = aligned((s->idx64 ? 8 : 4) * (size_t)(n + 1));
            tmp = malloc(sizeof(double) * (size_t)(nnz + 1));
            nnz = 0;
            for (i = 0; i < n; i++) {
                for (j = 0; j < m; j++) {
                    if (xd[i * m + j] == 0) continue;
                    tmp[nnz] = xd[i * m + j];
                    if (s->idx64) ((int64_t *)ind)[nnz] = j; else ((int32_t *)ind)[nnz] = (int32_t)j;
                    nnz++;
                }
                if (s->idx64) ((int64_t *)ptr)[i + 1] = nnz; else ((int32_t *)ptr)[i + 1] = (int32_t)nnz;
            }
            store(xs, tmp, nnz, s->is_float);
            free(tmp);
            ld = 0;
        } else {
            /* C: rows ld = m + pad apart; F: columns ld = n + pad apart; X starts xoff
             * elements into a 64-byte aligned buffer (NumPy's arrays start 16 bytes in) */
            ld = s->src == MC_SRC_C ? m + (m % 3 == 1 ? 2 : 0) : n + (n % 2);
            xs = aligned(T * (size_t)(ld * (s->src == MC_SRC_C ? n : m) + s->xoff + 1));
            tmp = malloc(sizeof(double) * (size_t)(ld * (s->src == MC_SRC_C ? n : m) + 1));
            for (i = 0; i < ld * (s->src == MC_SRC_C ? n : m); i++) tmp[i] = NAN;  /* padding */
            for (i = 0; i < n; i++)
                for (j = 0; j < m; j++)
                    tmp[s->src == MC_SRC_C ? i * ld + j : j * ld + i] = xd[i * m + j];
            store((char *)xs + T * (size_t)s->xoff, tmp, ld * (s->src == MC_SRC_C ? n : m),
                  s->is_float);
            free(tmp);
        }
        /* Θᵀ, Pᵀ: K × mp */
        for (j = 0; j < mp; j++)
            for (c = 0; c < K; c++) {
                if (f32) {
                    ((float *)tt)[c * mp + j] = (float)th[j * K + c];
                    ((float *)pt)[c * mp + j] = (float)pd[j * K + c];
                } else {
                    ((double *)tt)[c * mp + j] = th[j * K + c];
                    ((double *)pt)[c * mp + j] = pd[j * K + c];
                }
            }
        p.src.kind = s->src;
        p.src.x = s->src == MC_SRC_CSR ? xs : (char *)xs + T * (size_t)s->xoff;
        p.src.ld = ld;
        p.src.indices = ind;
        p.src.indptr = ptr;
        p.src.idx64 = s->idx64;
        p.src.rows = s->use_rows ? rows : NULL;
        p.src.n = nsrc;
        p.src.m = m;
        p.src.nstore = n;
        p.loss.kind = s->kind;
        p.loss.delta = 1.0;
        p.K = K;
        p.mp = mp;
        p.intercept = s->intercept;
        p.hess = s->hess;
        p.tt = tt;
        p.pt = s->hess ? pt : NULL;
        p.y = yzero ? NULL : ys;
        p.ycols = ycols;
        p.w = s->weighted ? ws : NULL;
        if (mixed) {        /* a staged problem, as _engine.pyx fills one */
            memset(&st, 0, sizeof st);
            st.p = p;
            st.src = p.src;
            st.p.src.kind = MC_SRC_STAGED;
            st.xf32 = 1;
            st.y = p.y;
            st.w = p.w;
            st.yf32 = st.wf32 = yw32;
            st.sub = mc_stage_rows(s->src, m, (Py_ssize_t)sizeof(float), block);
            st.ent = MC_STAGE_ENTRIES > m ? MC_STAGE_ENTRIES : m;
        }
        items = mc_scratch_items(K, mp, ycols, block) + (mixed ? mc_stage_items(&st.p, block) : 0);
        scr = aligned(TA * (size_t)items + 64);
        mc_set_level(level);
        if (getenv("ENGINE_CASES_VERBOSE"))   /* which case is running, before a crash */
            fprintf(stderr, "%s %s %s n=%ld m=%ld K=%ld flags=%d%d%d%d level=%d\n",
                    LOSS_NAMES[s->kind], SRC_NAMES[s->src], f32 ? "f4" : mixed ? "x4" : "f8",
                    (long)n, (long)m, (long)K, s->use_rows, s->intercept, s->weighted,
                    s->hess, level);
        loss = 0;
        for (i0 = 0; i0 < nsrc; i0 += block) {
            Py_ssize_t nb = nsrc - i0 < block ? nsrc - i0 : block;
            loss += mixed ? mc_stage_block(&st, i0, nb, (double *)scr, acc, &bad)
                  : f32 ? mc_block_f(&p, i0, nb, (float *)scr, acc, &bad)
                        : mc_block_d(&p, i0, nb, (double *)scr, acc, &bad);
        }
        {
            const double tol = f32 ? 2e-4 : 1e-11;
            if (bad) fail = 1;
            if (!s->hess && !(fabs(loss - loss_ref) <= tol * (loss_abs + 1))) fail = 1;
            for (j = 0; j < mp && !fail; j++)
                for (c = 0; c < K; c++) {
                    double got = acc[c * mp + j];
                    if (!(fabs(got - gref[j * K + c]) <= tol * (gabs[j * K + c] + 1))) {
                        fprintf(stderr, "  entry (%ld, %ld): engine %.17g, reference %.17g\n",
                                (long)j, (long)c, got, gref[j * K + c]);
                        fail = 1;
                        break;
                    }
                }
            if (fail)
                fprintf(stderr, "FAILED %s %s %s%s idx64=%d n=%ld m=%ld K=%ld rows=%d "
                        "intercept=%d weights=%d %s level=%d block=%ld xoff=%ld: loss %.17g "
                        "(reference %.17g)\n", LOSS_NAMES[s->kind], SRC_NAMES[s->src],
                        f32 ? "float32" : "float64", mixed ? (yw32 ? " X32 y32" : " X32") : "", s->idx64, (long)n, (long)m,
                        (long)K, s->use_rows, s->intercept, s->weighted,
                        s->hess ? "hessp" : "grad", level, (long)block, (long)s->xoff,
                        loss, loss_ref);
        }
        free(xs); free(ys); free(ws); free(tt); free(pt); free(ind); free(ptr); free(scr);
        free(acc);
    }
    free(xd); free(yd); free(wd); free(th); free(pd); free(gref); free(gabs); free(rows);
    return fail;
}

int main(void)
{
    static const Py_ssize_t widths[] = {1, 3, 4, 8, 13, 16, 32, 40};
    static const Py_ssize_t heights[] = {1, 37, 300};
    /* multinomial: 1 class (the block path), the lanes of one vector, of two or four
       vectors (K ≤ 8), and past them (the block path) */
    static const Py_ssize_t classes[] = {1, 2, 3, 5, 8, 9};
    long passed = 0, failed = 0;
    int kind, src, is_float, flags, level, best = mc_cpu_level();
    size_t wi, hi;
    for (kind = MC_SQUARED; kind <= MC_MULTINOMIAL; kind++)
        for (src = MC_SRC_C; src <= MC_SRC_CSR; src++)
            for (is_float = 0; is_float <= 2; is_float++)
                for (wi = 0; wi < sizeof widths / sizeof *widths; wi++)
                    for (hi = 0; hi < sizeof heights / sizeof *heights; hi++)
                        for (flags = 0; flags < 16; flags++) {
                            spec s;
                            memset(&s, 0, sizeof s);
                            s.kind = kind; s.src = src; s.is_float = is_float;
                            s.yw32 = (int)((wi + hi) % 2);
                            s.n = heights[hi]; s.m = widths[wi];
                            s.intercept = flags & 1; s.weighted = (flags >> 1) & 1;
                            s.hess = (flags >> 2) & 1; s.use_rows = (flags >> 3) & 1;
                            s.idx64 = src == MC_SRC_CSR && (wi % 2);
                            s.nrows = s.n + s.n / 3;
                            s.K = kind == MC_MULTINOMIAL ? classes[(wi + hi + (size_t)flags / 4) % 6]
                                : kind == MC_SQUARED && flags % 3 == 0 ? 3 : 1;
                            s.xoff = (Py_ssize_t)((wi + flags) % 3);
                            for (level = 0; level <= best; level++) {
                                Py_ssize_t block = hi == 2 ? 64 : 256;
                                if (run_case(&s, level, block)) failed++; else passed++;
                            }
                        }
    printf("engine: %ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* mcfast: the fused paths of one (dtype, instruction set) instantiation (mc_group.h).
 *
 * Re-included by mc_levels.h for each (dtype, level) it lists, with MC_T (element),
 * MC_IT (its integer lane type), MC_W (vector bytes), MC_VL (lanes), MC_TARGET (the
 * instruction set's attribute), MC_SPEC (0: the baseline, 1: specialised, 2: also the
 * packed narrow rows for gradients, 3: for Hessian products too) and MC_G(x) (this
 * instantiation's name + x) defined, and MC_S (the element type X is stored in) for
 * the mixed instantiations: float32 X under double arithmetic, the row groups alone
 * (no F order, packed rows or multinomial); no include guard. The generic bodies are always_inline functions taking the loss kind, the mode
 * and the row walk as compile-time constants; mc_group_kind.h (re-included once per loss
 * and mode) makes the named noinline functions of them, and the entries at the end pick
 * one per block. See mc_group.h for what each path does.
 */
#define T MC_T
#define IT MC_IT
#define W MC_W
#define VL MC_VL
#define TARGET MC_TARGET
#define SPECIALISE MC_SPEC
/* S: the element type X is stored in (MC_S where the list gives one: float32 X under
 * double arithmetic, mc_group.h's mixed instantiations), else T */
#ifdef MC_S
#define S MC_S
#define MC_MIXED 1
#else
#define S MC_T
#define MC_MIXED 0
#endif
typedef T MC_G(_v) __attribute__((vector_size(W)));
typedef IT MC_G(_m) __attribute__((vector_size(W)));
typedef float MC_G(_fv) __attribute__((vector_size(VL * sizeof(float))));
typedef T MC_G(_h16) __attribute__((vector_size(16)));
typedef T MC_G(_h32) __attribute__((vector_size(32)));
enum { MC_G(_SPEC) = SPECIALISE != 0,
       MC_G(_PACK) = SPECIALISE >= 2 && MC_PACKED_OK && !MC_MIXED,
       MC_G(_PACKH) = SPECIALISE == 3 && MC_PACKED_OK && !MC_MIXED,
       MC_G(_VL) = VL, MC_G(_XW) = VL * sizeof(S) };   /* XW: bytes of VL stored X */
typedef T MC_G(_hv) __attribute__((vector_size(W * sizeof(T) / 8)));
/* eˣ, log(1 + e) and the losses on W / 8 double lanes: MC_G(_vm_dv), MC_G(_vm_exp),
   MC_G(_vm_loss), ... (the lanes' sums, the multinomial rows, double arithmetic) */
#define MC_VM(x) MC_G(MC_CAT(_vm, x))
#define MC_VML (W / 8)
#define MC_VMF 0
#include "mc_lane_vec.h"
#include "mc_vmath_body.h"
#include "mc_loss_lanes.h"
#undef MC_VM
#undef MC_VML
#undef MC_VMF
/* MC_FLANES: the arithmetic is float32 (VL = W / 4: X, θ and the lanes in float): the
   losses on VL float lanes, MC_G(_vf_loss), with float32 polynomials (twice the lanes
   of double, and shorter polynomials); their sums stay in double lanes */
#if VL * 4 == W
#define MC_FLANES 1
#define MC_VM(x) MC_G(MC_CAT(_vf, x))
#define MC_VML VL
#define MC_VMF 1
#include "mc_lane_vec.h"
#include "mc_vmath_body.h"
#include "mc_loss_lanes.h"
#undef MC_VM
#undef MC_VML
#undef MC_VMF
#else
#define MC_FLANES 0
#endif
/* VL float32 entries from p as T lanes: widened in registers by one conversion from
 * memory on x86-64 (GCC lowers __builtin_convertvector's widening to two half-width
 * conversions and an insert: 1.4× the time of the whole mixed walk) */
TARGET MC_INLINE MC_G(_v) MC_G(_widen)(const float *p)
{
#if MC_MIXED && MC_X86
#if W == 64
    const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(p));
#elif W == 32
    const __m256d d = _mm256_cvtps_pd(_mm_loadu_ps(p));
#else
    const __m128d d = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)p)));
#endif
    MC_G(_v) v;
    memcpy(&v, &d, sizeof v);
    return v;
#else
    return __builtin_convertvector(MC_LOAD(MC_G(_fv), p), MC_G(_v));
#endif
}
/* VL entries of X from p, as T lanes (a float32 X widened lane by lane in registers) */
TARGET MC_INLINE MC_G(_v) MC_G(_ldx)(const S *p)
{
#if MC_MIXED
    return MC_G(_widen)(p);
#else
    return MC_LOAD(MC_G(_v), p);
#endif
}
/* entry i of y or w (a), or VL entries from i, as T: stored float32 (f32) or in T */
TARGET MC_INLINE T MC_G(_one)(const void *a, int f32, Py_ssize_t i)
{
    return f32 ? (T)((const float *)a)[i] : ((const T *)a)[i];
}
TARGET MC_INLINE MC_G(_v) MC_G(_vec)(const void *a, int f32, Py_ssize_t i)
{
    return f32 ? MC_G(_widen)((const float *)a + i) : MC_LOAD(MC_G(_v), (const T *)a + i);
}
/* the last m mod VL entries of a row at p: a masked full load, or memcpy near xend */
TARGET MC_INLINE MC_G(_v) MC_G(_tail)(const S *p, const S *xend, Py_ssize_t tail,
                                      MC_G(_m) mask)
{
    S v[VL] = {0};
    if (p + VL <= xend)
        return (MC_G(_v))((MC_G(_m))MC_G(_ldx)(p) & mask);
    memcpy(v, p, (size_t)tail * sizeof(S));
    return MC_G(_ldx)(v);
}
#if MC_FLANES
/* the low and high halves of VL float lanes, as W / 8 double lanes (in registers: a
   memcpy of the high half went through the stack, a store-forwarding stall a group) */
#define MC_HALF_LO_4 0, 1
#define MC_HALF_HI_4 2, 3
#define MC_HALF_LO_8 0, 1, 2, 3
#define MC_HALF_HI_8 4, 5, 6, 7
#define MC_HALF_LO_16 0, 1, 2, 3, 4, 5, 6, 7
#define MC_HALF_HI_16 8, 9, 10, 11, 12, 13, 14, 15
TARGET MC_INLINE MC_G(_vm_dv) MC_G(_dlo)(MC_G(_v) v)
{
    return __builtin_convertvector(__builtin_shufflevector(v, v, MC_CAT(MC_HALF_LO_, VL)),
                                   MC_G(_vm_dv));
}
TARGET MC_INLINE MC_G(_vm_dv) MC_G(_dhi)(MC_G(_v) v)
{
    return __builtin_convertvector(__builtin_shufflevector(v, v, MC_CAT(MC_HALF_HI_, VL)),
                                   MC_G(_vm_dv));
}
#endif
/* r = w ∘ ℓ′(z, y) on a vector of rows (Hessian: w ∘ ℓ″ q): in double, a vector of
   W / 8 doubles at a time (mixed: each half of the vector), or on the VL float lanes
   where the arithmetic is float32; adds w ℓ to *lacc and r to *iacc, lanes of doubles
   (squared: in T, to *lacc_t and *iacc_t) */
TARGET MC_INLINE MC_G(_v) MC_G(_rlanes)(const int KIND, const int HESS, MC_G(_v) zv,
                                        MC_G(_v) qv, MC_G(_v) yv, MC_G(_v) wv,
                                        double delta, MC_G(_vm_dv) *lacc,
                                        MC_G(_vm_dv) *iacc, MC_G(_v) *lacc_t,
                                        MC_G(_v) *iacc_t)
{
    typedef MC_G(_vm_dv) DV;
    typedef MC_G(_hv) HV;
    enum { H = 8 / sizeof(T), HB = W / H };
    MC_G(_v) rv = {0}, e;     /* rv: filled half by half below (a loop GCC may not unroll) */
    int h;
    if (KIND == MC_SQUARED) {          /* in T: no conversions (float: sums per block) */
        e = zv - yv;
        rv = wv * (HESS ? MC_SQ_HESSP(qv) : MC_SQ_GRAD(e));
        if (!HESS) *lacc_t += wv * MC_SQ_LOSS(e);
        *iacc_t += rv;
        return rv;
    }
#if MC_FLANES
    {                                  /* float lanes; the sums in double */
        MC_G(_v) l_;
        rv = wv * MC_G(_vf_loss)(KIND, HESS, zv, qv, yv, (T)delta, &l_);
        if (!HESS)
            *lacc += MC_G(_dlo)(wv) * MC_G(_dlo)(l_) + MC_G(_dhi)(wv) * MC_G(_dhi)(l_);
        *iacc += MC_G(_dlo)(rv) + MC_G(_dhi)(rv);
        return rv;
    }
#endif
    for (h = 0; h < H; h++) {
        HV zh, qh, yh, wh, rh;
        DV wd, l_, d;
        memcpy(&zh, (const char *)&zv + h * HB, HB);
        memcpy(&qh, (const char *)&qv + h * HB, HB);
        memcpy(&yh, (const char *)&yv + h * HB, HB);
        memcpy(&wh, (const char *)&wv + h * HB, HB);
        wd = __builtin_convertvector(wh, DV);
        d = MC_G(_vm_loss)(KIND, HESS, __builtin_convertvector(zh, DV),
                         __builtin_convertvector(qh, DV),
                         __builtin_convertvector(yh, DV), delta, &l_);
        rh = __builtin_convertvector(wd * d, HV);
        if (!HESS) *lacc += wd * l_;
        *iacc += __builtin_convertvector(rh, DV);
        memcpy((char *)&rv + h * HB, &rh, HB);
    }
    return rv;
}
/* a loop's end: the intercept's Σ r into g[m] and the loss, from the lanes' sums in a
   fixed order (0 for a Hessian product) */
TARGET MC_INLINE double MC_G(_finish)(const mc_prob *p, T *g, const int HESS,
                                      MC_G(_vm_dv) lacc, MC_G(_vm_dv) iacc,
                                      MC_G(_v) lt, MC_G(_v) it)
{
    double loss = 0, isum = 0;
    int l;
    if (p->intercept) {
        for (l = 0; l < W / 8; l++) isum += iacc[l];
        for (l = 0; l < VL; l++) isum += it[l];
        g[p->src.m] += (T)isum;
    }
    if (HESS) return 0;
    for (l = 0; l < W / 8; l++) loss += lacc[l];
    for (l = 0; l < VL; l++) loss += lt[l];
    return loss;
}
/* the software prefetch of a group of contiguous rows: every line of X MC_PF_BYTES on
   from the group's rows xb (a row of ld elements, rowbytes bytes), and y's and w's
   (float32 where yf, wf) as far on from row i */
TARGET MC_INLINE void MC_G(_pfgroup)(const S *xb, Py_ssize_t ld, Py_ssize_t rowbytes,
                                     const T *y, int yf, const T *w, int wf, Py_ssize_t i)
{
    const char *pf = (const char *)xb + MC_PF_BYTES;
    const Py_ssize_t ahead = i + MC_PF_BYTES / rowbytes;
    Py_ssize_t k;
    for (k = 0; k < VL * ld * (Py_ssize_t)sizeof(S); k += MC_LINE_BYTES)
        __builtin_prefetch(pf + k, 0, MC_PF_LOC);
    const size_t ye = yf ? 4 : sizeof(T), we = wf ? 4 : sizeof(T);
    if (y) __builtin_prefetch((const char *)y + ahead * ye, 0, MC_PF_LOC);
    if (w) __builtin_prefetch((const char *)w + ahead * we, 0, MC_PF_LOC);
}
TARGET MC_INLINE double MC_G(_gloop)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb,
                                     T *MC_RESTRICT g, const int KIND, const int HESS,
                                     const int ROWS, const int NCC, const int LDC,
                                     const int AL)
{
    typedef MC_G(_v) V;
    typedef MC_G(_m) M;
    typedef MC_G(_vm_dv) DV;
    MC_GROUP_LOCALS(S, T);
    /* y and w stored in float32 under double arithmetic (the mixed instantiations) */
    const int yf = MC_MIXED && ((const mc_xprob *)p)->yf32;
    const int wf = MC_MIXED && ((const mc_xprob *)p)->wf32;
    /* LDC > 0: rows of exactly LDC entries, packed (ld = m = LDC, known here) */
    const Py_ssize_t m = LDC ? LDC : s->m, ld = LDC ? LDC : s->ld;
    /* AL: every row starts h lanes past a vector boundary; walked in whole aligned
     * vectors from h lanes before the row (mw lanes a row) against copies of Θ, P
     * and G shifted by h: the lanes outside the row are masked to 0 in the dot
     * products; G's lanes outside it collect junk and are dropped at the end */
    const Py_ssize_t h = AL ? (Py_ssize_t)(((uintptr_t)x % MC_G(_XW)) / sizeof(S)) : 0;
    const Py_ssize_t mw = AL ? (h + m + VL - 1) / VL * VL : m;
    const Py_ssize_t tail = AL ? 0 : m % VL, mt = AL ? mw : m - tail;
    const Py_ssize_t nc = NCC >= 0 ? NCC : mt / VL;   /* full chunks of a row */
    const Py_ssize_t rowbytes = ld > 0 ? ld * (Py_ssize_t)sizeof(S) : 1;  /* ld = 0: n = 1 */
    const Py_ssize_t *rows = ROWS ? s->rows : NULL;
    const Py_ssize_t RUNG = mc_run_groups(KIND, VL * rowbytes);        /* groups a run */
    const S *xend = x + (s->nstore - 1) * ld + m;         /* one past X's last entry */
    MC_GROUP_COEFS(T, m);
    T tht[VL], ptt[VL], zl[VL], ql[VL], yl[VL], wl[VL];
    /* a run's dot products, targets, weights and factors r, group by group */
    V zb[MC_RUN_GROUPS], qb[MC_RUN_GROUPS], yb[MC_RUN_GROUPS], wb[MC_RUN_GROUPS];
    T rlb[MC_RUN_GROUPS * VL] __attribute__((aligned(64)));
    DV lacc = {0}, iacc = {0};                    /* per-lane loss and intercept sums */
    V lt = {0}, it = {0};                         /* the same in T (squared loss) */
    const S *xr[VL];
    V a[VL], b[VL], zv, qv, yv, wv, rv;
    V ga[8] = {{0}}, gb[8] = {{0}};   /* G's chunks in registers (NCC = 1 … 4, 8) */
    V gtl = {0};                      /* G's last m mod VL lanes (the tail), over the block */
    M mask, mh, me;
    T ts[MC_AL_MAX] __attribute__((aligned(64)));  /* AL: shifted Θ, P and G */
    T ps[MC_AL_MAX] __attribute__((aligned(64)));
    T gs[MC_AL_MAX] __attribute__((aligned(64)));
    T *const gout = g;
    Py_ssize_t ir, j, r, c, l, k;
    for (l = 0; l < VL; l++) {
        tht[l] = NEEDZ && l < tail ? tt[mt + l] : 0;
        ptt[l] = HESS && l < tail ? pt[mt + l] : 0;
        mask[l] = l < tail ? (IT)-1 : 0;
        mh[l] = l >= h ? (IT)-1 : 0;                  /* AL: the row's first lanes */
        me[l] = l < h + m - (mw - VL) ? (IT)-1 : 0;   /* and its last */
    }
    if (AL) {
        for (l = 0; l < mw; l++) {
            ts[l] = NEEDZ && l >= h && l < h + m ? tt[l - h] : 0;
            ps[l] = HESS && l >= h && l < h + m ? pt[l - h] : 0;
            gs[l] = 0;
        }
        x -= h;
        tt = ts;
        pt = ps;
        g = gs;
    }
    /* runs of RUNG groups: the run's dot products, then its losses, then its updates of
       G (mc_group.h, MC_RUN_GROUPS); RUNG = 1 is one group at a time, fused */
    for (ir = 0; ir < nb; ir += RUNG * VL) {
        for (j = 0; j < RUNG && ir + j * VL < nb; j++) {
            const Py_ssize_t i = ir + j * VL, ng = nb - i < VL ? nb - i : VL;
            const S *xb = x + (i0 + i) * ld;                  /* the group's rows: */
            for (r = 0; r < ng; r++)
                if (ROWS) xr[r] = x + rows[i0 + i + r] * ld;
            if (ROWS) {
                /* random rows: fetch the next group's now (latency, not bandwidth),
                   its targets and weights too (each a miss of its own) */
                for (r = 0; r < VL && i0 + i + VL + r < s->n; r++) {
                    const Py_ssize_t nr = rows[i0 + i + VL + r];
                    MC_PREFETCH_ROW(x + nr * ld, m * sizeof(S));
                    MC_PREFETCH_AT(y, nr, yf);
                    MC_PREFETCH_AT(w, nr, wf);
                }
            } else if (RUNG == 1 && MC_PF_FAR(s->n, rowbytes)) {
                /* (runs of several groups prefetch in their loss loop instead) */
                MC_G(_pfgroup)(xb, ld, rowbytes, y, yf, w, wf, i0 + i);
            }
            /* the group's dot products, a vector per row (rows interleaved: VL chains) */
            for (r = 0; r < VL; r++) { a[r] = (V){0}; b[r] = (V){0}; }
            if (ng == VL) {
                /* (AL: the row's first and last chunks apart, masked; no test inside) */
                for (k = AL; k < nc - AL; k++) {
                    const V tv = NEEDZ ? MC_LOAD(V, tt + k * VL) : (V){0};
                    const V pv = HESS ? MC_LOAD(V, pt + k * VL) : (V){0};
                    for (r = 0; r < VL; r++) {
                        const V xv = MC_G(_ldx)(XR(r) + k * VL);
                        if (NEEDZ) a[r] += xv * tv;
                        if (HESS) b[r] += xv * pv;
                    }
                }
                for (c = 0; AL && c < (nc > 1 ? 2 : 1); c++) {
                    const Py_ssize_t kk = c ? nc - 1 : 0;
                    const M mk = c ? me : (nc > 1 ? mh : mh & me);
                    const V tv = NEEDZ ? MC_LOAD(V, tt + kk * VL) : (V){0};
                    const V pv = HESS ? MC_LOAD(V, pt + kk * VL) : (V){0};
                    for (r = 0; r < VL; r++) {
                        const V xv = (V)((M)MC_G(_ldx)(XR(r) + kk * VL) & mk);
                        if (NEEDZ) a[r] += xv * tv;
                        if (HESS) b[r] += xv * pv;
                    }
                }
            } else {
                for (r = 0; r < ng; r++)
                    for (c = 0; c < mt; c += VL) {
                        V xv = MC_G(_ldx)(XR(r) + c);
                        if (AL && c == 0) xv = (V)((M)xv & mh);
                        if (AL && c == mt - VL) xv = (V)((M)xv & me);
                        if (NEEDZ) a[r] += xv * MC_LOAD(V, tt + c);
                        if (HESS) b[r] += xv * MC_LOAD(V, pt + c);
                    }
            }
            if (tail)
                for (r = 0; r < ng; r++) {
                    const V xv = MC_G(_tail)(XR(r) + mt, xend, tail, mask);
                    if (NEEDZ) a[r] += xv * MC_LOAD(V, tht);
                    if (HESS) b[r] += xv * MC_LOAD(V, ptt);
                }
            zv = (NEEDZ ? MC_REDV(M, a) : (V){0}) + b0;
            qv = (HESS ? MC_REDV(M, b) : (V){0}) + bp;
            /* the lanes' targets and weights: slices, or gathered (rows=, short group) */
            if (ROWS || ng < VL) {
                MC_STORE(zl, zv);
                MC_STORE(ql, qv);
                for (l = 0; l < VL; l++) {
                    Py_ssize_t row = l < ng ? (ROWS ? rows[i0 + i + l] : i0 + i + l) : 0;
                    yl[l] = y && l < ng ? MC_G(_one)(y, yf, row) : 0;
                    wl[l] = l < ng ? (w ? MC_G(_one)(w, wf, row) : 1) : 0;
                    if (l >= ng) { zl[l] = 0; ql[l] = 0; }
                }
                zv = MC_LOAD(V, zl);
                qv = MC_LOAD(V, ql);
                yv = MC_LOAD(V, yl);
                wv = MC_LOAD(V, wl);
            } else {
                yv = y ? MC_G(_vec)(y, yf, i0 + i) : (V){0};
                wv = w ? MC_G(_vec)(w, wf, i0 + i) : (V){0} + 1;
            }
            zb[j] = zv;
            qb[j] = qv;
            yb[j] = yv;
            wb[j] = wv;
        }
        /* the run's losses: independent vectors, so that one's chain of dependent
           operations (eˣ, the division, log) overlaps the next's; and the prefetch of
           X, y and w, so that memory stays busy while they compute */
        for (j = 0; j < RUNG && ir + j * VL < nb; j++) {
            const Py_ssize_t i = ir + j * VL;
            if (!ROWS && RUNG > 1 && MC_PF_FAR(s->n, rowbytes))
                MC_G(_pfgroup)(x + (i0 + i) * ld, ld, rowbytes, y, yf, w, wf, i0 + i);
            rv = MC_G(_rlanes)(KIND, HESS, zb[j], qb[j], yb[j], wb[j], delta, &lacc,
                               &iacc, &lt, &it);
            MC_STORE(rlb + j * VL, rv);
        }
        for (j = 0; j < RUNG && ir + j * VL < nb; j++) {
            const Py_ssize_t i = ir + j * VL, ng = nb - i < VL ? nb - i : VL;
            const S *xb = x + (i0 + i) * ld;                  /* the group's rows: */
            for (r = 0; r < ng; r++)
                if (ROWS) xr[r] = x + rows[i0 + i + r] * ld;
            const T *rl = rlb + j * VL;
            /* G += Σ_r r_r x_r, the rows from L1: for a narrow row (NCC chunks) in
               registers over the block, even and odd rows apart; else four accumulators
               a chunk against latency */
            if (NCC > 0 && ng == VL) {
                if (NCC <= 2)                       /* few chunks: two chains each */
                    for (r = 0; r < VL; r += 2)
                        for (k = 0; k < NCC; k++) {
                            ga[k] += rl[r] * MC_G(_ldx)(XR(r) + k * VL);
                            gb[k] += rl[r + 1] * MC_G(_ldx)(XR(r + 1) + k * VL);
                        }
                else
                    for (r = 0; r < VL; r++)
                        for (k = 0; k < NCC; k++)
                            ga[k] += rl[r] * MC_G(_ldx)(XR(r) + k * VL);
            } else if (ng == VL) {    /* a full group: r_r broadcast once, rows fixed */
                V rb[VL];
                for (r = 0; r < VL; r++) rb[r] = (V){0} + rl[r];
                for (c = 0; c < mt; c += VL) {
                    V g0 = MC_LOAD(V, g + c), g1 = {0};
                    for (r = 0; r < VL; r += 2) {
                        g0 += rb[r] * MC_G(_ldx)(XR(r) + c);
                        g1 += rb[r + 1] * MC_G(_ldx)(XR(r + 1) + c);
                    }
                    g0 += g1;
                    MC_STORE(g + c, g0);
                }
            } else {
                for (c = 0; c < mt; c += VL) {
                    V g0 = MC_LOAD(V, g + c), g1 = {0}, g2 = {0}, g3 = {0};
                    for (r = 0; r + 4 <= ng; r += 4) {
                        g0 += rl[r] * MC_G(_ldx)(XR(r) + c);
                        g1 += rl[r + 1] * MC_G(_ldx)(XR(r + 1) + c);
                        g2 += rl[r + 2] * MC_G(_ldx)(XR(r + 2) + c);
                        g3 += rl[r + 3] * MC_G(_ldx)(XR(r + 3) + c);
                    }
                    for (; r < ng; r++) g0 += rl[r] * MC_G(_ldx)(XR(r) + c);
                    g0 = (g0 + g1) + (g2 + g3);
                    MC_STORE(g + c, g0);
                }
            }
            if (tail)          /* lanes past the tail are 0: masked loads */
                for (r = 0; r < ng; r++)
                    gtl += rl[r] * MC_G(_tail)(XR(r) + mt, xend, tail, mask);
        }
    }
    if (tail) {
        T gl[VL];
        MC_STORE(gl, gtl);
        for (l = 0; l < tail; l++) g[mt + l] += gl[l];
    }
    for (k = 0; k < NCC; k++) {
        V gk = MC_LOAD(V, g + k * VL) + (ga[k] + gb[k]);
        MC_STORE(g + k * VL, gk);
    }
    if (AL)
        for (l = 0; l < m; l++) gout[l] += g[h + l];
    return MC_G(_finish)(p, gout, HESS, lacc, iacc, lt, it);
}
#if !MC_MIXED   /* F order, packed rows, multinomial: X in T only */
/* Column-major rows (F order, no rows=): a block is cut into sub-blocks of about
 * MC_F_BYTES of X (at most MC_F_ROWS rows), each read in place as m column segments:
 *   z = Σ_j θ_j X[:, j]         MC_G(_fz): U vectors of rows at a time, z (and q) in
 *                               registers over the m columns, the segments of the
 *                               sub-block MC_F_AHEAD on fetched meanwhile;
 *   r = w ∘ ℓ′(z, y)            the loss on vectors of rows;
 *   G_j += X[:, j] · r          from L1.                                           */
/* z and q of vectors c … c + U·VL of the sub-block at row r0 (z[i] = b0 + Σ_j θ_j x_ij
 * in column order, as one element at a time: the same bits), with the lines of rows
 * c … c + U·VL of the `pn` rows `ahead` rows further on prefetched column by column */
TARGET MC_INLINE void MC_G(_fz)(const T *MC_RESTRICT x, Py_ssize_t ld, Py_ssize_t m,
                                Py_ssize_t r0, Py_ssize_t c, Py_ssize_t ahead, Py_ssize_t pn,
                                const T *tt, const T *pt, T b0, T bp,
                                T *MC_RESTRICT z, T *MC_RESTRICT q, const int U,
                                const int NEEDZ, const int HESS)
{
    typedef MC_G(_v) V;
    const int lines = (int)((U * VL * sizeof(T) + MC_LINE_BYTES - 1) / MC_LINE_BYTES);
    V za[8], qa[8];
    const T *col = x + r0 + c;                 /* column j's vectors, j = 0, 1, … */
    const char *pf = (const char *)(col + ahead);   /* the rows ahead, as far */
    const int whole = c + U * VL <= pn;             /* all of them are in X */
    Py_ssize_t j;
    int u;
    for (u = 0; u < U; u++) { za[u] = (V){0} + b0; qa[u] = (V){0} + bp; }
    for (j = 0; j < m; j++, col += ld, pf += ld * (Py_ssize_t)sizeof(T)) {
        const T tj = NEEDZ ? tt[j] : 0, pj = HESS ? pt[j] : 0;
        if (whole)   /* (near X's end, a few lines of the last vectors go without) */
            for (u = 0; u < lines; u++)
                __builtin_prefetch(pf + u * MC_LINE_BYTES, 0, MC_PF_LOC);
        for (u = 0; u < U; u++) {
            const V xv = MC_LOAD(V, col + u * VL);
            if (NEEDZ) za[u] += tj * xv;
            if (HESS) qa[u] += pj * xv;
        }
    }
    for (u = 0; u < U; u++) {
        MC_STORE(z + c + u * VL, za[u]);   /* both: the loss reads both */
        MC_STORE(q + c + u * VL, qa[u]);
    }
}
/* vectors of rows whose z (and q) stay in registers in MC_G(_fz) (za, qa: 8 at most):
 * 8, or 4 for the Hessian product below 32 vector registers (16 would spill) */
#define MC_FZ_U(HESS) (W == 64 || !(HESS) ? 8 : 4)
/* z and q of the n1 rows of the sub-block at row r0 (nv whole vectors, then the rest
 * element by element) */
TARGET MC_INLINE void MC_G(_fsub)(const T *MC_RESTRICT x, Py_ssize_t ld, Py_ssize_t m,
                                  Py_ssize_t r0, Py_ssize_t n1, Py_ssize_t ahead,
                                  Py_ssize_t pn, const T *tt, const T *pt, T b0, T bp,
                                  T *MC_RESTRICT z, T *MC_RESTRICT q, const int NEEDZ,
                                  const int HESS)
{
    const Py_ssize_t nv = n1 / VL;
    Py_ssize_t c, i, j;
    for (c = 0; c + MC_FZ_U(HESS) * VL <= nv * VL; c += MC_FZ_U(HESS) * VL)
        MC_G(_fz)(x, ld, m, r0, c, ahead, pn, tt, pt, b0, bp, z, q, MC_FZ_U(HESS), NEEDZ,
                  HESS);
    for (; c < nv * VL; c += VL)
        MC_G(_fz)(x, ld, m, r0, c, ahead, pn, tt, pt, b0, bp, z, q, 1, NEEDZ, HESS);
    for (i = nv * VL; i < n1; i++) { z[i] = b0; q[i] = bp; }
    for (j = 0; j < m && nv * VL < n1; j++) {   /* the rows past the last vector */
        const T *col = x + j * ld + r0;
        const T tj = NEEDZ ? tt[j] : 0, pj = HESS ? pt[j] : 0;
        for (i = nv * VL; i < n1; i++) { z[i] += tj * col[i]; q[i] += pj * col[i]; }
    }
}
/* MC_G(_fsub) once per mode, not per loss: the gradient (z), the Hessian product (z and
 * q) and squared's (q alone: ℓ″ = 2) */
TARGET __attribute__((noinline)) static void MC_G(_fsub_g)(
    const T *MC_RESTRICT x, Py_ssize_t ld, Py_ssize_t m, Py_ssize_t r0, Py_ssize_t n1,
    Py_ssize_t ahead, Py_ssize_t pn, const T *tt, const T *pt, T b0, T bp,
    T *MC_RESTRICT z, T *MC_RESTRICT q)
{
    MC_G(_fsub)(x, ld, m, r0, n1, ahead, pn, tt, pt, b0, bp, z, q, 1, 0);
}
TARGET __attribute__((noinline)) static void MC_G(_fsub_h)(
    const T *MC_RESTRICT x, Py_ssize_t ld, Py_ssize_t m, Py_ssize_t r0, Py_ssize_t n1,
    Py_ssize_t ahead, Py_ssize_t pn, const T *tt, const T *pt, T b0, T bp,
    T *MC_RESTRICT z, T *MC_RESTRICT q)
{
    MC_G(_fsub)(x, ld, m, r0, n1, ahead, pn, tt, pt, b0, bp, z, q, 1, 1);
}
TARGET __attribute__((noinline)) static void MC_G(_fsub_q)(
    const T *MC_RESTRICT x, Py_ssize_t ld, Py_ssize_t m, Py_ssize_t r0, Py_ssize_t n1,
    Py_ssize_t ahead, Py_ssize_t pn, const T *tt, const T *pt, T b0, T bp,
    T *MC_RESTRICT z, T *MC_RESTRICT q)
{
    MC_G(_fsub)(x, ld, m, r0, n1, ahead, pn, tt, pt, b0, bp, z, q, 0, 1);
}
TARGET MC_INLINE double MC_G(_floop)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb,
                                     T *MC_RESTRICT g, const int KIND, const int HESS)
{
    typedef MC_G(_v) V;
    typedef MC_G(_vm_dv) DV;
    MC_GROUP_LOCALS(T, T);
    const Py_ssize_t m = s->m, ld = s->ld;
    MC_GROUP_COEFS(T, m);
    Py_ssize_t sb = MC_F_BYTES / (m * (Py_ssize_t)sizeof(T)) / VL * VL;
    T z[MC_F_ROWS] __attribute__((aligned(64)));
    T q[MC_F_ROWS] __attribute__((aligned(64)));
    T r[MC_F_ROWS] __attribute__((aligned(64)));
    T zl[VL], ql[VL], yl[VL], wl[VL], rl[VL];
    DV lacc = {0}, iacc = {0};
    V lt = {0}, it = {0};
    Py_ssize_t b, c, j, i, l;
    sb = sb < VL ? VL : (sb > MC_F_ROWS ? MC_F_ROWS : sb);
    const Py_ssize_t ahead = MC_F_AHEAD * sb;       /* rows on to prefetch */
    for (b = 0; b < nb; b += sb) {
        const Py_ssize_t n1 = nb - b < sb ? nb - b : sb, nv = n1 / VL, r0 = i0 + b;
        /* the rows MC_F_AHEAD sub-blocks on (the part's next block's too) to prefetch */
        const Py_ssize_t pn = s->n - r0 - ahead < n1 ? s->n - r0 - ahead : n1;
        if (!HESS)
            MC_G(_fsub_g)(x, ld, m, r0, n1, ahead, pn, tt, pt, b0, bp, z, q);
        else if (NEEDZ)
            MC_G(_fsub_h)(x, ld, m, r0, n1, ahead, pn, tt, pt, b0, bp, z, q);
        else
            MC_G(_fsub_q)(x, ld, m, r0, n1, ahead, pn, tt, pt, b0, bp, z, q);
        for (c = 0; c < n1; c += VL) {
            V zv, qv, yv, wv, rv;
            if (c + VL <= n1) {
                zv = MC_LOAD(V, z + c);
                qv = MC_LOAD(V, q + c);
                yv = y ? MC_LOAD(V, y + r0 + c) : (V){0};
                wv = w ? MC_LOAD(V, w + r0 + c) : (V){0} + 1;
            } else {                             /* the short last vector of rows */
                for (l = 0; l < VL; l++) {
                    int in = c + l < n1;
                    zl[l] = in ? z[c + l] : 0;
                    ql[l] = in ? q[c + l] : 0;
                    yl[l] = in && y ? y[r0 + c + l] : 0;
                    wl[l] = in ? (w ? w[r0 + c + l] : 1) : 0;
                }
                zv = MC_LOAD(V, zl); qv = MC_LOAD(V, ql);
                yv = MC_LOAD(V, yl); wv = MC_LOAD(V, wl);
            }
            rv = MC_G(_rlanes)(KIND, HESS, zv, qv, yv, wv, delta, &lacc, &iacc, &lt, &it);
            MC_STORE(rl, rv);
            for (l = 0; l < VL && c + l < n1; l++) r[c + l] = rl[l];
        }
        for (j = 0; j < m; j++) {
            const T *col = x + j * ld + r0;
            V a0 = {0}, a1 = {0};
            T sj;
            for (c = 0; c + 2 * VL <= nv * VL; c += 2 * VL) {
                a0 += MC_LOAD(V, col + c) * MC_LOAD(V, r + c);
                a1 += MC_LOAD(V, col + c + VL) * MC_LOAD(V, r + c + VL);
            }
            if (c < nv * VL) a0 += MC_LOAD(V, col + c) * MC_LOAD(V, r + c);
            a0 += a1;
            sj = MC_HSUM(T, MC_G(_h16), MC_G(_h32), W, a0);
            for (i = nv * VL; i < n1; i++) sj += col[i] * r[i];
            g[j] += sj;
        }
    }
    return MC_G(_finish)(p, g, HESS, lacc, iacc, lt, it);
}
/* Narrow contiguous rows (m a power of two, m ≤ VL / 2; GCC, MC_SPEC 2 or 3): one vector
 * holds P = VL / m whole rows, a group of VL rows is m vectors. Products with θ
 * repeated P times, then log2(m) levels of the shuffle tree sum each row's m lanes
 * (runtime masks, set up per call), a permutation puts the rows in order; G += X r
 * with r spread over each row's m lanes. The rows past the last whole group go to
 * the row-group loop. */
TARGET MC_INLINE double MC_G(_ploop)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb,
                                     T *MC_RESTRICT g, const int KIND, const int HESS,
                                     const int MW)
{
    typedef MC_G(_v) V;
    typedef MC_G(_m) M;
    typedef MC_G(_vm_dv) DV;
    MC_GROUP_LOCALS(T, T);
    const Py_ssize_t m = MW ? MW : s->m, P = VL / m;   /* MW: m known here */
    MC_GROUP_COEFS(T, m);
    M lo[4], hi[4], perm, ex[VL];
    int rid[VL][VL] = {{0}}, nid[VL][VL];
    V th = {0}, ph = {0}, a[VL], b[VL], acc0 = {0}, acc1 = {0};
    V zb[MC_RUN_GROUPS], qb[MC_RUN_GROUPS], yb[MC_RUN_GROUPS], wb[MC_RUN_GROUPS];
    V rb[MC_RUN_GROUPS];
    DV lacc = {0}, iacc = {0};
    V lt = {0}, it = {0};
    T gl[VL];
    double loss;
    Py_ssize_t i, j, l, h, t, L = 0, cnt, k, ir;
    const Py_ssize_t ngr = nb / VL;                       /* whole groups */
    const Py_ssize_t RUNG = mc_run_groups(KIND, m * W);               /* groups a run */
    const int far = MC_PF_FAR(s->n, m * (Py_ssize_t)sizeof(T));
    while (((Py_ssize_t)1 << L) < m) L++;
    for (l = 0; l < VL; l++) {
        th[l] = NEEDZ ? tt[l % m] : 0;
        ph[l] = HESS ? pt[l % m] : 0;
    }
    /* the tree's masks, level h pairing blocks of 2^h lanes (as MC_RED<VL>) */
    for (h = 0; h < L; h++) {
        const Py_ssize_t blk = (Py_ssize_t)1 << h;
        Py_ssize_t q = 0, base, u;
        for (base = 0; base < VL; base += 2 * blk) {
            for (u = 0; u < 2 * blk; u++, q++) {
                lo[h][q] = (IT)(u < blk ? base + u : VL + base + u - blk);
                hi[h][q] = (IT)(u < blk ? base + blk + u : VL + base + u);
            }
        }
    }
    /* which row each lane holds after the tree: follow the row ids */
    for (j = 0; j < m; j++)
        for (l = 0; l < VL; l++) rid[j][l] = (int)(j * P + l / m);
    for (h = 0, cnt = m; h < L; h++, cnt /= 2) {
        for (t = 0; t < cnt / 2; t++)
            for (l = 0; l < VL; l++) {
                Py_ssize_t li = lo[h][l];
                nid[t][l] = li < VL ? rid[2 * t][li] : rid[2 * t + 1][li - VL];
            }
        for (t = 0; t < cnt / 2; t++)
            for (l = 0; l < VL; l++) rid[t][l] = nid[t][l];
    }
    for (l = 0; l < VL; l++) perm[rid[0][l]] = (IT)l;
    for (j = 0; j < m; j++)
        for (l = 0; l < VL; l++) ex[j][l] = (IT)(j * P + l / m);
    /* runs of RUNG groups, as in MC_G(_gloop): products, losses, updates of G */
    for (ir = 0; ir < ngr; ir += RUNG) {
        for (j = 0; j < RUNG && ir + j < ngr; j++) {
            const T *xb = x + (i0 + (ir + j) * VL) * m;
            if (RUNG == 1 && far)                   /* tiny X: nothing to fetch */
                MC_G(_pfgroup)(xb, m, m * (Py_ssize_t)sizeof(T), y, 0, w, 0,
                               i0 + (ir + j) * VL);
            for (k = 0; k < m; k++) {
                const V xv = MC_LOAD(V, xb + k * VL);
                a[k] = xv * th;
                b[k] = xv * ph;
            }
            for (h = 0, cnt = m; h < L; h++, cnt /= 2)
                for (t = 0; t < cnt / 2; t++) {
                    if (NEEDZ) a[t] = MC_VSHUF2(a[2 * t], a[2 * t + 1], lo[h])
                                      + MC_VSHUF2(a[2 * t], a[2 * t + 1], hi[h]);
                    if (HESS) b[t] = MC_VSHUF2(b[2 * t], b[2 * t + 1], lo[h])
                                     + MC_VSHUF2(b[2 * t], b[2 * t + 1], hi[h]);
                }
            zb[j] = MC_VSHUF1(a[0], perm) + b0;
            qb[j] = MC_VSHUF1(b[0], perm) + bp;
            yb[j] = y ? MC_LOAD(V, y + i0 + (ir + j) * VL) : (V){0};
            wb[j] = w ? MC_LOAD(V, w + i0 + (ir + j) * VL) : (V){0} + 1;
        }
        for (j = 0; j < RUNG && ir + j < ngr; j++) {
            if (RUNG > 1 && far)
                MC_G(_pfgroup)(x + (i0 + (ir + j) * VL) * m, m, m * (Py_ssize_t)sizeof(T),
                               y, 0, w, 0, i0 + (ir + j) * VL);
            rb[j] = MC_G(_rlanes)(KIND, HESS, zb[j], qb[j], yb[j], wb[j], delta, &lacc,
                                  &iacc, &lt, &it);
        }
        for (j = 0; j < RUNG && ir + j < ngr; j++) {
            const T *xb = x + (i0 + (ir + j) * VL) * m;
            for (k = 0; k < m; k += 2) {
                acc0 += MC_LOAD(V, xb + k * VL) * MC_VSHUF1(rb[j], ex[k]);
                if (k + 1 < m)
                    acc1 += MC_LOAD(V, xb + (k + 1) * VL) * MC_VSHUF1(rb[j], ex[k + 1]);
            }
        }
    }
    i = ngr * VL;
    acc0 += acc1;
    MC_STORE(gl, acc0);
    for (l = 0; l < VL; l++) g[l % m] += gl[l];
    loss = MC_G(_finish)(p, g, HESS, lacc, iacc, lt, it);
    if (i < nb)                                      /* the rows past the groups */
        loss += MC_G(_gloop)(p, i0 + i, nb - i, g, KIND, HESS, 0, 0, 0, 0);
    return HESS ? 0 : loss;
}
/* Multinomial on rows (C order or rows=): a row's K predictions are the lanes of NV
 * vectors, class c in lane c mod CPV of vector c / CPV, CPV = W / 8 (the double lanes
 * of a vector, where the softmax runs); z = Σ_j x_j Θ_j (Θ's rows padded to NV·VL
 * lanes, in ex), so no shuffles; softmax on the lanes (padded lanes e = 0); G_j += x_j r
 * (G's rows in ex), two rows a step. NV = 1 takes K ≤ CPV, NV = 2 and 4 (up to
 * MC_MN_WIDE(W)) the rest of K ≤ 8 where CPV < 8 (AVX2: K = 8 was the general block
 * path's, 1.3× the gradient's time and 2.2× the Hessian product's). */
enum { MC_G(_CPV) = W / 8 };
/* the loops over a row's vectors, accumulators and lanes, unrolled whole so that the
   arrays of vectors live in registers (the baseline is compiled for size: without
   this its rows took 1.4-2.8x the time, the arrays on the stack) */
#ifndef MC_MN_UNROLL
#define MC_MN_UNROLL _Pragma("GCC unroll 8")
#endif
_Static_assert(MC_MN_WIDE(W) * VL <= 16, "mc_scratch_items gives the multinomial rows 16 lanes a row of Θ");
/* the first W / 8 lanes of v, in double */
TARGET MC_INLINE MC_G(_vm_dv) MC_G(_lo)(MC_G(_v) v)
{
    MC_G(_hv) h;
    memcpy(&h, &v, sizeof h);
    return __builtin_convertvector(h, MC_G(_vm_dv));
}
/* one multinomial row on NV vectors: z = Σ_j x_j Θ_j + b on the lanes, softmax over
   the K lanes (padded lanes e = 0); sets rv to r = w (p − e_y) (Hessian:
   w p ∘ (q − pᵀq)) and adds the row's loss to *loss. 4 / NV accumulators a vector. */
TARGET MC_INLINE void MC_G(_mrow)(const T *MC_RESTRICT xi, Py_ssize_t m, Py_ssize_t K,
                                  const T *MC_RESTRICT thv, const T *MC_RESTRICT pv,
                                  const MC_G(_v) *b0, const MC_G(_v) *bp, double yi,
                                  double wi, MC_G(_vm_dv) lanes, const int NV,
                                  const int HESS, double *loss, MC_G(_v) *rv)
{
    typedef MC_G(_v) V;
    typedef MC_G(_vm_dv) DV;
    typedef MC_G(_vm_iv) IV;
    enum { CPV = MC_G(_CPV) };
    const int AC = 4 / NV;                  /* accumulators a vector: 4 in all */
    const Py_ssize_t st = NV * VL;          /* a row of Θ's lanes */
    V z[4][4], q[4][2];
    DV e[4], pd[4];
    T zl[4 * VL];
    double zmax = -INFINITY, sum = 0;
    Py_ssize_t j, c;
    int v, a;
    MC_MN_UNROLL
    for (v = 0; v < NV; v++) {
        MC_MN_UNROLL
        for (a = 0; a < AC; a++) z[v][a] = (V){0};
        z[v][0] = b0[v];
        q[v][0] = bp[v];
        q[v][1] = (V){0};
    }
    for (j = 0; j + 4 <= m; j += 4)
        MC_MN_UNROLL
        for (v = 0; v < NV; v++) {
            const T *tv = thv + v * VL, *qv = pv + v * VL;
            MC_MN_UNROLL
            for (a = 0; a < 4; a++)
                z[v][a % AC] += xi[j + a] * MC_LOAD(V, tv + (j + a) * st);
            if (HESS)
                MC_MN_UNROLL
                for (a = 0; a < 4; a++)
                    q[v][a & 1] += xi[j + a] * MC_LOAD(V, qv + (j + a) * st);
        }
    for (; j < m; j++)
        MC_MN_UNROLL
        for (v = 0; v < NV; v++) {
            z[v][0] += xi[j] * MC_LOAD(V, thv + j * st + v * VL);
            if (HESS) q[v][0] += xi[j] * MC_LOAD(V, pv + j * st + v * VL);
        }
    MC_MN_UNROLL
    for (v = 0; v < NV; v++) {
        MC_MN_UNROLL
        for (a = 1; a < AC; a++) z[v][0] += z[v][a];
        MC_STORE(zl + v * VL, z[v][0]);
    }
    /* the softmax of mc_loss_lanes.h over the K lanes: e^(z − zmax) (padded lanes 0) */
    MC_MN_UNROLL
    for (v = 0; v < NV; v++)
        MC_MN_UNROLL
        for (c = 0; c < CPV; c++)
            if (v * CPV + c < K) zmax = mc_mn_max(zmax, zl[v * VL + c]);
    zmax = mc_mn_shift(zmax);
    MC_MN_UNROLL
    for (v = 0; v < NV; v++) {
        const IV live = lanes < (double)(K - v * CPV);     /* the class lanes */
        e[v] = MC_G(_vm_mn_e)(MC_G(_lo)(z[v][0]), (DV){0} + zmax);
        e[v] = MC_G(_vm_sel)(live, e[v], (DV){0});
    }
    MC_MN_UNROLL
    for (v = 0; v < NV; v++)
        MC_MN_UNROLL
        for (c = 0; c < CPV; c++)
            if (v * CPV + c < K) sum += e[v][c];
    MC_MN_UNROLL
    for (v = 0; v < NV; v++) pd[v] = e[v] / sum;
    if (HESS) {
        DV qd[4];
        double pq = 0;
        MC_MN_UNROLL
        for (v = 0; v < NV; v++) qd[v] = MC_G(_lo)(q[v][0] + q[v][1]);
        MC_MN_UNROLL
        for (v = 0; v < NV; v++)
            MC_MN_UNROLL
            for (c = 0; c < CPV; c++)
                if (v * CPV + c < K) pq += pd[v][c] * qd[v][c];
        MC_MN_UNROLL
        for (v = 0; v < NV; v++)
            e[v] = MC_G(_vm_mn_r)(1, pd[v], qd[v], (DV){0} + pq, (DV){0}, (DV){0} + wi);
    } else if (mc_mn_label_ok(yi, K)) {
        const Py_ssize_t yc = (Py_ssize_t)yi;
        MC_MN_UNROLL
        for (v = 0; v < NV; v++) {
            const DV hit = (DV)((IV)((DV){0} + 1.0) & (lanes == yi - (double)(v * CPV)));
            e[v] = MC_G(_vm_mn_r)(0, pd[v], (DV){0}, (DV){0}, hit, (DV){0} + wi);
        }
        *loss += wi * mc_mn_loss(zmax, sum, (double)zl[(yc / CPV) * VL + yc % CPV]);
    } else {
        *loss += NAN;
        MC_MN_UNROLL
        for (v = 0; v < NV; v++) e[v] = (DV){0} + NAN;
    }
    MC_MN_UNROLL
    for (v = 0; v < NV; v++) {             /* r in the first W / 8 lanes */
        MC_G(_hv) rh = __builtin_convertvector(e[v], MC_G(_hv));
        rv[v] = (V){0};
        memcpy(&rv[v], &rh, sizeof rh);
    }
}
/* the multinomial rows i0 .. i0 + nb on NV vectors of classes; the row walk (rows= or
   C order) is a run-time branch a row, which costs nothing next to the row's softmax */
TARGET MC_INLINE double MC_G(_mloop)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb,
                                     T *MC_RESTRICT g, T *MC_RESTRICT ex, const int NV,
                                     const int HESS)
{
    typedef MC_G(_v) V;
    typedef MC_G(_vm_dv) DV;
    enum { CPV = MC_G(_CPV) };
    MC_GROUP_LOCALS(T, T);
    const Py_ssize_t m = s->m, ld = s->ld, K = p->K, mp = p->mp, st = NV * VL;
    const Py_ssize_t *rows = s->rows;
    T *thv = ex, *pv = ex + st * mp, *gv = ex + 2 * st * mp;
    double iota[W / 8], loss = 0;
    V b0[4], bp[4];
    Py_ssize_t i, j, c, k, u;
    int v, l;
    for (j = 0; j < mp; j++)                 /* class c at lane c mod CPV of vector c / CPV */
        MC_MN_UNROLL
        for (v = 0; v < NV; v++)
            for (l = 0; l < VL; l++) {
                const Py_ssize_t cl = v * CPV + l, at = j * st + v * VL + l;
                const int in = l < CPV && cl < K;
                thv[at] = in ? tt[cl * mp + j] : 0;
                pv[at] = HESS && in ? pt[cl * mp + j] : 0;
                gv[at] = 0;
            }
    for (l = 0; l < W / 8; l++) iota[l] = (double)l;
    const DV lanes = MC_LOAD(DV, iota);
    MC_MN_UNROLL
    for (v = 0; v < NV; v++) {
        b0[v] = p->intercept ? MC_LOAD(V, thv + m * st + v * VL) : (V){0};
        bp[v] = p->intercept && HESS ? MC_LOAD(V, pv + m * st + v * VL) : (V){0};
    }
    const int far = !rows && MC_PF_FAR(s->n, ld * (Py_ssize_t)sizeof(T));
    /* two rows a step: G's rows read and written once for both */
    for (i = 0; i < nb; i += 2) {
        const Py_ssize_t two = nb - i >= 2 ? 2 : 1;
        const T *xr[2];
        V rv[2][4];
        MC_MN_UNROLL
        for (v = 0; v < NV; v++) rv[1][v] = (V){0};
        for (u = 0; u < two; u++) {
            const Py_ssize_t row = rows ? rows[i0 + i + u] : i0 + i + u;
            xr[u] = x + row * ld;
            if (rows) {
                if (i + u + MC_AHEAD < nb) {
                    const Py_ssize_t nr = rows[i0 + i + u + MC_AHEAD];
                    MC_PREFETCH_ROW(x + nr * ld, m * sizeof(T));
                    MC_PREFETCH_AT(y, nr, 0);
                    MC_PREFETCH_AT(w, nr, 0);
                }
            } else if (far) {                       /* tiny X: nothing to fetch */
                for (k = 0; k < m * (Py_ssize_t)sizeof(T); k += MC_LINE_BYTES)
                    __builtin_prefetch((const char *)xr[u] + MC_PF_BYTES + k, 0, MC_PF_LOC);
            }
            MC_G(_mrow)(xr[u], m, K, thv, pv, b0, bp, HESS ? 0.0 : (double)y[row],
                        w ? (double)w[row] : 1.0, lanes, NV, HESS, &loss, rv[u]);
        }
        if (two == 2)
            for (j = 0; j < m; j++)
                MC_MN_UNROLL
                for (v = 0; v < NV; v++) {
                    T *gj = gv + j * st + v * VL;
                    const V t = MC_LOAD(V, gj) + xr[0][j] * rv[0][v] + xr[1][j] * rv[1][v];
                    MC_STORE(gj, t);
                }
        else
            for (j = 0; j < m; j++)
                MC_MN_UNROLL
                for (v = 0; v < NV; v++) {
                    T *gj = gv + j * st + v * VL;
                    const V t = MC_LOAD(V, gj) + xr[0][j] * rv[0][v];
                    MC_STORE(gj, t);
                }
        if (p->intercept)
            MC_MN_UNROLL
            for (v = 0; v < NV; v++) {
                T *gj = gv + m * st + v * VL;
                const V t = MC_LOAD(V, gj) + (rv[0][v] + rv[1][v]);
                MC_STORE(gj, t);
            }
    }
    for (j = 0; j < mp; j++)
        for (c = 0; c < K; c++) g[c * mp + j] += gv[j * st + (c / CPV) * VL + c % CPV];
    return HESS ? 0 : loss;
}

#endif /* !MC_MIXED */

/* the named functions of each loss kind and mode (suffix MC_KS): row groups, F order,
 * packed rows (mc_group_kind.h) */
#define MC_KIND MC_SQUARED
#define MC_HESS 0
#define MC_KS sq0
#include "mc_group_kind.h"
#define MC_KIND MC_SQUARED
#define MC_HESS 1
#define MC_KS sq1
#include "mc_group_kind.h"
#define MC_KIND MC_LOGISTIC
#define MC_HESS 0
#define MC_KS lg0
#include "mc_group_kind.h"
#define MC_KIND MC_LOGISTIC
#define MC_HESS 1
#define MC_KS lg1
#include "mc_group_kind.h"
#define MC_KIND MC_POISSON
#define MC_HESS 0
#define MC_KS po0
#include "mc_group_kind.h"
#define MC_KIND MC_POISSON
#define MC_HESS 1
#define MC_KS po1
#include "mc_group_kind.h"
#define MC_KIND MC_HUBER
#define MC_HESS 0
#define MC_KS hu0
#include "mc_group_kind.h"
#define MC_KIND MC_HUBER
#define MC_HESS 1
#define MC_KS hu1
#include "mc_group_kind.h"
#if !MC_MIXED
/* the multinomial function of each mode (MC_HESS) and width (MC_NV vectors of classes:
   1, 2 and 4, up to MC_MN_WIDE(W)), suffix MC_MS */
#define MC_HESS 0
#define MC_NV 1
#define MC_MS g1
#include "mc_group_mrows.h"
#define MC_HESS 1
#define MC_NV 1
#define MC_MS h1
#include "mc_group_mrows.h"
#if MC_MN_WIDE(W) >= 2
#define MC_HESS 0
#define MC_NV 2
#define MC_MS g2
#include "mc_group_mrows.h"
#define MC_HESS 1
#define MC_NV 2
#define MC_MS h2
#include "mc_group_mrows.h"
#endif
#if MC_MN_WIDE(W) >= 4
#define MC_HESS 0
#define MC_NV 4
#define MC_MS g4
#include "mc_group_mrows.h"
#define MC_HESS 1
#define MC_NV 4
#define MC_MS h4
#include "mc_group_mrows.h"
#endif

/* the F-order entry: X column-major, K = 1, no rows= */
TARGET static double MC_G(_f)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    static double (*const tab[4][2])(const mc_prob *, Py_ssize_t, Py_ssize_t, T *) = {
        {MC_G(_f_sq0), MC_G(_f_sq1)}, {MC_G(_f_lg0), MC_G(_f_lg1)},
        {MC_G(_f_po0), MC_G(_f_po1)}, {MC_G(_f_hu0), MC_G(_f_hu1)}};
    const int kind = p->loss.kind >= 0 && p->loss.kind <= 3 ? p->loss.kind : 3;
    return tab[kind][p->hess != 0](p, i0, nb, g);
}
/* the multinomial entry (K ≤ MC_MN_CLASSES(W): the classes as the double lanes of the
   fewest vectors that hold them, 1, 2 or 4), ex: 3·16·mp elements of scratch */
TARGET static double MC_G(_mn)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g,
                               T *ex)
{
#if MC_MN_WIDE(W) >= 4
    if (p->K > 2 * MC_G(_CPV))
        return p->hess ? MC_G(_m_h4)(p, i0, nb, g, ex) : MC_G(_m_g4)(p, i0, nb, g, ex);
#endif
#if MC_MN_WIDE(W) >= 2
    if (p->K > MC_G(_CPV))
        return p->hess ? MC_G(_m_h2)(p, i0, nb, g, ex) : MC_G(_m_g2)(p, i0, nb, g, ex);
#endif
    return p->hess ? MC_G(_m_h1)(p, i0, nb, g, ex) : MC_G(_m_g1)(p, i0, nb, g, ex);
}
#endif /* !MC_MIXED */

/* the row-group entry: the named function of the block's loss, mode and row walk */
TARGET static double MC_G()(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    static double (*const tab[4][2][8])(const mc_prob *, Py_ssize_t, Py_ssize_t, T *) = {
        {{MC_G(_sq0_n0), MC_G(_sq0_n1), MC_G(_sq0_n2), MC_G(_sq0_n3), MC_G(_sq0_n4), MC_G(_sq0_nx), MC_G(_sq0_rw), MC_G(_sq0_na)}, {MC_G(_sq1_n0), MC_G(_sq1_n1), MC_G(_sq1_n2), MC_G(_sq1_n3), MC_G(_sq1_n4), MC_G(_sq1_nx), MC_G(_sq1_rw), MC_G(_sq1_na)}},
        {{MC_G(_lg0_n0), MC_G(_lg0_n1), MC_G(_lg0_n2), MC_G(_lg0_n3), MC_G(_lg0_n4), MC_G(_lg0_nx), MC_G(_lg0_rw), MC_G(_lg0_na)}, {MC_G(_lg1_n0), MC_G(_lg1_n1), MC_G(_lg1_n2), MC_G(_lg1_n3), MC_G(_lg1_n4), MC_G(_lg1_nx), MC_G(_lg1_rw), MC_G(_lg1_na)}},
        {{MC_G(_po0_n0), MC_G(_po0_n1), MC_G(_po0_n2), MC_G(_po0_n3), MC_G(_po0_n4), MC_G(_po0_nx), MC_G(_po0_rw), MC_G(_po0_na)}, {MC_G(_po1_n0), MC_G(_po1_n1), MC_G(_po1_n2), MC_G(_po1_n3), MC_G(_po1_n4), MC_G(_po1_nx), MC_G(_po1_rw), MC_G(_po1_na)}},
        {{MC_G(_hu0_n0), MC_G(_hu0_n1), MC_G(_hu0_n2), MC_G(_hu0_n3), MC_G(_hu0_n4), MC_G(_hu0_nx), MC_G(_hu0_rw), MC_G(_hu0_na)}, {MC_G(_hu1_n0), MC_G(_hu1_n1), MC_G(_hu1_n2), MC_G(_hu1_n3), MC_G(_hu1_n4), MC_G(_hu1_nx), MC_G(_hu1_rw), MC_G(_hu1_na)}},
    };
#if !MC_MIXED
    static double (*const ptab[4][2])(const mc_prob *, Py_ssize_t, Py_ssize_t, T *) = {
        {MC_G(_p_sq0), MC_G(_PACKH) ? MC_G(_p_sq1) : 0},
        {MC_G(_p_lg0), MC_G(_PACKH) ? MC_G(_p_lg1) : 0},
        {MC_G(_p_po0), MC_G(_PACKH) ? MC_G(_p_po1) : 0},
        {MC_G(_p_hu0), MC_G(_PACKH) ? MC_G(_p_hu1) : 0}};   /* PACKH 0: no code */
#endif
    const Py_ssize_t m = p->src.m, nc = m / VL;
    const uintptr_t xa = (uintptr_t)p->src.x;
    /* wide rows all starting the same lanes past a vector boundary: aligned walk */
    const int al = xa % MC_G(_XW) != 0 && xa % sizeof(S) == 0
                   && (p->src.ld * (Py_ssize_t)sizeof(S)) % MC_G(_XW) == 0
                   && m + 2 * VL <= MC_AL_MAX;
    const int walk = p->src.rows ? 6 : (nc <= MC_NARROW_VECTORS ? (int)nc : (al ? 7 : 5));
    const int kind = p->loss.kind >= 0 && p->loss.kind <= 3 ? p->loss.kind : 3;
#if MC_MIXED
    /* rows of 8 whole vectors (m = 32 under AVX2): G in registers, as float32's 4 */
    static double (*const tab8[4][2])(const mc_prob *, Py_ssize_t, Py_ssize_t, T *) = {
        {MC_G(_sq0_n8), MC_G(_sq1_n8)}, {MC_G(_lg0_n8), MC_G(_lg1_n8)},
        {MC_G(_po0_n8), MC_G(_po1_n8)}, {MC_G(_hu0_n8), MC_G(_hu1_n8)}};
    if (!p->src.rows && nc == 8)
        return tab8[kind][p->hess != 0](p, i0, nb, g);
#else
    if (MC_G(_PACK) && (!p->hess || MC_G(_PACKH))
            && !p->src.rows && p->src.ld == m && m > 0 && 2 * m <= VL
            && (m & (m - 1)) == 0 && nb >= VL)      /* whole narrow rows per vector */
        return ptab[kind][p->hess != 0](p, i0, nb, g);
#endif
    return tab[kind][p->hess != 0][walk](p, i0, nb, g);
}


#undef T
#undef IT
#undef W
#undef VL
#undef MC_FZ_U
#undef TARGET
#undef SPECIALISE
#undef S
#undef MC_FLANES
#undef MC_MIXED

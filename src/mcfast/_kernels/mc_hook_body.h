/* mcfast: the loss hook of one (dtype, instruction set) instantiation (mc_loss.h).
 *
 * Re-included by mc_levels.h for each (dtype, level) it lists, with MC_T, MC_W,
 * MC_TARGET and MC_SFX defined; no include guard. Defines mc_hook_<dtype>_<level>:
 * r = w ∘ ℓ′(z, y) (Hessian: w ∘ ℓ″ q) for a block of nb rows and K outputs, returning
 * Σ w ℓ; lv: nb doubles of scratch, tmp: 2·nb more.
 * The pointwise losses (mc_loss_lanes.h) and the multinomial's exp steps run on vectors
 * of HL = MC_W / 8 doubles whatever T is (float32 is widened on load), HL rows at a
 * time: 2 at the SSE2 baseline, 4 at AVX2, 8 at AVX-512. The last nb mod HL rows go
 * through the same vector code, padded with zeros, so a row's result does not depend
 * on where it falls in a block; the per-row losses go to tmp and are summed in the
 * fixed order of mc_sum4, so the loss does not depend on HL or the threads either.
 * Without vector extensions (MC_VEC 0) the lanes are one double (mc_lane_one.h).
 */
#define T MC_T
#define TARGET MC_TARGET
#define MC_HK(x) MC_CAT3(mc_hook_, MC_SFX, x)
/* the lanes and their math: MC_HK(_vm_dv), MC_HK(_vm_exp), MC_HK(_vm_loss), ... (a
   prefix of their own: mc_group_body.h's lanes, mc_grp_<sfx>_vm..., share _engine) */
#define MC_VM(x) MC_HK(MC_CAT(_vm, x))
#if MC_VEC
#define HL (MC_W / 8)
#define MC_VML HL
#define MC_VMF 0
#include "mc_lane_vec.h"
typedef T MC_HK(_tv) __attribute__((vector_size(HL * sizeof(T))));   /* HL entries of T */
#else
#define HL 1
#include "mc_lane_one.h"
#endif
#include "mc_vmath_body.h"
#include "mc_loss_lanes.h"
#define HV MC_VM(_dv)

#if MC_VEC
/* a block's last n < HL rows, out of line (one call a block, not a loop at each load):
 * _pad: rows a[0], a[s], … into b as doubles, zeros after; _unpad: b's first n to d */
TARGET __attribute__((noinline)) static void MC_HK(_pad)(double *MC_RESTRICT b,
                                                         const T *MC_RESTRICT a,
                                                         Py_ssize_t s, Py_ssize_t n)
{
    Py_ssize_t l;
    for (l = 0; l < HL; l++) b[l] = l < n ? (double)a[l * s] : 0;
}
TARGET __attribute__((noinline)) static void MC_HK(_unpad)(T *MC_RESTRICT d,
                                                           const double *MC_RESTRICT b,
                                                           Py_ssize_t n)
{
    Py_ssize_t l;
    for (l = 0; l < n; l++) d[l] = (T)b[l];
}
#endif
/* rows i … i + HL − 1 of a (row j at a[j·s]) as double lanes; the rows from nb on 0
 * (without vector extensions HL is 1: no row is past nb) */
TARGET MC_INLINE HV MC_HK(_ld)(const T *MC_RESTRICT a, Py_ssize_t s, Py_ssize_t i,
                               Py_ssize_t nb)
{
    double b[HL];
    HV v;
    Py_ssize_t l;
#if MC_VEC
    if (i + HL > nb) MC_HK(_pad)(b, a + i * s, s, nb - i);
    else if (s == 1) return __builtin_convertvector(MC_LOAD(MC_HK(_tv), a + i), HV);
    else
#endif
        for (l = 0; l < HL; l++) b[l] = (double)a[(i + l) * s];
    memcpy(&v, b, sizeof v);
    return v;
}
/* the same from a double scratch array (contiguous) */
TARGET MC_INLINE HV MC_HK(_ldd)(const double *MC_RESTRICT a, Py_ssize_t i, Py_ssize_t nb)
{
    HV v = {0};
    if (i + HL <= nb) memcpy(&v, a + i, sizeof v);
    else memcpy(&v, a + i, (size_t)(nb - i) * sizeof(double));
    return v;
}
/* rows i … min(i + HL, nb) − 1 of the lanes v to d: doubles (_std), or cast to T (_stt) */
TARGET MC_INLINE void MC_HK(_std)(double *MC_RESTRICT d, HV v, Py_ssize_t i, Py_ssize_t nb)
{
    if (i + HL <= nb) memcpy(d + i, &v, sizeof v);
    else memcpy(d + i, &v, (size_t)(nb - i) * sizeof(double));
}
TARGET MC_INLINE void MC_HK(_stt)(T *MC_RESTRICT d, HV v, Py_ssize_t i, Py_ssize_t nb)
{
#if MC_VEC
    double b[HL];
    const MC_HK(_tv) t = __builtin_convertvector(v, MC_HK(_tv));
    if (i + HL <= nb) {
        MC_STORE(d + i, t);
    } else {
        memcpy(b, &v, sizeof v);
        MC_HK(_unpad)(d + i, b, nb - i);
    }
#else
    d[i] = (T)v;
#endif
}

/* one output of the loss KIND in mode HESS (literals): r = w ∘ ℓ′ (cast to T) and
 * tmp = w ∘ ℓ (Hessian: r = w ∘ ℓ″ q, tmp untouched); row i's target at y[i·ys] (y
 * NULL: y = 0), w NULL: w = 1 (a product by 1 is exact). Returns Σ tmp (Hessian: 0). */
TARGET MC_INLINE double MC_HK(_rows)(const int KIND, const int HESS, Py_ssize_t nb,
                                     const T *MC_RESTRICT z, const T *MC_RESTRICT q,
                                     const T *MC_RESTRICT y, Py_ssize_t ys,
                                     const T *MC_RESTRICT w, double delta,
                                     T *MC_RESTRICT r, double *MC_RESTRICT tmp)
{
    const int NEEDZ = !(HESS && KIND == MC_SQUARED);   /* ℓ″ of squared is 2 */
    const HV zero = {0}, one = zero + 1;
    Py_ssize_t i;
    for (i = 0; i < nb; i += HL) {
        const HV wv = w ? MC_HK(_ld)(w, 1, i, nb) : one;
        HV l = zero;
        const HV d = MC_VM(_loss)(KIND, HESS, NEEDZ ? MC_HK(_ld)(z, 1, i, nb) : zero,
                                  HESS ? MC_HK(_ld)(q, 1, i, nb) : zero,
                                  y ? MC_HK(_ld)(y, ys, i, nb) : zero, delta, &l);
        MC_HK(_stt)(r, wv * d, i, nb);
        if (!HESS) MC_HK(_std)(tmp, wv * l, i, nb);
    }
    return HESS ? 0 : mc_sum4(tmp, nb);
}
TARGET MC_INLINE double MC_HK(_modes)(const int KIND, int hess, Py_ssize_t nb,
                                      const T *MC_RESTRICT z, const T *MC_RESTRICT q,
                                      const T *MC_RESTRICT y, Py_ssize_t ys,
                                      const T *MC_RESTRICT w, double delta,
                                      T *MC_RESTRICT r, double *MC_RESTRICT tmp)
{
    if (hess) return MC_HK(_rows)(KIND, 1, nb, z, q, y, ys, w, delta, r, tmp);
    return MC_HK(_rows)(KIND, 0, nb, z, q, y, ys, w, delta, r, tmp);
}

/* the multinomial's e = e^(z − zmax) of class zc's rows i … i + HL − 1 */
TARGET MC_INLINE HV MC_HK(_mn_e)(const T *MC_RESTRICT zc, const double *MC_RESTRICT zmax,
                                 Py_ssize_t i, Py_ssize_t nb)
{
    return MC_VM(_mn_e)(MC_HK(_ld)(zc, 1, i, nb), MC_HK(_ldd)(zmax, i, nb));
}

TARGET MC_AUTOVEC static double MC_HK()(
        const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K, const T *MC_RESTRICT z,
        const T *MC_RESTRICT q, const T *MC_RESTRICT y, const T *MC_RESTRICT w,
        T *MC_RESTRICT r, double *MC_RESTRICT lv, double *MC_RESTRICT tmp)
{
    Py_ssize_t i, c;
    const double delta = L->delta;
    double loss = 0;
    switch (L->kind) {
    case MC_SQUARED:                   /* K outputs, y of K columns (NULL: y = 0) */
        for (c = 0; c < K; c++)
            loss += MC_HK(_modes)(MC_SQUARED, hess, nb, z + c * nb, q + c * nb,
                                  y ? y + c : NULL, K, w, delta, r + c * nb, tmp);
        return loss;
    case MC_LOGISTIC:
        return MC_HK(_modes)(MC_LOGISTIC, hess, nb, z, q, y, 1, w, delta, r, tmp);
    case MC_POISSON:
        return MC_HK(_modes)(MC_POISSON, hess, nb, z, q, y, 1, w, delta, r, tmp);
    case MC_HUBER:
        return MC_HK(_modes)(MC_HUBER, hess, nb, z, q, y, 1, w, delta, r, tmp);
    case MC_MULTINOMIAL: {
        /* the softmax of mc_loss_lanes.h, one class of a row at a time: per row zmax,
           s = Σ_c e_c, then p_c = e_c / s (e recomputed: no room for K × nb of them);
           the exp steps on the lanes, HL rows at a time, one class after another */
        const HV zero = {0}, one = zero + 1;
        double *zmax = tmp, *sum = tmp + nb;
        for (i = 0; i < nb; i++) { zmax[i] = -INFINITY; sum[i] = 0; lv[i] = 0; }
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i++) zmax[i] = mc_mn_max(zmax[i], (double)z[c * nb + i]);
        for (i = 0; i < nb; i++) zmax[i] = mc_mn_shift(zmax[i]);
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i += HL)
                MC_HK(_std)(sum, MC_HK(_ldd)(sum, i, nb)
                                 + MC_HK(_mn_e)(z + c * nb, zmax, i, nb), i, nb);
        if (hess) {
            for (c = 0; c < K; c++)             /* lv = pᵀq */
                for (i = 0; i < nb; i += HL)
                    MC_HK(_std)(lv, MC_HK(_ldd)(lv, i, nb)
                                    + MC_HK(_mn_e)(z + c * nb, zmax, i, nb)
                                      / MC_HK(_ldd)(sum, i, nb)
                                      * MC_HK(_ld)(q + c * nb, 1, i, nb), i, nb);
            for (c = 0; c < K; c++)
                for (i = 0; i < nb; i += HL) {
                    const HV p = MC_HK(_mn_e)(z + c * nb, zmax, i, nb)
                                 / MC_HK(_ldd)(sum, i, nb);
                    MC_HK(_stt)(r + c * nb,
                                MC_VM(_mn_r)(1, p, MC_HK(_ld)(q + c * nb, 1, i, nb),
                                             MC_HK(_ldd)(lv, i, nb), zero,
                                             w ? MC_HK(_ld)(w, 1, i, nb) : one), i, nb);
                }
            return 0;
        }
        for (c = 0; c < K; c++)                 /* r = w (p − e_y), lv = z_y */
            for (i = 0; i < nb; i += HL) {
                const HV zc = MC_HK(_ld)(z + c * nb, 1, i, nb);
                const HV p = MC_VM(_mn_e)(zc, MC_HK(_ldd)(zmax, i, nb))
                             / MC_HK(_ldd)(sum, i, nb);
                const MC_VM(_iv) hit = MC_HK(_ld)(y, 1, i, nb) == (double)c;
                MC_HK(_stt)(r + c * nb,
                            MC_VM(_mn_r)(0, p, zero, zero, MC_VM(_sel)(hit, one, zero),
                                         w ? MC_HK(_ld)(w, 1, i, nb) : one), i, nb);
                MC_HK(_std)(lv, MC_HK(_ldd)(lv, i, nb) + MC_VM(_sel)(hit, zc, zero), i, nb);
            }
        for (i = 0; i < nb; i++) {
            const int ok = mc_mn_label_ok(y[i], K);
            lv[i] = ok ? MC_WI(i) * mc_mn_loss(zmax[i], sum[i], lv[i]) : NAN;
            if (!ok) for (c = 0; c < K; c++) r[c * nb + i] = (T)NAN;
        }
        return mc_sum4(lv, nb);
    }
    default:
        for (i = 0; i < K * nb; i++) r[i] = (T)NAN;
        return NAN;
    }
}

#undef HV
#undef HL
#undef MC_VM
#undef MC_VML
#undef MC_VMF
#undef MC_HK
#undef T
#undef TARGET

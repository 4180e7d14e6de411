/* mcfast: the fused paths of the one-pass engine: row groups, packed, F order, multinomial.
 *
 * The common case — X dense with contiguous rows (C order, strided rows, or rows= of
 * either), one output per row (squared, logistic, Poisson, Huber; gradient or Hessian
 * product) — runs here instead of the block's source → hook → source. A block is walked
 * in groups of VL rows (the lanes of one vector):
 *   z = [x_r · θ]_r (+ b)   the group's dot products, summed to one vector by a shuffle
 *                           tree (and q = [x_r · p]_r for a Hessian product);
 *   r = w ∘ ℓ′(z, y)        the loss on the VL lanes at once (ℓ″ q for the Hessian);
 *   G += Σ_r r_r x_r        while the group's rows are still in L1.
 * So X streams from memory once, in one stream, and the core never stops reading to
 * compute: the group is far shorter than the hardware's read-ahead, and a software
 * prefetch MC_PF_BYTES ahead (random rows with rows=: the next group's rows) keeps the
 * stream full. Logistic and Poisson take the groups in runs (MC_RUN_GROUPS, below): the
 * products of a run's groups, then their losses, then their updates of G, so that the
 * long dependent chain of one group's loss overlaps the next group's instead of
 * stalling the loop (AVX2, one thread, logistic and Poisson on X in cache: 0.63–0.93×
 * the time of one group at a time; squared and Huber keep one group at a time).
 * Walking a block twice (the products of mc_rows.h) left memory idle during the second
 * product: 1.5–1.7× the one-thread read floor at m = 16 … 32, against 1.02–1.1× of a
 * read of X and y here (bench/bench_losses.py --floor).
 *
 * Row walks of the groups (a function each, chosen per block by the entry at the end of
 * mc_group_body.h):
 *   n1 … n4   rows of 1–4 whole vectors: G in registers; when the rows are packed
 *             (ld = m = NCC·VL, a C-ordered X) the row offsets are constants (…c), so
 *             one pointer walks the group (a run-time stride made the compiler keep a
 *             pointer per row, spilled to the stack: twice the work a row);
 *   na        wide rows that all start h lanes past a vector boundary (NumPy's large
 *             arrays start 16 bytes past a 64-byte line): whole aligned vectors from h
 *             lanes before each row, against copies of Θ, P and G shifted by h, the
 *             lanes outside the row masked in the dot products (the first and last
 *             chunks apart: a test inside the loop cost the memory stream 1.2×);
 *   nx, rw    any width, and rows=.
 *
 * The other paths of this file, each a function per loss and mode:
 *   packed rows   narrow contiguous rows (m a power of two ≤ VL/2; GCC, MC_SPEC ≥ 2): several
 *                 rows to a vector, a partial shuffle tree with masks made per call;
 *   F order       sub-blocks of m column segments: z of 8 vectors of rows in registers
 *                 over the columns, then the loss, then G column by column from L1;
 *   multinomial   K ≤ 8 classes as the double lanes of one vector (K ≤ W/8), or of
 *                 the fewest of two or four that hold them (C rows, rows=).
 *
 * Lanes past the row's end (m not a multiple of VL) are masked to 0 after the load, or
 * loaded by memcpy where a full vector would pass the end of X, so inf and NaN beyond
 * the row never reach a sum; lanes of a short last group carry z = 0 and weight 0.
 * Per-lane losses and intercept sums are kept in double lanes and summed in a fixed
 * order, so a block's result depends only on the instruction set in use and on how the
 * compiler contracted a·b + c into FMAs. The contraction rule: the build keeps GCC's and
 * clang's default contraction (FMA where the target has it; one rounding less, and
 * faster), so results are bitwise the same across thread counts, forks and runs on one
 * machine at one level, but not across levels or architectures (aarch64 agrees bitwise
 * with the x86-64 baseline on about half the outputs, all of them with
 * -ffp-contract=off; both are equal to rounding). Code whose IEEE class must not depend
 * on contraction is written immune to it: eˣ is ∞ above log(DBL_MAX) by a select
 * (mc_vmath_body.h), so eᶻ − y·z at z = ∞ is NaN with or without an FMA.
 *
 * Included by mc_engine.h after mc_prob (the problem a block belongs to).
 */
#ifndef MCFAST_GROUP_H
#define MCFAST_GROUP_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "mc_simd.h"
#include "mc_rows.h"
#include "mc_loss.h"
#include "mc_limits.h"  /* MC_NARROW_VECTORS, MC_AL_MAX, MC_F_BYTES, MC_F_ROWS */
#if MC_X86
#include <immintrin.h>      /* the mixed instantiations' widening loads */
#endif

/* the row-group entry's table has a narrow walk for 0 … 4 whole vectors (mc_group_kind.h) */
_Static_assert(MC_NARROW_VECTORS == 4, "mc_group_kind.h defines the walks n0 ... n4");


/* The software prefetch of contiguous rows: every cache line MC_PF_BYTES ahead of the
 * group, in a burst at the group's start (and y's and w's), into L2 (locality 2:
 * prefetcht1); skipped when all of X is shorter than that (a prefetch past a tiny array
 * costs a page walk).
 * Measured on a Zen 5 VM, one thread, 256 MB of X (-D these and time the engine):
 * every line 8 KiB ahead was best; every other line cost 1.3–2.3×, 4 or 16 KiB ahead
 * 5–20 %, spreading the prefetches over the dot loop or unrolling their loop 5–20 %.
 * The locality, on a Zen 4 VM (same sweep, builds side by side): non-temporal
 * (prefetchnta, locality 0, into L1 only) left wide rows at 2.9–3.3× the read (float64
 * m = 64, AVX-512 and AVX2) against 1.3–1.8× into L2 (locality 1 or 2 alike; the
 * group's burst of 64 L1 fills stalled at the prefetch: a fifth of the samples), and two
 * threads at 2e6 × 32 took 0.69–0.86× the time (hessp, logistic, squared, Poisson).
 * MC_PF_LOC is also the locality of the F-order blocks' and the multinomial rows'
 * prefetches (mc_group_body.h), measured with it: F order 0.88×, multinomial 0.93–1.13×
 * (noise; K = 9, which takes the block path, read 1.11 too). */
#ifndef MC_PF_LOC
#define MC_PF_LOC 2
#endif
#ifndef MC_PF_BYTES
#define MC_PF_BYTES 8192
#endif
/* The row groups go in runs of up to MC_RUN_GROUPS groups: the run's dot products, then
 * its losses, then its updates of G. A loss is a chain of dependent operations (eˣ, a
 * division, log(1 + e): about 110 cycles at AVX2) too long for the out-of-order window
 * to overlap with the next group's reads and products when each group's loss sits
 * between them; a run's losses are independent of one another and overlap. A run holds
 * about MC_RUN_BYTES of X: wider rows have fewer groups a run (one from 4 KiB a group),
 * as their reads hide the loss and a longer run's prefetch burst stalls the loads.
 * 4 KiB, not 2 (Zen 4 VM, one thread, 256 MB, time 4 / 2 KiB, builds side by side):
 * AVX-512 m = 32 (a group of 2 KiB: two groups a run, not one) logistic 0.64–0.66,
 * Poisson 0.87 in float64, 0.58 and 0.64 in float32, and two threads at 2e6 × 32
 * logistic 0.79–0.81; elsewhere 0.79–1.10 (AVX-512 m = 16, AVX2 m = 16 … 64), and wider
 * rows keep one group. 8 KiB lost at m = 16 (1.2–1.4: eight groups of 1 KiB a run). */
#ifndef MC_RUN_GROUPS
#define MC_RUN_GROUPS 8
#endif
#ifndef MC_RUN_BYTES
#define MC_RUN_BYTES 4096
#endif
/* groups a run for loss `kind` on groups of `group_bytes` of X: the cheap losses
 * (squared, Huber) one, each group fused from its products to its update of G, as their
 * loss adds nothing to wait for */
MC_INLINE Py_ssize_t mc_run_groups(int kind, Py_ssize_t group_bytes)
{
    const Py_ssize_t k = MC_RUN_BYTES / (group_bytes > 0 ? group_bytes : 1);
    if (kind == MC_SQUARED || kind == MC_HUBER) return 1;
    return k < 1 ? 1 : (k > MC_RUN_GROUPS ? MC_RUN_GROUPS : k);
}
/* prefetching pays: X's n rows of `rowbytes` reach past the prefetch distance */
#define MC_PF_FAR(n, rowbytes) ((n) * (rowbytes) > MC_PF_BYTES)

/* the multinomial rows' vectors of classes for K ≤ 8 at W vector bytes (W / 8 classes a
   vector; AVX-512's one vector has all 8), and the most classes they take; the scratch
   (mc_scratch_items) holds 16 lanes a row of Θ, enough for every level's NV·VL */
#define MC_MN_WIDE(W) ((W) < 64 ? 64 / (W) : 1)
#define MC_MN_CLASSES(W) ((W) / 8 * MC_MN_WIDE(W))

#if MC_VEC
#if defined(__clang__)
#  define MC_SHUF(M, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
/* shuffles by masks known at run time: GCC's; elsewhere lane by lane (the packed rows
 * that use them are then never chosen: MC_PACKED_OK) */
#  define MC_VSHUF2(a, b, mk) ({                                                     \
    __typeof__(a) r_; int l_, n_ = (int)(sizeof(a) / sizeof((a)[0]));                \
    for (l_ = 0; l_ < n_; l_++) {                                                    \
        int k_ = (int)(mk)[l_];                                                      \
        r_[l_] = k_ < n_ ? (a)[k_] : (b)[k_ - n_];                                   \
    }                                                                                \
    r_; })
#  define MC_VSHUF1(a, mk) MC_VSHUF2(a, a, mk)
#  define MC_PACKED_OK 0
#else
#  define MC_SHUF(M, a, b, ...) __builtin_shuffle(a, b, (M){__VA_ARGS__})
#  define MC_VSHUF2(a, b, mk) __builtin_shuffle(a, b, mk)
#  define MC_VSHUF1(a, mk) __builtin_shuffle(a, mk)
#  define MC_PACKED_OK 1
#endif

/* MC_RED<VL>(M, a): VL vectors a[0..VL) of VL lanes to one vector whose lane r is the sum
 * of a[r]'s lanes (a tree of VL − 1 shuffle pairs; M: the integer vector of the lanes) */
/* 2 lanes */
#define MC_RED2(M, a) ({ \
    __typeof__((a)[0]) r0_0_ = MC_SHUF(M, (a)[0], (a)[1], 0, 2) \
        + MC_SHUF(M, (a)[0], (a)[1], 1, 3); \
    r0_0_; })
/* 4 lanes */
#define MC_RED4(M, a) ({ \
    __typeof__((a)[0]) r0_0_ = MC_SHUF(M, (a)[0], (a)[1], 0, 4, 2, 6) \
        + MC_SHUF(M, (a)[0], (a)[1], 1, 5, 3, 7); \
    __typeof__((a)[0]) r0_1_ = MC_SHUF(M, (a)[2], (a)[3], 0, 4, 2, 6) \
        + MC_SHUF(M, (a)[2], (a)[3], 1, 5, 3, 7); \
    __typeof__((a)[0]) r1_0_ = MC_SHUF(M, r0_0_, r0_1_, 0, 1, 4, 5) \
        + MC_SHUF(M, r0_0_, r0_1_, 2, 3, 6, 7); \
    r1_0_; })
/* 8 lanes */
#define MC_RED8(M, a) ({ \
    __typeof__((a)[0]) r0_0_ = MC_SHUF(M, (a)[0], (a)[1], 0, 8, 2, 10, 4, 12, 6, 14) \
        + MC_SHUF(M, (a)[0], (a)[1], 1, 9, 3, 11, 5, 13, 7, 15); \
    __typeof__((a)[0]) r0_1_ = MC_SHUF(M, (a)[2], (a)[3], 0, 8, 2, 10, 4, 12, 6, 14) \
        + MC_SHUF(M, (a)[2], (a)[3], 1, 9, 3, 11, 5, 13, 7, 15); \
    __typeof__((a)[0]) r0_2_ = MC_SHUF(M, (a)[4], (a)[5], 0, 8, 2, 10, 4, 12, 6, 14) \
        + MC_SHUF(M, (a)[4], (a)[5], 1, 9, 3, 11, 5, 13, 7, 15); \
    __typeof__((a)[0]) r0_3_ = MC_SHUF(M, (a)[6], (a)[7], 0, 8, 2, 10, 4, 12, 6, 14) \
        + MC_SHUF(M, (a)[6], (a)[7], 1, 9, 3, 11, 5, 13, 7, 15); \
    __typeof__((a)[0]) r1_0_ = MC_SHUF(M, r0_0_, r0_1_, 0, 1, 8, 9, 4, 5, 12, 13) \
        + MC_SHUF(M, r0_0_, r0_1_, 2, 3, 10, 11, 6, 7, 14, 15); \
    __typeof__((a)[0]) r1_1_ = MC_SHUF(M, r0_2_, r0_3_, 0, 1, 8, 9, 4, 5, 12, 13) \
        + MC_SHUF(M, r0_2_, r0_3_, 2, 3, 10, 11, 6, 7, 14, 15); \
    __typeof__((a)[0]) r2_0_ = MC_SHUF(M, r1_0_, r1_1_, 0, 1, 2, 3, 8, 9, 10, 11) \
        + MC_SHUF(M, r1_0_, r1_1_, 4, 5, 6, 7, 12, 13, 14, 15); \
    r2_0_; })
/* 16 lanes */
#define MC_RED16(M, a) ({ \
    __typeof__((a)[0]) r0_0_ = MC_SHUF(M, (a)[0], (a)[1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[0], (a)[1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r0_1_ = MC_SHUF(M, (a)[2], (a)[3], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[2], (a)[3], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r0_2_ = MC_SHUF(M, (a)[4], (a)[5], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[4], (a)[5], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r0_3_ = MC_SHUF(M, (a)[6], (a)[7], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[6], (a)[7], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r0_4_ = MC_SHUF(M, (a)[8], (a)[9], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[8], (a)[9], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r0_5_ = MC_SHUF(M, (a)[10], (a)[11], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[10], (a)[11], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r0_6_ = MC_SHUF(M, (a)[12], (a)[13], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[12], (a)[13], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r0_7_ = MC_SHUF(M, (a)[14], (a)[15], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) \
        + MC_SHUF(M, (a)[14], (a)[15], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31); \
    __typeof__((a)[0]) r1_0_ = MC_SHUF(M, r0_0_, r0_1_, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) \
        + MC_SHUF(M, r0_0_, r0_1_, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31); \
    __typeof__((a)[0]) r1_1_ = MC_SHUF(M, r0_2_, r0_3_, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) \
        + MC_SHUF(M, r0_2_, r0_3_, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31); \
    __typeof__((a)[0]) r1_2_ = MC_SHUF(M, r0_4_, r0_5_, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) \
        + MC_SHUF(M, r0_4_, r0_5_, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31); \
    __typeof__((a)[0]) r1_3_ = MC_SHUF(M, r0_6_, r0_7_, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) \
        + MC_SHUF(M, r0_6_, r0_7_, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31); \
    __typeof__((a)[0]) r2_0_ = MC_SHUF(M, r1_0_, r1_1_, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) \
        + MC_SHUF(M, r1_0_, r1_1_, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31); \
    __typeof__((a)[0]) r2_1_ = MC_SHUF(M, r1_2_, r1_3_, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) \
        + MC_SHUF(M, r1_2_, r1_3_, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31); \
    __typeof__((a)[0]) r3_0_ = MC_SHUF(M, r2_0_, r2_1_, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) \
        + MC_SHUF(M, r2_0_, r2_1_, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31); \
    r3_0_; })

#endif

#if MC_VEC
/* One instantiation (mc_group_body.h, re-included per (dtype, level) by mc_levels.h):
 * element T, vector width W bytes = VL lanes, IT the integer lane type (masks), TARGET
 * the instruction set. mc_grp_<dtype>_<level>(p, i0, nb, g): the block of source rows
 * i0 .. i0 + nb − 1 of problem p (dense rows, K = 1); adds its gradient (or Hessian
 * product) to g[0 .. m] (g[m]: the intercept) and returns its Σ w ℓ (0 for a Hessian).
 * Its variants per loss kind, mode and row walk are named functions (mc_group_kind.h,
 * mc_group_narrow.h, mc_group_pwidth.h, mc_group_mrows.h), each noinline so that every
 * loop gets the whole register file. */

/* the problem's pointers (X stored as S), and its loss's constants, in every loop of an
 * instantiation */
#define MC_GROUP_LOCALS(S, T)                                                        \
    const mc_src *s = &p->src;                                                       \
    const S *x = (const S *)s->x;                                                    \
    const T *tt = (const T *)p->tt, *pt = (const T *)p->pt;                          \
    const T *y = (const T *)p->y, *w = (const T *)p->w
#define MC_GROUP_COEFS(T, m)                                                         \
    const int NEEDZ = !(HESS && KIND == MC_SQUARED);   /* ℓ″ of squared is 2 */      \
    const double delta = p->loss.delta;                                              \
    const T b0 = p->intercept && NEEDZ ? tt[m] : 0;    /* the intercepts of Θ, P */  \
    const T bp = p->intercept && HESS ? pt[m] : 0


/* row r of the group: from the row list with rows=, else at a fixed stride */
#define XR(r) (ROWS ? xr[r] : xb + (r) * ld)
/* the shuffle tree of the instantiation's VL lanes */
#define MC_REDV(M, a) MC_CAT(MC_RED, MC_VL)(M, a)

/* The problem of the mixed instantiations (mc_grp_x_<level>: X stored in float32, the
 * arithmetic, θ and the gradient in double; mc_stage.h calls them): the problem, and
 * whether y and w are stored in float32 (else double). Their row groups widen each
 * vector of X as it is loaded, so a float32 X is read in place at the float32 speed. */
typedef struct {
    mc_prob p;
    int yf32, wf32;
} mc_xprob;

/* the instantiations: mc_grp_<dtype>_<level> and its helpers; mc_grp_x_<level>, the
 * row groups alone (C rows, rows=, K = 1), for float32 X under double arithmetic */
#define MC_G(x) MC_CAT3(mc_grp_, MC_SFX, x)
#define MC_BODY "mc_group_body.h"
#define MC_LEVELS_MIXED
#include "mc_levels.h"
#undef MC_LEVELS_MIXED
#undef MC_BODY
#undef MC_G
#define MC_HAVE_GROUP 1
#else
#define MC_HAVE_GROUP 0     /* no vector extensions: the block path of mc_engine.h */
static double mc_grp_d_base(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, double *g)
{ (void)p; (void)i0; (void)nb; (void)g; return 0; }           /* never called */
static double mc_grp_f_base(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, float *g)
{ (void)p; (void)i0; (void)nb; (void)g; return 0; }           /* never called */
static double mc_grp_d_base_f(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, double *g)
{ (void)p; (void)i0; (void)nb; (void)g; return 0; }           /* never called */
static double mc_grp_f_base_f(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, float *g)
{ (void)p; (void)i0; (void)nb; (void)g; return 0; }           /* never called */
static double mc_grp_d_base_mn(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, double *g,
                               double *ex)
{ (void)p; (void)i0; (void)nb; (void)g; (void)ex; return 0; } /* never called */
static double mc_grp_f_base_mn(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, float *g,
                               float *ex)
{ (void)p; (void)i0; (void)nb; (void)g; (void)ex; return 0; } /* never called */
#endif /* MC_VEC */

#endif /* MCFAST_GROUP_H */

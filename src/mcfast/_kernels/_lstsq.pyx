# cython: language_level=3
"""Kernels of the least-squares rules: ‖Xθ − y‖²_W and 2 XᵀW(Xθ − y) in one pass over X.

Design. Three layers, as in SciPy's cythonized utilities:
  mcfast.lstsq (Python)    validates, converts, allocates `out`, plans blocks and threads;
  def wrappers (below)     take C-contiguous memoryviews, find scratch, release the GIL;
  cdef noexcept nogil      the kernels, declared in _lstsq.pxd for other Cython code.

One pass over X. The rows are cut into blocks of `block` rows (tens of KiB of X), and the
blocks into contiguous runs, the parts (8 per thread), which the threads take in turn
(`prange`, a dynamic schedule: a thread slowed by a busy core takes fewer). Within a block
each row is used while it is in L1: r_i = x_i·θ − y_i (several independent vector
accumulators), loss += w_i r_i², g += w_i r_i x_i. X is read from memory once, in memory
order, and nothing of length n is ever stored. The per-block loop is C (the verbatim
block below), written once over the element type and the vector width and compiled for
AVX-512, AVX2+FMA and the SSE2 baseline; the best one the CPU has is picked at import,
so the default build stays portable. Widths m ≤ 8 have their own loop, with θ and the
gradient in registers.

Each part owns a region of the scratch `work`: its partial gradient (float64), its
block gradient and its loss, each on its own cache lines (no false sharing, no atomics);
the regions are summed at the end, in the parts' order, so the result is the same
whichever thread did which part. float32 accumulates within a block in float32 and
adds each block's gradient and loss into float64, so its rounding error grows with the
block, not with n.

Multi-target Θ (m, k): for k ≤ 3 the same row-by-row C loop with k dot products per row
(Θᵀ and the partial Gᵀ kept k × m, so every access is contiguous); for k ≥ 4, per block,
R_b = X_b Θ − Y_b (gemm into the thread's block buffer), loss += Σ w_i ‖R_b[i]‖², then
G += X_bᵀ W R_b (gemm) while X_b is in cache. Blocks are small enough for BLAS to stay
single-threaded inside our threads.

The sample weights w and the target y are optional (`has_w`, `has_y`; pass any length-1
view when absent): with y absent and θ = p the kernel computes 2 XᵀWXp, the Hessian
product of the weighted objective. `l2` adds the ridge term l2‖θ‖² and 2 l2 θ.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uintptr_t
from libc.string cimport memset, memcpy

from ._blas cimport gemm, NoTrans, Trans
from ._threads cimport openmp_effective_n_threads

import numpy as np

cdef enum:
    LINE = 8         # doubles per 64-byte cache line
    STACK_WORK = 4096  # doubles of scratch on the C stack before a NumPy buffer is used
    # Parts (runs of blocks, each with its own scratch region) per thread when threaded:
    # threads take parts as they finish (a dynamic schedule), so a thread that shares its
    # core with another program's spinning threads (OpenBLAS's, after a NumPy call) just
    # takes fewer parts, where an equal split would wait for it. The parts are summed in
    # their own order, so the result does not depend on which thread did which part.
    PARTS_PER_THREAD = 8


# --------------------------------------------------------------------------------------
# scratch layout
# --------------------------------------------------------------------------------------

cdef inline Py_ssize_t _lines(Py_ssize_t nbytes) noexcept nogil:
    """Bytes rounded up to whole cache lines, in doubles."""
    return (nbytes + 8 * LINE - 1) // (8 * LINE) * LINE


cdef inline Py_ssize_t _region(Py_ssize_t m, Py_ssize_t k, Py_ssize_t block,
                               Py_ssize_t itemsize) noexcept nogil:
    """Doubles of one thread's scratch region (k = 0: a single target).

    Partial gradient (m·k float64) | block gradient (m·k items) | block residuals
    (block·k items; multi-target only) | loss (one line). Each part starts on its own
    cache line, so each region does too.
    """
    cdef Py_ssize_t mk = m * max(k, 1)
    return _lines(8 * mk) + _lines(itemsize * mk) + _lines(itemsize * block * k) + LINE


cdef inline Py_ssize_t _parts(int nthreads) noexcept nogil:
    """Most scratch regions a call on `nthreads` threads uses: 1, or PARTS_PER_THREAD each."""
    return 1 if nthreads <= 1 else <Py_ssize_t>PARTS_PER_THREAD * nthreads


cdef Py_ssize_t work_size(Py_ssize_t m, Py_ssize_t k, Py_ssize_t block, int nthreads,
                          Py_ssize_t itemsize) noexcept nogil:
    """Doubles of scratch a kernel call needs: one region per part, alignment slack.

    k = 0 for `loss_grad_vec` (θ of shape (m,)), k ≥ 1 for `loss_grad_mat` (which also
    keeps Θᵀ after the regions).
    """
    return _parts(nthreads) * _region(m, k, block, itemsize) + _lines(itemsize * m * k) + LINE


cdef inline double* _aligned(double* work) noexcept nogil:
    """`work` moved up to the next 64-byte boundary."""
    return <double*>((<uintptr_t>work + 63) & ~(<uintptr_t>63))


# --------------------------------------------------------------------------------------
# single target: the block kernel, in C so it is compiled for several vector widths
# --------------------------------------------------------------------------------------

cdef extern from *:
    r"""
    /* mcfast least squares, the block kernel: for nb rows x (row-major, m columns),
     *     g += X_bᵀ W (X_b θ − y_b),   returns Σ_i w_i (x_i θ − y_i)²   (y, w may be NULL).
     * Written once, as a macro over the element type T and the vector width W in bytes
     * (GCC/Clang vector extensions: the compiler emits exactly that width), and
     * instantiated per instruction set: on x86-64 for AVX-512, AVX2+FMA and the SSE2
     * baseline, chosen at import from the running CPU (runtime dispatch, so the default
     * build stays portable). Compilers without vector extensions get plain C loops.
     *
     * Wide rows (m > 8): row by row, in memory order (one stream: the hardware
     * prefetcher keeps up, where four interleaved row streams measured 2-3x slower at
     * m = 256); x_i·θ on four independent vector accumulators, then g += r_i x_i
     * while x_i is still in L1.
     * Narrow rows (m ≤ 8, a literal per case): θ and the gradient stay in registers,
     * with separate gradient accumulators for even and odd rows.
     */
    #include <string.h>
    #if defined(__GNUC__) || defined(__clang__)
    #  define MC_VEC 1
    #  define MC_RESTRICT __restrict__
    #  define MC_INLINE static inline __attribute__((always_inline))
    #  if !defined(__clang__)
    #    pragma GCC diagnostic ignored "-Wpsabi"  /* vector arguments of inline helpers */
    #  endif
    #else
    #  define MC_VEC 0
    #  define MC_RESTRICT
    #  define MC_INLINE static __inline
    #endif
    #if MC_VEC && defined(__x86_64__) && !defined(MCFAST_NO_DISPATCH)
    #  define MC_X86 1
    #  define MC_T_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))
    #  define MC_T_AVX2 __attribute__((target("avx2,fma")))
    #else
    #  define MC_X86 0
    #endif
    #define MC_T_BASE
    /* multi-target widths k with their own loop; wider ones use gemm, which measured
     * faster from k = 4 on (the loop's k horizontal sums per row start to dominate) */
    #define MC_KMAX 3

    /* e = w (d − y) for row i (y, w may be NULL); adds w (d − y)² to *loss */
    #define MC_RESID(T, d, y, w, i, loss) ({                                             \
        T e_ = (d);                                                                      \
        if (y) e_ -= (y)[i];                                                             \
        if (w) { (loss) += (w)[i] * e_ * e_; e_ *= (w)[i]; } else (loss) += e_ * e_;     \
        e_; })

    /* narrow rows, m ≤ 8: written in plain C, it serves every instantiation */
    #define MC_DEFINE_SMALL(T, NAME, TARGET)                                             \
    TARGET MC_INLINE T NAME(const T *MC_RESTRICT x, const Py_ssize_t m, Py_ssize_t nb,   \
                            const T *MC_RESTRICT th, const T *MC_RESTRICT y,             \
                            const T *MC_RESTRICT w, T *MC_RESTRICT g)                    \
    {                                                                                    \
        T t[8], ga[8], gb[8], loss = 0, da, db, e;                                       \
        Py_ssize_t i, j;                                                                 \
        for (j = 0; j < m; j++) { t[j] = th[j]; ga[j] = 0; gb[j] = 0; }                  \
        for (i = 0; i + 2 <= nb; i += 2) {                                               \
            const T *xa = x + i * m, *xb = xa + m;                                       \
            da = 0; db = 0;                                                              \
            for (j = 0; j < m; j++) { da += xa[j] * t[j]; db += xb[j] * t[j]; }          \
            if (y) { da -= y[i]; db -= y[i + 1]; }                                       \
            if (w) {                                                                     \
                loss += w[i] * da * da + w[i + 1] * db * db;                             \
                da *= w[i]; db *= w[i + 1];                                              \
            } else loss += da * da + db * db;                                            \
            for (j = 0; j < m; j++) { ga[j] += da * xa[j]; gb[j] += db * xb[j]; }        \
        }                                                                                \
        if (i < nb) {                                                                    \
            const T *xa = x + i * m;                                                     \
            da = 0;                                                                      \
            for (j = 0; j < m; j++) da += xa[j] * t[j];                                  \
            if (y) da -= y[i];                                                           \
            if (w) { e = w[i] * da; loss += e * da; da = e; } else loss += da * da;      \
            for (j = 0; j < m; j++) ga[j] += da * xa[j];                                 \
        }                                                                                \
        for (j = 0; j < m; j++) g[j] += ga[j] + gb[j];                                   \
        return loss;                                                                     \
    }

    #define MC_SMALL_CASES(SMALL)                                                        \
        switch (m) {                                                                     \
        case 1: return SMALL(x, 1, nb, th, y, w, g);                                     \
        case 2: return SMALL(x, 2, nb, th, y, w, g);                                     \
        case 3: return SMALL(x, 3, nb, th, y, w, g);                                     \
        case 4: return SMALL(x, 4, nb, th, y, w, g);                                     \
        case 5: return SMALL(x, 5, nb, th, y, w, g);                                     \
        case 6: return SMALL(x, 6, nb, th, y, w, g);                                     \
        case 7: return SMALL(x, 7, nb, th, y, w, g);                                     \
        case 8: return SMALL(x, 8, nb, th, y, w, g);                                     \
        default: break;                                                                  \
        }

    #if MC_VEC
    #define MC_LOAD(V, p) ({ V v_; memcpy(&v_, (p), sizeof v_); v_; })
    #define MC_STORE(p, v) memcpy((p), &(v), sizeof(v))
    /* Σ of the lanes of a W-byte vector v: halve in vector registers down to 16 bytes,
     * then add those 2 (double) or 4 (float) lanes pairwise. NAME##_h16/_h32 are the
     * 16- and 32-byte vector types of the instantiation. */
    #define MC_SUM16(T, q) ({                                                            \
        T a_[16 / sizeof(T)]; Py_ssize_t h_, l_;                                         \
        memcpy(a_, &(q), 16);                                                            \
        for (h_ = 8 / sizeof(T); h_ >= 1; h_ /= 2)                                       \
            for (l_ = 0; l_ < h_; l_++) a_[l_] += a_[l_ + h_];                           \
        a_[0]; })
    #define MC_HSUM_16(T, NAME, v) MC_SUM16(T, v)
    #define MC_HSUM_32(T, NAME, v) ({                                                    \
        NAME##_h16 lo_, hi_;                                                             \
        memcpy(&lo_, &(v), 16); memcpy(&hi_, (const char *)&(v) + 16, 16);               \
        lo_ += hi_; MC_SUM16(T, lo_); })
    #define MC_HSUM_64(T, NAME, v) ({                                                    \
        NAME##_h32 lo2_, hi2_;                                                           \
        memcpy(&lo2_, &(v), 32); memcpy(&hi2_, (const char *)&(v) + 32, 32);             \
        lo2_ += hi2_; MC_HSUM_32(T, NAME, lo2_); })
    #define MC_HSUM(T, NAME, W, v) MC_HSUM_##W(T, NAME, v)

    #define MC_DEFINE_BLOCK(T, NAME, W, TARGET)                                          \
    typedef T NAME##_v __attribute__((vector_size(W)));                                  \
    typedef T NAME##_h16 __attribute__((vector_size(16)));                               \
    typedef T NAME##_h32 __attribute__((vector_size(32)));                               \
    MC_DEFINE_SMALL(T, NAME##_small, TARGET)                                             \
                                                                                         \
    TARGET static T NAME(const T *MC_RESTRICT x, Py_ssize_t m, Py_ssize_t nb,            \
                         const T *MC_RESTRICT th, const T *MC_RESTRICT y,                \
                         const T *MC_RESTRICT w, T *MC_RESTRICT g)                       \
    {                                                                                    \
        enum { VL = W / sizeof(T) };                                                     \
        typedef NAME##_v V;                                                              \
        T loss = 0, r;                                                                   \
        Py_ssize_t i, j, m4 = m - m % (4 * VL), m1 = m - m % VL;                         \
        MC_SMALL_CASES(NAME##_small)                                                     \
        for (i = 0; i < nb; i++) {                                                       \
            const T *xi = x + i * m;                                                     \
            V a = {0}, b = {0}, c = {0}, d = {0}, gj;                                    \
            /* r = x_i · θ, on four accumulators */                                      \
            for (j = 0; j < m4; j += 4 * VL) {                                           \
                a += MC_LOAD(V, xi + j) * MC_LOAD(V, th + j);                            \
                b += MC_LOAD(V, xi + j + VL) * MC_LOAD(V, th + j + VL);                  \
                c += MC_LOAD(V, xi + j + 2 * VL) * MC_LOAD(V, th + j + 2 * VL);          \
                d += MC_LOAD(V, xi + j + 3 * VL) * MC_LOAD(V, th + j + 3 * VL);          \
            }                                                                            \
            for (j = m4; j < m1; j += VL)                                                \
                a += MC_LOAD(V, xi + j) * MC_LOAD(V, th + j);                            \
            a += b; c += d; a += c;                                                      \
            r = MC_HSUM(T, NAME, W, a);                                                  \
            for (j = m1; j < m; j++) r += xi[j] * th[j];                                 \
            /* r = w_i (r − y_i); loss += w_i (r − y_i)² */                              \
            r = MC_RESID(T, r, y, w, i, loss);                                           \
            /* g += r x_i, while x_i is in L1 */                                         \
            for (j = 0; j < m1; j += VL) {                                               \
                gj = MC_LOAD(V, g + j) + r * MC_LOAD(V, xi + j);                         \
                MC_STORE(g + j, gj);                                                     \
            }                                                                            \
            for (j = m1; j < m; j++) g[j] += r * xi[j];                                  \
        }                                                                                \
        return loss;                                                                     \
    }                                                                                    \
                                                                                         \
    /* multi-target, k = 2..MC_KMAX (a literal per case): Θᵀ (k, m) and Gᵀ (k, m); */  \
    /* x_i is loaded once for its k dot products, once for its k updates of Gᵀ */      \
    TARGET MC_INLINE double NAME##_mk(const T *MC_RESTRICT x, Py_ssize_t m, Py_ssize_t nb,   \
                                 const Py_ssize_t k, const T *MC_RESTRICT tt,           \
                                 const T *MC_RESTRICT y, const T *MC_RESTRICT w,        \
                                 T *MC_RESTRICT gt)                                     \
    {                                                                                    \
        enum { VL = W / sizeof(T) };                                                     \
        typedef NAME##_v V;                                                              \
        double loss = 0; T r[MC_KMAX], e;                                                   \
        Py_ssize_t i, j, c, m1 = m - m % VL;                                             \
        for (i = 0; i < nb; i++) {                                                       \
            const T *xi = x + i * m;                                                     \
            V a[MC_KMAX], xv, gj;                                                        \
            for (c = 0; c < k; c++) { V z_ = {0}; a[c] = z_; }                           \
            /* r = x_i @ Θ − y_i */                                                      \
            for (j = 0; j < m1; j += VL) {                                               \
                xv = MC_LOAD(V, xi + j);                                                 \
                for (c = 0; c < k; c++) a[c] += xv * MC_LOAD(V, tt + c * m + j);         \
            }                                                                            \
            for (c = 0; c < k; c++) {                                                    \
                e = MC_HSUM(T, NAME, W, a[c]);                                           \
                for (j = m1; j < m; j++) e += xi[j] * tt[c * m + j];                     \
                if (y) e -= y[i * k + c];                                                \
                if (w) { loss += w[i] * e * e; e *= w[i]; } else loss += e * e;          \
                r[c] = e;                                                                \
            }                                                                            \
            /* Gᵀ += r x_i */                                                             \
            for (j = 0; j < m1; j += VL) {                                               \
                xv = MC_LOAD(V, xi + j);                                                 \
                for (c = 0; c < k; c++) {                                                \
                    gj = MC_LOAD(V, gt + c * m + j) + r[c] * xv;                         \
                    MC_STORE(gt + c * m + j, gj);                                        \
                }                                                                        \
            }                                                                            \
            for (c = 0; c < k; c++)                                                      \
                for (j = m1; j < m; j++) gt[c * m + j] += r[c] * xi[j];                  \
        }                                                                                \
        return loss;                                                                     \
    }                                                                                    \
                                                                                         \
    TARGET static double NAME##_multi(const T *x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,  \
                                 const T *tt, const T *y, const T *w, T *gt)             \
    {                                                                                    \
        switch (k) {                                                                     \
        case 2: return NAME##_mk(x, m, nb, 2, tt, y, w, gt);                             \
        default: return NAME##_mk(x, m, nb, 3, tt, y, w, gt);                            \
        }                                                                                \
    }                                                                                    \
                                                                                         \
    /* Σ x[0:size], four vector accumulators (the read floor of the benchmarks) */       \
    TARGET static double NAME##_sum(const T *x, Py_ssize_t size)                         \
    {                                                                                    \
        enum { VL = W / sizeof(T) };                                                     \
        typedef NAME##_v V;                                                              \
        V a = {0}, b = {0}, c = {0}, d = {0};                                            \
        Py_ssize_t j, m4 = size - size % (4 * VL);                                       \
        double s = 0;                                                                    \
        for (j = 0; j < m4; j += 4 * VL) {                                               \
            a += MC_LOAD(V, x + j); b += MC_LOAD(V, x + j + VL);                         \
            c += MC_LOAD(V, x + j + 2 * VL); d += MC_LOAD(V, x + j + 3 * VL);            \
        }                                                                                \
        for (j = m4; j < size; j++) s += x[j];                                           \
        a += b; c += d; a += c;                                                          \
        return s + MC_HSUM(T, NAME, W, a);                                               \
    }

    #else  /* no vector extensions: the same algorithm with scalar accumulators */
    #define MC_DEFINE_BLOCK(T, NAME, W, TARGET)                                          \
    MC_DEFINE_SMALL(T, NAME##_small, TARGET)                                             \
    static T NAME(const T *MC_RESTRICT x, Py_ssize_t m, Py_ssize_t nb,                   \
                  const T *MC_RESTRICT th, const T *MC_RESTRICT y,                       \
                  const T *MC_RESTRICT w, T *MC_RESTRICT g)                              \
    {                                                                                    \
        T loss = 0, a[4], r, e;                                                          \
        Py_ssize_t i, j, l, m4 = m - m % 4;                                              \
        MC_SMALL_CASES(NAME##_small)                                                     \
        for (i = 0; i < nb; i++) {                                                       \
            const T *x0 = x + i * m;                                                     \
            a[0] = a[1] = a[2] = a[3] = 0;                                               \
            for (j = 0; j < m4; j += 4)                                                  \
                for (l = 0; l < 4; l++) a[l] += x0[j + l] * th[j + l];                   \
            for (j = m4; j < m; j++) a[0] += x0[j] * th[j];                              \
            r = (a[0] + a[2]) + (a[1] + a[3]);                                           \
            if (y) r -= y[i];                                                            \
            if (w) { e = w[i] * r; loss += e * r; r = e; } else loss += r * r;           \
            for (j = 0; j < m; j++) g[j] += r * x0[j];                                   \
        }                                                                                \
        return loss;                                                                     \
    }                                                                                    \
    static double NAME##_multi(const T *x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,    \
                          const T *tt, const T *y, const T *w, T *gt)                    \
    {                                                                                    \
        double loss = 0; T r[MC_KMAX], e;                                                   \
        Py_ssize_t i, j, c;                                                              \
        for (i = 0; i < nb; i++) {                                                       \
            const T *xi = x + i * m;                                                     \
            for (c = 0; c < k; c++) {                                                    \
                e = 0;                                                                   \
                for (j = 0; j < m; j++) e += xi[j] * tt[c * m + j];                      \
                if (y) e -= y[i * k + c];                                                \
                if (w) { loss += w[i] * e * e; e *= w[i]; } else loss += e * e;          \
                r[c] = e;                                                                \
            }                                                                            \
            for (c = 0; c < k; c++)                                                      \
                for (j = 0; j < m; j++) gt[c * m + j] += r[c] * xi[j];                   \
        }                                                                                \
        return loss;                                                                     \
    }                                                                                    \
    static double NAME##_sum(const T *x, Py_ssize_t size)                                \
    {                                                                                    \
        double a[4] = {0, 0, 0, 0}, s = 0;                                               \
        Py_ssize_t j, l, m4 = size - size % 4;                                           \
        for (j = 0; j < m4; j += 4)                                                      \
            for (l = 0; l < 4; l++) a[l] += x[j + l];                                    \
        for (j = m4; j < size; j++) s += x[j];                                           \
        return s + (a[0] + a[2]) + (a[1] + a[3]);                                        \
    }
    #endif

    MC_DEFINE_BLOCK(double, mc_blk_d_base, 16, MC_T_BASE)
    MC_DEFINE_BLOCK(float, mc_blk_f_base, 16, MC_T_BASE)
    #if MC_X86
    MC_DEFINE_BLOCK(double, mc_blk_d_avx2, 32, MC_T_AVX2)
    MC_DEFINE_BLOCK(float, mc_blk_f_avx2, 32, MC_T_AVX2)
    MC_DEFINE_BLOCK(double, mc_blk_d_avx512, 64, MC_T_AVX512)
    MC_DEFINE_BLOCK(float, mc_blk_f_avx512, 64, MC_T_AVX512)
    #endif

    /* instruction set in use: 0 baseline, 1 AVX2+FMA, 2 AVX-512 (set once at import) */
    static int mc_level = 0;

    static int mc_cpu_level(void)
    {
    #if MC_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
                && __builtin_cpu_supports("avx512dq"))
            return 2;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return 1;
    #endif
        return 0;
    }

    static int mc_get_level(void) { return mc_level; }

    /* use `level` (clipped to what the CPU has; < 0: the best it has); returns the old */
    static int mc_set_level(int level)
    {
        int old = mc_level, best = mc_cpu_level();
        mc_level = (level < 0 || level > best) ? best : level;
        return old;
    }

    /* call mc_blk_<SUF>_<level><FN>(...) for the level in use (FN: "", _multi, _sum) */
    #if MC_X86
    #  define MC_DISPATCH(SUF, FN, ...)                                                   \
        (mc_level == 2 ? mc_blk_##SUF##_avx512##FN(__VA_ARGS__)                           \
         : mc_level == 1 ? mc_blk_##SUF##_avx2##FN(__VA_ARGS__)                           \
         : mc_blk_##SUF##_base##FN(__VA_ARGS__))
    #else
    #  define MC_DISPATCH(SUF, FN, ...) mc_blk_##SUF##_base##FN(__VA_ARGS__)
    #endif

    static double mc_block_d(const double *x, Py_ssize_t m, Py_ssize_t nb, const double *th,
                             const double *y, const double *w, double *g)
    { return MC_DISPATCH(d, , x, m, nb, th, y, w, g); }
    static float mc_block_f(const float *x, Py_ssize_t m, Py_ssize_t nb, const float *th,
                            const float *y, const float *w, float *g)
    { return MC_DISPATCH(f, , x, m, nb, th, y, w, g); }
    static double mc_multi_d(const double *x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,
                             const double *tt, const double *y, const double *w, double *gt)
    { return MC_DISPATCH(d, _multi, x, m, nb, k, tt, y, w, gt); }
    static double mc_multi_f(const float *x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,
                            const float *tt, const float *y, const float *w, float *gt)
    { return MC_DISPATCH(f, _multi, x, m, nb, k, tt, y, w, gt); }
    static double mc_sum_d(const double *x, Py_ssize_t size)
    { return MC_DISPATCH(d, _sum, x, size); }
    static double mc_sum_f(const float *x, Py_ssize_t size)
    { return MC_DISPATCH(f, _sum, x, size); }
    """
    double mc_block_d(const double* x, Py_ssize_t m, Py_ssize_t nb, const double* th,
                      const double* y, const double* w, double* g) noexcept nogil
    float mc_block_f(const float* x, Py_ssize_t m, Py_ssize_t nb, const float* th,
                     const float* y, const float* w, float* g) noexcept nogil
    double mc_multi_d(const double* x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,
                      const double* tt, const double* y, const double* w,
                      double* gt) noexcept nogil
    double mc_multi_f(const float* x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,
                     const float* tt, const float* y, const float* w, float* gt) noexcept nogil
    double mc_sum_d(const double* x, Py_ssize_t size) noexcept nogil
    double mc_sum_f(const float* x, Py_ssize_t size) noexcept nogil
    int mc_set_level(int level) noexcept nogil
    int mc_get_level() noexcept nogil
    enum: MC_KMAX
    int mc_cpu_level() noexcept nogil


cdef inline floating _block(const floating* x, Py_ssize_t m, Py_ssize_t nb,
                            const floating* th, const floating* y, const floating* w,
                            floating* g) noexcept nogil:
    """g += X_bᵀ W (X_b θ − y_b) for the nb rows at x (y, w may be NULL); returns Σ w r²."""
    if floating is double:
        return mc_block_d(x, m, nb, th, y, w, g)
    else:
        return mc_block_f(x, m, nb, th, y, w, g)


cdef inline void _thread_blocks_vec(const floating* X, Py_ssize_t n, Py_ssize_t m,
                                    const floating* th, const floating* y, const floating* w,
                                    Py_ssize_t block, Py_ssize_t b0, Py_ssize_t b1,
                                    double* acc, floating* gblk, double* loss) noexcept nogil:
    """Blocks b0..b1 of one thread into its partial gradient `acc` and its `loss` (OUT)."""
    cdef Py_ssize_t b, i0, nb, j
    cdef floating* g
    cdef const floating* yb
    cdef const floating* wb
    for b in range(b0, b1):
        i0 = b * block
        nb = min(block, n - i0)
        if floating is double:
            g = <floating*>acc      # float64 accumulates straight into the thread's sum
        else:
            g = gblk
            memset(g, 0, m * sizeof(floating))
        yb = y
        wb = w
        if y != NULL:
            yb = y + i0
        if w != NULL:
            wb = w + i0
        loss[0] += _block(X + i0 * m, m, nb, th, yb, wb, g)
        if floating is float:
            for j in range(m):
                acc[j] += g[j]


cdef Py_ssize_t _clear_parts(double* base, int* nthreads, Py_ssize_t nblocks,
                             Py_ssize_t region, Py_ssize_t la) noexcept nogil:
    """Split `nblocks` blocks into parts, zero each part's partial gradient (la doubles at
    base + p·region) and loss slot; returns the number of parts and clamps `nthreads`
    to 1..parts."""
    cdef Py_ssize_t p, nparts = max(1, min(_parts(nthreads[0]), nblocks))
    nthreads[0] = <int>max(1, min(<Py_ssize_t>nthreads[0], nparts))
    for p in range(nparts):
        memset(base + p * region, 0, la * sizeof(double))
        base[p * region + region - LINE] = 0
    return nparts


cdef double _total_loss(const double* base, Py_ssize_t nparts, Py_ssize_t region,
                        const floating* th, Py_ssize_t size, double l2) noexcept nogil:
    """Σ_p loss_p over the parts' loss slots, + l2 ‖θ‖² over θ's `size` entries."""
    cdef double s = 0, loss = 0
    cdef Py_ssize_t j, p
    for p in range(nparts):
        loss += base[p * region + region - LINE]
    if l2 != 0:
        for j in range(size):
            s += <double>th[j] * th[j]
        loss += l2 * s
    return loss


cdef double loss_grad_vec(const floating[:, ::1] X,   # IN  (n, m)
                          const floating[::1] theta,  # IN  (m,)
                          const floating[::1] y,      # IN  (n,), read when has_y
                          bint has_y,
                          const floating[::1] w,      # IN  (n,), read when has_w
                          bint has_w,
                          double l2,
                          floating[::1] grad,         # OUT (m,)
                          double* work,               # scratch, work_size(m, 0, ...) doubles
                          Py_ssize_t block,
                          int nthreads,
                          ) noexcept nogil:
    """grad = 2 Xᵀ W (Xθ − y) + 2 l2 θ; returns Σ w_i (x_iθ − y_i)² + l2 ‖θ‖².

    Needs n ≥ 1 and m ≥ 1 (callers handle empty inputs). y and w are optional.
    """
    return _vec_ptr(&X[0, 0], X.shape[0], X.shape[1], &theta[0],
                    &y[0] if has_y else NULL, &w[0] if has_w else NULL, l2, &grad[0],
                    work, block, nthreads)


cdef double _vec_ptr(const floating* xp,   # IN  (n, m), row-major
                     Py_ssize_t n, Py_ssize_t m,
                     const floating* th,   # IN  (m,)
                     const floating* yp,   # IN  (n,) or NULL (y = 0)
                     const floating* wp,   # IN  (n,) or NULL (w = 1)
                     double l2,
                     floating* grad,       # OUT (m,)
                     double* work, Py_ssize_t block, int nthreads) noexcept nogil:
    """`loss_grad_vec` on raw pointers (n, m ≥ 1): the body shared with the fast entry."""
    cdef Py_ssize_t j, p
    cdef Py_ssize_t nblocks = (n + block - 1) // block, per, b0, b1
    cdef Py_ssize_t la = _lines(8 * m)
    cdef Py_ssize_t region = _region(m, 0, block, sizeof(floating))
    cdef double* base = _aligned(work)
    cdef double s
    cdef Py_ssize_t nparts = _clear_parts(base, &nthreads, nblocks, region, la)
    if nparts == 1:
        _thread_blocks_vec(xp, n, m, th, yp, wp, block, 0, nblocks,
                           base, <floating*>(base + la), base + region - LINE)
    else:
        # part p: a contiguous run of blocks, scratch at base + p·region (partial
        # gradient | block gradient | loss); threads take the parts in turn
        per = (nblocks + nparts - 1) // nparts
        for p in prange(nparts, schedule="dynamic", chunksize=1, num_threads=nthreads):
            b0 = p * per
            b1 = min(b0 + per, nblocks)
            if b0 < b1:
                _thread_blocks_vec(xp, n, m, th, yp, wp, block, b0, b1,
                                   base + p * region, <floating*>(base + p * region + la),
                                   base + p * region + region - LINE)
    # grad = 2 Σ_p acc_p + 2 l2 θ
    for j in range(m):
        s = 0
        for p in range(nparts):
            s += base[p * region + j]
        # (l2 == 0 adds nothing: 0·θ_j would turn an infinite θ_j's gradient into NaN)
        grad[j] = <floating>(2 * (s + l2 * th[j]) if l2 != 0 else 2 * s)
    return _total_loss(base, nparts, region, th, m, l2)


# --------------------------------------------------------------------------------------
# multi-target: a C loop per block for k ≤ MC_KMAX, BLAS (gemm) per block beyond
# --------------------------------------------------------------------------------------

cdef inline double _multi(const floating* x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,
                            const floating* tt, const floating* y, const floating* w,
                            floating* gt) noexcept nogil:
    """Gᵀ += (X_bᵀ W (X_b Θ − Y_b))ᵀ for nb rows (Θᵀ, Gᵀ: k × m); returns Σ w ‖r‖²."""
    if floating is double:
        return mc_multi_d(x, m, nb, k, tt, y, w, gt)
    else:
        return mc_multi_f(x, m, nb, k, tt, y, w, gt)


cdef double _gemm_block(const floating* x, Py_ssize_t m, Py_ssize_t nb, Py_ssize_t k,
                          const floating* th, const floating* y, const floating* w,
                          floating* R, floating beta, floating* g) noexcept nogil:
    """g = X_bᵀ W (X_b Θ − Y_b) + beta·g (g: m × k) by two gemm; R: nb × k scratch.

    Returns the block's loss Σ w ‖r‖².
    """
    cdef Py_ssize_t i, c
    cdef floating e, wi
    cdef double s = 0      # the block's loss, summed in double whatever the dtype
    # R = X_b @ Θ − Y_b
    if y != NULL:
        memcpy(R, y, nb * k * sizeof(floating))
    gemm(NoTrans, NoTrans, nb, k, m, <floating>1, x, m, th, k,
         <floating>(-1 if y != NULL else 0), R, k)
    # loss = Σ_i w_i ‖R_i‖²;  R_i *= w_i
    for i in range(nb):
        wi = w[i] if w != NULL else 1
        for c in range(k):
            e = R[i * k + c]
            s += wi * e * e
            if w != NULL:
                R[i * k + c] = wi * e
    # g = X_b.T @ R + beta * g
    gemm(Trans, NoTrans, m, k, nb, <floating>1, x, m, R, k, beta, g, k)
    return s


cdef void _thread_blocks_mat(const floating* X, Py_ssize_t n, Py_ssize_t m, Py_ssize_t k,
                             const floating* th, const floating* tt, const floating* Y,
                             const floating* w, Py_ssize_t block, Py_ssize_t b0,
                             Py_ssize_t b1, double* acc, floating* gblk, floating* R,
                             double* loss) noexcept nogil:
    """Blocks b0..b1 of one thread into its partial gradient `acc` and `loss` (OUT).

    With Θᵀ given (tt != NULL, k ≤ MC_KMAX) acc holds Gᵀ (k × m), else G (m × k).
    """
    cdef Py_ssize_t b, i0, nb, j
    cdef floating* g
    cdef const floating* yb
    cdef const floating* wb
    for b in range(b0, b1):
        i0 = b * block
        nb = min(block, n - i0)
        yb = Y
        wb = w
        if Y != NULL:
            yb = Y + i0 * k
        if w != NULL:
            wb = w + i0
        if floating is double:
            g = <floating*>acc      # float64 accumulates straight into the thread's sum
        else:
            g = gblk
            if tt != NULL:
                memset(g, 0, m * k * sizeof(floating))
        if tt != NULL:
            loss[0] += _multi(X + i0 * m, m, nb, k, tt, yb, wb, g)
        elif floating is double:
            loss[0] += _gemm_block(X + i0 * m, m, nb, k, th, yb, wb, R, 1, g)
        else:
            loss[0] += _gemm_block(X + i0 * m, m, nb, k, th, yb, wb, R, 0, g)
        if floating is float:
            for j in range(m * k):
                acc[j] += g[j]


cdef double loss_grad_mat(const floating[:, ::1] X,      # IN  (n, m)
                          const floating[:, ::1] theta,  # IN  (m, k)
                          const floating[:, ::1] Y,      # IN  (n, k), read when has_y
                          bint has_y,
                          const floating[::1] w,         # IN  (n,), read when has_w
                          bint has_w,
                          double l2,
                          floating[:, ::1] grad,         # OUT (m, k)
                          double* work,                  # scratch, work_size(m, k, ...)
                          Py_ssize_t block,
                          int nthreads,
                          ) noexcept nogil:
    """grad = 2 Xᵀ W (XΘ − Y) + 2 l2 Θ; returns Σ w_i ‖x_iΘ − y_i‖² + l2 ‖Θ‖²_F.

    Needs n, m, k ≥ 1 (callers handle empty inputs). Y and w are optional.
    """
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], k = theta.shape[1], j, c, p
    cdef Py_ssize_t nblocks = (n + block - 1) // block, per, b0, b1
    cdef Py_ssize_t la = _lines(8 * m * k), lg = _lines(sizeof(floating) * m * k)
    cdef Py_ssize_t region = _region(m, k, block, sizeof(floating))
    cdef double* base = _aligned(work)
    cdef const floating* yp = &Y[0, 0] if has_y else NULL
    cdef const floating* wp = &w[0] if has_w else NULL
    cdef const floating* xp = &X[0, 0]
    cdef const floating* th = &theta[0, 0]
    cdef floating* tt = NULL
    cdef bint transposed = 2 <= k <= MC_KMAX
    cdef double s
    cdef Py_ssize_t nparts = _clear_parts(base, &nthreads, nblocks, region, la)
    if transposed:
        # Θᵀ (k, m), after the parts' regions, read by all of them
        tt = <floating*>(base + nparts * region)
        for j in range(m):
            for c in range(k):
                tt[c * m + j] = th[j * k + c]
    if nparts == 1:
        _thread_blocks_mat(xp, n, m, k, th, tt, yp, wp, block, 0, nblocks,
                           base, <floating*>(base + la), <floating*>(base + la + lg),
                           base + region - LINE)
    else:
        per = (nblocks + nparts - 1) // nparts
        for p in prange(nparts, schedule="dynamic", chunksize=1, num_threads=nthreads):
            b0 = p * per
            b1 = min(b0 + per, nblocks)
            if b0 < b1:
                _thread_blocks_mat(xp, n, m, k, th, tt, yp, wp, block, b0, b1,
                                   base + p * region,
                                   <floating*>(base + p * region + la),
                                   <floating*>(base + p * region + la + lg),
                                   base + p * region + region - LINE)
    # G = 2 Σ_p acc_p + 2 l2 Θ   (acc_p holds Gᵀ when transposed)
    for j in range(m):
        for c in range(k):
            s = 0
            for p in range(nparts):
                s += base[p * region + (c * m + j if transposed else j * k + c)]
            grad[j, c] = <floating>(2 * (s + l2 * th[j * k + c]) if l2 != 0 else 2 * s)
    return _total_loss(base, nparts, region, th, m * k, l2)


# --------------------------------------------------------------------------------------
# the memory read floor (for benchmarks): Σ X with each thread reading its own rows
# --------------------------------------------------------------------------------------

cdef double sum_rows(const floating[:, ::1] X, int nthreads) noexcept nogil:
    """Σ X, the rows split in one contiguous run per thread: the cost of reading X once."""
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], per, t, i0, i1
    cdef double part[64 * LINE]
    cdef double total = 0
    cdef const floating* xp
    if n == 0 or m == 0:
        return 0
    xp = &X[0, 0]
    nthreads = max(1, min(nthreads, 64))
    per = (n + nthreads - 1) // nthreads
    for t in prange(nthreads, schedule="static", num_threads=nthreads):
        i0 = t * per
        i1 = min(i0 + per, n)
        if floating is double:
            part[t * LINE] = mc_sum_d(xp + i0 * m, max(i1 - i0, 0) * m)
        else:
            part[t * LINE] = mc_sum_f(xp + i0 * m, max(i1 - i0, 0) * m)
    for t in range(nthreads):
        total += part[t * LINE]
    return total


# --------------------------------------------------------------------------------------
# def wrappers: scratch on the stack when small, else one NumPy buffer; GIL released
# --------------------------------------------------------------------------------------

def vec_loss_grad(const floating[:, ::1] X not None, const floating[::1] theta not None,
                  const floating[::1] y not None, bint has_y,
                  const floating[::1] w not None, bint has_w, double l2,
                  floating[::1] grad not None, Py_ssize_t block, int nthreads):
    """Σ w (Xθ − y)² + l2‖θ‖², writing 2 XᵀW(Xθ − y) + 2 l2 θ into `grad`.

    mcfast.lstsq has checked the inputs and names them in its errors; this only refuses
    what would make the kernel read or write out of bounds (n, m ≥ 1 needed).
    """
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef double loss
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1]
    if (n < 1 or m < 1 or theta.shape[0] != m or grad.shape[0] != m
            or (has_y and y.shape[0] != n) or (has_w and w.shape[0] != n)
            or block < 1 or nthreads < 1):
        raise ValueError("vec_loss_grad: inconsistent shapes or arguments")
    cdef Py_ssize_t need = work_size(m, 0, block, nthreads, sizeof(floating))
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    with nogil:
        loss = loss_grad_vec(X, theta, y, has_y, w, has_w, l2, grad, work, block, nthreads)
    return loss


def mat_loss_grad(const floating[:, ::1] X not None, const floating[:, ::1] theta not None,
                  const floating[:, ::1] Y not None, bint has_y,
                  const floating[::1] w not None, bint has_w, double l2,
                  floating[:, ::1] grad not None, Py_ssize_t block, int nthreads):
    """Σ w ‖XΘ − Y‖² + l2‖Θ‖², writing 2 XᵀW(XΘ − Y) + 2 l2 Θ into `grad`.

    mcfast.lstsq has checked the inputs and names them in its errors; this only refuses
    what would make the kernel read or write out of bounds (n, m, k ≥ 1 needed).
    """
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef double loss
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], k = theta.shape[1]
    if (n < 1 or m < 1 or k < 1 or theta.shape[0] != m or grad.shape[0] != m
            or grad.shape[1] != k or (has_y and (Y.shape[0] != n or Y.shape[1] != k))
            or (has_w and w.shape[0] != n) or block < 1 or nthreads < 1):
        raise ValueError("mat_loss_grad: inconsistent shapes or arguments")
    cdef Py_ssize_t need = work_size(m, k, block, nthreads, sizeof(floating))
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    with nogil:
        loss = loss_grad_mat(X, theta, Y, has_y, w, has_w, l2, grad, work, block, nthreads)
    return loss


# --------------------------------------------------------------------------------------
# blocks and threads for a call
# --------------------------------------------------------------------------------------

cdef enum:
    # Rows per block: about this many bytes of X. The single-target loop uses each row at
    # once, so there a block only sets how often float32 partial sums are folded into
    # float64 and the grain of the split over threads; the gemm path (k ≥ 4) wants a
    # block in L2. (Timings of other sizes: bench/bench_lstsq.py --tune.)
    BLOCK_BYTES = 64 * 1024
    # Multi-target blocks also keep BLAS single-threaded inside each of our threads:
    # OpenBLAS threads a gemm only above about this many multiply-adds.
    BLOCK_MAT_FLOPS = 1 << 18
    # Elements of X each thread gets at least. Measured on 2 idle cores (bench_lstsq.py
    # --tune): a second thread pays off from about 30,000 elements (2,000 × 8: 1.2× slower,
    # 8,000 × 8: 0.6× the time, 2,000 × 32: 0.57×); the margin here keeps the fork/join
    # (and a second core's wake-up when the machine is busy) a small part of every
    # threaded call.
    ELEMENTS_PER_THREAD = 1 << 16


cdef Py_ssize_t plan_block(Py_ssize_t m, Py_ssize_t k, Py_ssize_t itemsize) noexcept nogil:
    """Rows per block for an X of m columns and k targets (k = 0 for a 1-D θ); m ≥ 1."""
    cdef Py_ssize_t block = BLOCK_BYTES // (m * itemsize)
    if k > 0:
        block = min(block, BLOCK_MAT_FLOPS // (m * k))
    return max(8, min(block, 4096))


cdef int plan_threads(Py_ssize_t n, Py_ssize_t m, Py_ssize_t k, Py_ssize_t block,
                      int max_threads) noexcept nogil:
    """Threads for an (n, m) X and k targets: ELEMENTS_PER_THREAD each, a block each, at
    most `max_threads`, or when that is 0, at most what the process allows now
    (openmp_effective_n_threads: threadpoolctl, OMP_NUM_THREADS, affinity, 1 after fork;
    asked only when the work would take a second thread)."""
    cdef Py_ssize_t t = min(n * m * max(k, 1) // ELEMENTS_PER_THREAD, (n + block - 1) // block)
    if t > 1:
        t = min(t, <Py_ssize_t>(max_threads if max_threads > 0
                                else openmp_effective_n_threads()))
    return <int>max(t, 1)


def plan(Py_ssize_t n, Py_ssize_t m, Py_ssize_t k, Py_ssize_t itemsize, int max_threads):
    """(rows per block, threads) for an (n, m) X, k targets (0 for a 1-D θ), m ≥ 1;
    `max_threads` 0: as many as the process allows now."""
    if m < 1 or itemsize < 1:
        raise ValueError("plan: m and itemsize must be >= 1")
    cdef Py_ssize_t block = plan_block(m, k, itemsize)
    return block, plan_threads(n, m, k, block, max_threads)


# --------------------------------------------------------------------------------------
# the fast entry for a 1-D θ and arrays that need no conversion
# --------------------------------------------------------------------------------------
#
# Validating in Python and acquiring four typed memoryviews cost a few µs: at 8 × 8 that is
# the whole call (the kernel itself takes ~50 ns). When X, θ, y (and w, out) are already
# C-contiguous ndarrays of one float dtype with fitting shapes, `loss_grad_fast` checks
# that in compiled code and runs the kernel on raw pointers. It returns None when
# anything is unusual (other dtypes or layouts, subclasses, 2-D θ, empty or overlapping
# arrays), and mcfast.lstsq takes the general path, which converts, validates and
# explains. As in mcfast.linear, the GIL is kept for tiny inputs (releasing it costs
# more than the work) and released from SMALL_ELEMENTS elements of X.

cimport numpy as cnp
cnp.import_array()
from ._ndarray cimport plain, disjoint

cdef Py_ssize_t SMALL_ELEMENTS = 4096


cdef inline bint _vector(object a, int typenum, Py_ssize_t size):
    """a is a plain 1-D array of the given type number and length."""
    return plain(a, typenum, 1) and cnp.PyArray_DIMS(<cnp.ndarray>a)[0] == size


def loss_grad_fast(X, theta, y, w, double l2, out, int max_threads):
    """(Σ w (Xθ − y)² + l2‖θ‖², 2 XᵀW(Xθ − y) + 2 l2 θ) for plain arrays, else None.

    `max_threads`: as in `plan` (0: as many as the process allows now).

    X (n, m), θ (m,), y (n,) and w (n,) or None: C-contiguous ndarrays of one float dtype,
    n, m ≥ 1. `out`: None (a new gradient) or such an (m,) array, writeable and sharing
    no memory with the inputs (else None is returned and nothing is written).
    """
    if not cnp.PyArray_CheckExact(X):
        return None
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>X)
    if typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT:
        return None
    if not plain(X, typenum, 2):
        return None
    cdef Py_ssize_t n = cnp.PyArray_DIMS(<cnp.ndarray>X)[0]
    cdef Py_ssize_t m = cnp.PyArray_DIMS(<cnp.ndarray>X)[1]
    if n < 1 or m < 1 or not (_vector(theta, typenum, m) and _vector(y, typenum, n)):
        return None
    if w is not None and not _vector(w, typenum, n):
        return None
    cdef cnp.npy_intp dims[1]
    if out is None:
        dims[0] = m
        out = cnp.PyArray_EMPTY(1, dims, typenum, 0)
    elif not (_vector(out, typenum, m) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>X)
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>theta)
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>y)
              and (w is None or disjoint(<cnp.ndarray>out, <cnp.ndarray>w))):
        return None
    cdef Py_ssize_t itemsize = 8 if typenum == cnp.NPY_DOUBLE else 4
    cdef Py_ssize_t block = plan_block(m, 0, itemsize)
    cdef int nthreads = plan_threads(n, m, 0, block, max_threads)
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef Py_ssize_t need = work_size(m, 0, block, nthreads, itemsize)
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    cdef void* px = cnp.PyArray_DATA(<cnp.ndarray>X)
    cdef void* pt = cnp.PyArray_DATA(<cnp.ndarray>theta)
    cdef void* py = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef void* pw = NULL if w is None else cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef void* po = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef double loss
    if n * m < SMALL_ELEMENTS:
        loss = _vec_any(typenum, px, n, m, pt, py, pw, l2, po, work, block, nthreads)
    else:
        with nogil:
            loss = _vec_any(typenum, px, n, m, pt, py, pw, l2, po, work, block, nthreads)
    return loss, out


cdef inline double _vec_any(int typenum, void* px, Py_ssize_t n, Py_ssize_t m, void* pt,
                            void* py, void* pw, double l2, void* po, double* work,
                            Py_ssize_t block, int nthreads) noexcept nogil:
    """`_vec_ptr` for the type number of the (untyped) pointers."""
    if typenum == cnp.NPY_DOUBLE:
        return _vec_ptr(<const double*>px, n, m, <const double*>pt, <const double*>py,
                        <const double*>pw, l2, <double*>po, work, block, nthreads)
    return _vec_ptr(<const float*>px, n, m, <const float*>pt, <const float*>py,
                    <const float*>pw, l2, <float*>po, work, block, nthreads)


mc_set_level(-1)   # the best instruction set this CPU has

_LEVEL_NAMES = ("baseline", "avx2", "avx512")


def set_simd_level(int level):
    """Use SIMD level `level` (0 baseline, 1 AVX2+FMA, 2 AVX-512; -1 the best there is).

    Levels the CPU lacks are clipped to the best it has. Returns the previous level.
    For tests and benchmarks: not thread-safe against concurrent kernel calls.
    """
    return mc_set_level(level)


def simd_level():
    """(level in use, best level of this CPU, name of the level in use)."""
    cdef int level = mc_get_level()
    return level, mc_cpu_level(), _LEVEL_NAMES[level]


def row_sum(const floating[:, ::1] X not None, int nthreads):
    """Σ X read once, the rows split over `nthreads` threads (the memory read floor)."""
    cdef double total
    if nthreads < 1:
        raise ValueError("row_sum: nthreads must be >= 1")
    with nogil:
        total = sum_rows(X, nthreads)
    return total


def repeat_vec_loss_grad(const floating[:, ::1] X not None,
                         const floating[::1] theta not None,
                         const floating[::1] y not None, floating[::1] grad not None,
                         Py_ssize_t block, Py_ssize_t repeats):
    """Run the single-target kernel `repeats` times in one nogil loop (one thread).

    For benchmarks: the kernel's own cost per call, without the ≈ 100 ns per memoryview
    that every Python-level call pays. Returns the last loss.
    """
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef double loss = 0
    cdef Py_ssize_t r
    if (X.shape[0] < 1 or X.shape[1] < 1 or theta.shape[0] != X.shape[1]
            or grad.shape[0] != X.shape[1] or y.shape[0] != X.shape[0] or block < 1):
        raise ValueError("repeat_vec_loss_grad: inconsistent shapes or arguments")
    cdef Py_ssize_t need = work_size(X.shape[1], 0, block, 1, sizeof(floating))
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    with nogil:
        for r in range(repeats):
            loss = loss_grad_vec(X, theta, y, True, y, False, 0.0, grad, work, block, 1)
    return loss

/* mcfast: portable vector helpers and the one runtime SIMD dispatch of the engine.
 *
 * Loops are written once, as functions over the element type T and the vector width W
 * in bytes (GCC/Clang vector extensions: the compiler emits exactly that width), in body
 * headers re-included per instantiation from the one list of mc_levels.h: on x86-64
 * for AVX-512, AVX2+FMA and the SSE2 baseline. The level in use is chosen at import from the running CPU (runtime
 * dispatch, so the default build stays portable; MCFAST_NO_DISPATCH turns it off).
 * Compilers without vector extensions get plain C loops (MC_VEC 0).
 */
#ifndef MCFAST_SIMD_H
#define MCFAST_SIMD_H

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
#  define MC_T_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma,prefer-vector-width=512")))
#  define MC_T_AVX2 __attribute__((target("avx2,fma")))
#else
#  define MC_X86 0
#endif
#define MC_T_BASE
/* The engine's baseline instantiation (mc_levels.h). With x86-64 dispatch it runs only on
 * a CPU without AVX2+FMA (or where MCFAST_SIMD forces it), so GCC compiles it for size
 * there: 130 KB less of _engine, held under its size limit (tests/test_build.py). Where
 * it is the only level (aarch64, MCFAST_NO_DISPATCH) it is compiled for speed. */
#if MC_X86 && !defined(__clang__)
#  define MC_T_BASE_ENGINE __attribute__((optimize("Os")))
#else
#  define MC_T_BASE_ENGINE
#endif
/* The engine's loops left to GCC's vectoriser (the loss hooks' loops over a block's rows,
 * the CSR and K > 1 block products): its dynamic cost model, vector loops with run-time
 * checks and epilogues, which _engine's build narrows to the very-cheap one everywhere
 * else (setup.py MODULE_FLAGS: the fused paths are vector code already). Without it the
 * CSR logistic loss ran 1.22x slower (AVX-512). */
#if defined(__GNUC__) && !defined(__clang__)
#  define MC_AUTOVEC __attribute__((optimize("vect-cost-model=dynamic")))
#else
#  define MC_AUTOVEC
#endif

/* token pasting after expansion (the names of the instantiations, mc_levels.h) */
#define MC_CAT_(a, b) a##b
#define MC_CAT(a, b) MC_CAT_(a, b)
#define MC_CAT3(a, b, c) MC_CAT(MC_CAT(a, b), c)

/* The cache line the kernels step their prefetches by and pad per-thread accumulators to
 * (so two threads never write one line): 128 bytes on Apple's M-series cores, 64 on the
 * x86-64 and other aarch64 cores. MC_LINE_DOUBLES: the same in doubles, for the drivers. */
#if defined(__APPLE__) && defined(__aarch64__)
#  define MC_LINE_BYTES 128
#else
#  define MC_LINE_BYTES 64
#endif
#define MC_LINE_DOUBLES (MC_LINE_BYTES / 8)

#if MC_VEC
/* unaligned vector load / store */
#define MC_LOAD(V, p) ({ V v_; memcpy(&v_, (p), sizeof v_); v_; })
#define MC_STORE(p, v) memcpy((p), &(v), sizeof(v))
/* Σ of the lanes of a W-byte vector v: halve in vector registers down to 16 bytes,
 * then add those 2 (double) or 4 (float) lanes pairwise. H16 and H32 are the 16- and
 * 32-byte vector types of T of the instantiation. */
#define MC_SUM16(T, q) ({                                                            \
    T a_[16 / sizeof(T)]; Py_ssize_t h_, l_;                                         \
    memcpy(a_, &(q), 16);                                                            \
    for (h_ = 8 / sizeof(T); h_ >= 1; h_ /= 2)                                       \
        for (l_ = 0; l_ < h_; l_++) a_[l_] += a_[l_ + h_];                           \
    a_[0]; })
#define MC_HSUM_16(T, H16, H32, v) MC_SUM16(T, v)
/* the halves of a 32- or 64-byte vector are taken by shuffles of its 8-byte lanes, in
   registers: a memcpy of the high half went through the stack, a store-forwarding stall
   for each sum (the F-order blocks' column sums, Zen 4: a quarter of their time) */
#define MC_HSUM_32(T, H16, H32, v) ({                                                \
    typedef long long q32_ __attribute__((vector_size(32)));                         \
    const q32_ q_ = (q32_)(v);                                                       \
    H16 lo_ = (H16)__builtin_shufflevector(q_, q_, 0, 1);                            \
    const H16 hi_ = (H16)__builtin_shufflevector(q_, q_, 2, 3);                      \
    lo_ += hi_; MC_SUM16(T, lo_); })
#define MC_HSUM_64(T, H16, H32, v) ({                                                \
    typedef long long q64_ __attribute__((vector_size(64)));                         \
    const q64_ q2_ = (q64_)(v);                                                      \
    H32 lo2_ = (H32)__builtin_shufflevector(q2_, q2_, 0, 1, 2, 3);                   \
    const H32 hi2_ = (H32)__builtin_shufflevector(q2_, q2_, 4, 5, 6, 7);             \
    lo2_ += hi2_; MC_HSUM_32(T, H16, H32, lo2_); })
#define MC_HSUM(T, H16, H32, W, v) MC_CAT(MC_HSUM_, W)(T, H16, H32, v)
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

#endif /* MCFAST_SIMD_H */

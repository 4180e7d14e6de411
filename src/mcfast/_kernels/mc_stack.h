/* mcfast: batched kernels for stacks of small square chains (jacobian, grad, tangent).
 *
 * A stack is nchains chains of nlinks links, each link an (n × n) matrix or a Diagonal
 * (n): link k of chain c at link[k] + c * bstride[k] (bstride 0: one link shared by every
 * chain), C-contiguous, read in place. The driver (_stack.pyx) splits the chains into
 * chunks of MC_STK_CHUNK_ALIGN-multiples (32 KB to 1 MB of links: chunk_chains), one
 * thread per chunk, so each chain is computed whole by one thread and the results do not
 * depend on the thread count.
 *
 * Instances (mc_stack_inl.h) per element type × instruction set × n × layout: compact
 * (the vector's lanes hold that many chains) or one chain at a time (rows as vectors).
 * Which layout serves an n is a measured choice per instruction set, mc_stk_compact_ns below
 * (bench/bench_chain.py --stacks); n outside MC_STK_SIZES is not served here.
 *
 * The one-chain jacobian (issue 21: n = 16, 24, 32 from memory at ≥ 60 % of the FMA
 * peak): register tiles per instruction set in mc_stack_inl.h (16 registers, n ≥ 16: 6
 * rows × 2 vectors of the product, 4 × 3 when a row is 3 vectors; 32 registers: 4 × up to
 * 4), the products prefetching the next chain's links over their tiles, and an output of
 * MC_STK_STREAM_BYTES or more written with streaming stores (mc_stack_stream.h).
 * bench/bench_stack_jac.py measures it in cache and from memory against an older build.
 */
#ifndef MCFAST_STACK_H
#define MCFAST_STACK_H

#include <stdint.h>
#include "mc_simd.h"
#if MC_X86 || defined(__SSE2__)
#include <immintrin.h>      /* the streaming stores of mc_stack_stream.h */
#endif

enum { MC_STK_GRAD = 0, MC_STK_TAN = 1, MC_STK_JAC = 2, MC_STK_JAC_REVERSE = 3,
       MC_STK_READ = 4 };
/* MC_STK_READ: not a rule but the benchmark's floor (mc_stack_read.h): the links, vectors
   and output of a grad or tangent read and written in place, over the same chunks and
   threads, without their products */
#define MC_STK_IS_JAC(mode) ((mode) == MC_STK_JAC || (mode) == MC_STK_JAC_REVERSE)
/* chunk starts are multiples of this (the most lanes of any instance: 16 floats) */
enum { MC_STK_CHUNK_ALIGN = 16 };
/* MC_STK_READ's blocks of chains: chunk starts are multiples of it, so its result does not
   depend on the chunks */
enum { MC_STK_READ_BLOCK = MC_STK_CHUNK_ALIGN };
/* __builtin_prefetch's locality of the one-chain jacobian's prefetch of the next chain
   (mc_stack_inl.h) */
#ifndef MC_STK_PF_LOCALITY
#define MC_STK_PF_LOCALITY 3
#endif
/* rows of the per-level tables: mc_level's values (0 baseline, 1 AVX2+FMA, 2 AVX-512) */
enum { MC_STK_LEVELS = 3 };

typedef struct {
    Py_ssize_t n;                  /* the matrix size */
    Py_ssize_t nlinks;
    const void *const *link;       /* data of link k */
    const Py_ssize_t *bstride;     /* elements from one chain's link k to the next's; 0: shared */
    const unsigned char *diag;     /* 1: link k is a Diagonal (n elements per chain) */
    const void *vec;               /* grad/tangent: the vectors (n per chain) */
    Py_ssize_t vstride;            /* elements from one chain's vector to the next's; 0: shared */
    void *out;                     /* (nchains, n) or (nchains, n, n), C-contiguous */
    int mode;                      /* MC_STK_* */
    int stream;                    /* 1: jacobian, write out with streaming stores (an
                                      output past the caches: mc_stk_streams) */
} mc_stk;

/* A jacobian's output of at least this many bytes is written with streaming
   (non-temporal) stores by the one-chain layout (mc_stack_stream.h): past the L2 of both
   cores and half a 32 MB L3, where its lines would be evicted to memory anyway.
   mc_stk_streams: mc_stk.stream for a stack of this mode and output size (both drivers). */
enum { MC_STK_STREAM_BYTES = 8 << 20 };
static int mc_stk_streams(int mode, Py_ssize_t out_bytes)
{
    return MC_STK_IS_JAC(mode) && out_bytes >= MC_STK_STREAM_BYTES;
}

/* The n served by the compact layout, as bit sets (bit n set: compact; n ≤ 16), by
   [level: mc_level's values][dtype: 0 double, 1 float][0 grad/tangent, 1 jacobian]; every
   other served n runs one chain at a time. A measured choice per instruction set, by
   `bench_chain.py --layouts --level=LEVEL` (B = 10,000 chains and 64 MB of links, two
   threads, interleaved medians; bench/STACKS.md):
   - AVX-512 (Zen 4): the compact layout for float64 grad/tangent at n = 2, float32 at
     n = 2, 3; jacobian at n = 2, 4, 5, 7 (float64) and 2, 3, 4, 5, 7 (float32). Float32
     grad/tangent at n = 4 runs one chain at a time: from memory the compact layout took
     1.5-1.9x its time (one-chain / compact 0.53-0.65 in four runs, session 21), in cache
     0.72-0.97. The jacobian at n = 6, 8 (and float64 3) runs one chain at a time since
     session 22 (one-chain / compact in cache, 10,000 chains into out=: float64 n = 3
     0.82-1.07, mostly 0.88-0.93, 6 0.58-0.61, 8 0.29-0.46; float32 6 0.57-0.76, 8
     0.50-0.86; bench/STACKS.md, filed
     …-2026-12-08-0213_bench_chain.md);
   - AVX2 (Zen 3): float64 one chain at a time everywhere but jacobian n = 5, 7 (the
     compact float64 jacobian at n = 8 took 4.1x the one-chain time: 64 elements of a
     product in 16 vector registers); float32 compact for grad/tangent at n = 2, 4 and
     for jacobian at n = 2, 4, 5, 7 (one chain at a time ahead at n = 3, 6, 8 by
     0.6-0.9x);
   - the baseline (SSE2), on Zen 4 forced to it (no machine of its own): grad/tangent
     compact at float64 n = 2, float32 n = 2, 3, 4 (the AVX-512 choice before session 21,
     not measured since); jacobian compact but at n = 6, 8 in float64
     (one-chain / compact 0.80-0.88, 0.74-0.86) and n = 8 in float32 (0.90-0.94). */
static unsigned int mc_stk_compact_ns[MC_STK_LEVELS][2][2] = {
    /* baseline */ {{1u << 2, 0xbcu}, {0x1cu, 0xfcu}},
    /* AVX2 */     {{0u, (1u << 5) | (1u << 7)},
                    {(1u << 2) | (1u << 4), (1u << 2) | (1u << 4) | (1u << 5) | (1u << 7)}},
    /* AVX-512 */  {{1u << 2, 0xb4u}, {0x0cu, 0xbcu}},
};

#define MC_SCAT2_(a, b) a##_##b
#define MC_SCAT2(a, b) MC_SCAT2_(a, b)
#define MC_SCAT5_(a, b, c, d, e) a##_##b##_##c##_##d##_##e
#define MC_SCAT5(a, b, c, d, e) MC_SCAT5_(a, b, c, d, e)
#define MC_SFN(name) MC_SCAT5(mc_stk_##name, MC_STN, MC_SLVL, MC_SN, MC_SLN)

/* lane numbers of a vector of 2, 4, 8, 16 lanes (the masks of the compact transpose) */
#define MC_SIOTA_2 {0, 1}
#define MC_SIOTA_4 {0, 1, 2, 3}
#define MC_SIOTA_8 {0, 1, 2, 3, 4, 5, 6, 7}
#define MC_SIOTA_16 {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

/* the instances of each instruction set (MC_SLEVEL: its mc_level value; MC_SLANES_D: lanes
   of its vectors of double) */
#if MC_X86
#define MC_STGT MC_T_AVX512
#define MC_SLVL avx512
#define MC_SLEVEL 2
#define MC_SLANES_D 8
#define MC_SLANES_F 16
#include "mc_stack_level.h"
#define MC_STGT MC_T_AVX2
#define MC_SLVL avx2
#define MC_SLEVEL 1
#define MC_SLANES_D 4
#define MC_SLANES_F 8
#include "mc_stack_level.h"
#endif
#define MC_STGT MC_T_BASE
#define MC_SLVL base
#define MC_SLEVEL 0
#define MC_SLANES_D 2
#define MC_SLANES_F 4
#include "mc_stack_level.h"

/* The stacks' dispatch table, as the engine's (mc_kern.h): the run functions of one
   instruction set by name; mc_stk_kerns[level] lists them by mc_level's values (0 the
   baseline, 1 AVX2+FMA, 2 AVX-512), and a driver picks its table once per call
   (mc_stk_kern_now) before its parallel loop. */
typedef struct {
    /* chains c0 .. c1 - 1 of s, whole; 0 when n is not served (double, float) */
    int (*run_d)(const mc_stk *s, Py_ssize_t c0, Py_ssize_t c1);
    int (*run_f)(const mc_stk *s, Py_ssize_t c0, Py_ssize_t c1);
    int level;      /* the level its kernels were compiled for (mc_level's values) */
} mc_stk_kern;

static const mc_stk_kern mc_stk_kern_base = {mc_stk_run_d_base, mc_stk_run_f_base, 0};
#if MC_X86
static const mc_stk_kern mc_stk_kern_avx2 = {mc_stk_run_d_avx2, mc_stk_run_f_avx2, 1};
static const mc_stk_kern mc_stk_kern_avx512 = {mc_stk_run_d_avx512, mc_stk_run_f_avx512, 2};
#endif
static const mc_stk_kern *const mc_stk_kerns[] = {
    &mc_stk_kern_base,
#if MC_X86
    &mc_stk_kern_avx2, &mc_stk_kern_avx512,
#endif
};

/* the table of the level in use */
static const mc_stk_kern *mc_stk_kern_now(void) { return mc_stk_kerns[mc_level]; }

/* 1 when n is served (the same at every instruction set) */
static int mc_stk_served(Py_ssize_t n)
{
    switch (n) {
    case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 12: case 16: case 24:
    case 32:
        return 1;
    }
    return 0;
}

#endif /* MCFAST_STACK_H */

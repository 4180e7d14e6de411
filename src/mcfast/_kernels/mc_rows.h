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
#include "mc_codes.h"    /* MC_SRC_C, MC_SRC_F, MC_SRC_CSR */

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

/* rows= reads rows in random order: fetch the row MC_AHEAD on, each cache line its
 * nbytes touch (one prefetch a line: a 32-byte row inside a line takes one) */
#define MC_AHEAD 8
#if defined(__GNUC__) || defined(__clang__)
#define MC_PREFETCH_ROW(p, nbytes) do {                                              \
    uintptr_t a_ = (uintptr_t)(p) & ~(uintptr_t)63;                                  \
    const uintptr_t e_ = (uintptr_t)(p) + (uintptr_t)(nbytes);                        \
    for (; a_ < e_; a_ += 64) __builtin_prefetch((const void *)a_);                   \
} while (0)
/* and entry i of a target or weight array `a` (NULL: none; f32: stored in float32) */
#define MC_PREFETCH_AT(a, i, f32) do {                                               \
    if (a) __builtin_prefetch((const char *)(a) + (i) * ((f32) ? 4 : sizeof(*(a)))); \
} while (0)
/* the cache line holding p */
#define MC_PREFETCH_LINE(p) __builtin_prefetch((const void *)(p))
#else
#define MC_PREFETCH_ROW(p, nbytes) ((void)0)
#define MC_PREFETCH_AT(a, i, f32) ((void)0)
#define MC_PREFETCH_LINE(p) ((void)(p))
#endif
/* A minibatch's check of y[rows] (_engine.take_extremes, one entry a row) fetches the
 * entry MC_TAKE_AHEAD rows on: 4,096 fresh random rows of a 2e6 float64 y, Zen 4 VM,
 * 50 → 21 µs (16 on: 32 µs, 32 on: 23 µs); the rows themselves keep MC_AHEAD, or one
 * row group on (mc_group_body.h), as further on was slower there (a row is 4-5 lines:
 * 1.07-1.19x at 16-64 rows on, fresh rows, 2e6 × 32). */
#define MC_TAKE_AHEAD 64

/* storage row of source row i */
#define MC_ROW(s, i) ((s)->rows ? (s)->rows[i] : (i))
/* entry k of a CSR index array of either width */
#define MC_IDX(p, k, is64) ((is64) ? (Py_ssize_t)((const int64_t *)(p))[k]          \
                                   : (Py_ssize_t)((const int32_t *)(p))[k])

/* the instantiations: mc_rows_<dtype>_<level>_dot, _axpy, _sum, _mv, _rmv */
#define MC_R(x) MC_CAT3(mc_rows_, MC_SFX, x)
#define MC_BODY "mc_rows_body.h"
#include "mc_levels.h"
#undef MC_BODY
#undef MC_R

#endif /* MCFAST_ROWS_H */

/* mcfast: the engine's thresholds, defined once: the cut-offs that size a block and pick a path.
 *
 * _engine.pyx plans blocks with them and exports them to Python as THRESHOLDS (tests and
 * benchmarks aim at a path by these names, never by a copied number); mc_group.h and
 * mc_stage.h walk by them. Included by mc_group.h and mc_stage.h.
 */
#ifndef MCFAST_LIMITS_H
#define MCFAST_LIMITS_H

/* Blocks (_engine.pyx's plan_block). Bytes of X per block: C and CSR rows (the block is
 * read again from L1/L2 by the second product), F order (m column segments, long enough
 * to stream). Rows per block: one output per row (C and CSR rows, the fused row groups
 * of mc_group.h) at least MC_GROUP_ROWS and at most MC_BLOCK_ROWS; F order
 * MC_BLOCK_ROWS_F_MIN … MC_BLOCK_ROWS_F. */
#define MC_BLOCK_BYTES_C (32 * 1024)
#define MC_BLOCK_BYTES_F (128 * 1024)
#define MC_GROUP_ROWS 256
#define MC_BLOCK_ROWS 4096
#define MC_BLOCK_ROWS_F_MIN 256
#define MC_BLOCK_ROWS_F 16384

/* The row walks of the fused row groups (mc_group.h): rows of at most MC_NARROW_VECTORS
 * whole vectors (m < (MC_NARROW_VECTORS + 1) · lanes) keep G in registers; wider rows all
 * starting off a vector boundary are walked in aligned vectors up to MC_AL_MAX elements
 * (m + 2 · lanes ≤ MC_AL_MAX: three shifted copies, Θ, P and G, of this many elements live
 * on the stack), wider ones by the any-width walk. */
#define MC_NARROW_VECTORS 4
#define MC_AL_MAX 1024

/* F order (mc_group.h): bytes of X per sub-block (m column segments, read while the
 * previous sub-block's are in L1) and its most rows */
#ifndef MC_F_BYTES
#define MC_F_BYTES 16384
#endif
#define MC_F_ROWS 4096
/* F order: the sub-blocks ahead whose segments are prefetched while one is read */
#ifndef MC_F_AHEAD
#define MC_F_AHEAD 2
#endif

/* Staging (mc_stage.h): bytes of staged X per dense sub-block, C rows (stays in L1) and
 * F order (long column runs from memory, the staged rows in L2); CSR entries per
 * sub-block at least */
#define MC_STAGE_C_BYTES (16 * 1024)
#define MC_STAGE_F_BYTES (64 * 1024)
#define MC_STAGE_ENTRIES 4096

#endif /* MCFAST_LIMITS_H */

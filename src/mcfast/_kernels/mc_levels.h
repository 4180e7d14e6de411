/* mcfast: every (dtype, instruction set) instantiation of the engine's kernels, listed once.
 *
 * Re-included (no include guard) with MC_BODY naming a body header: the row products
 * (mc_rows_body.h), the loss hooks (mc_hook_body.h), the fused paths (mc_group_body.h),
 * the dispatch table's entries (mc_kern_body.h).
 * For each instantiation it defines, includes MC_BODY, and ends with mc_level_end.h
 * (the mixed twin, then every parameter undefined):
 *   MC_T        the element type: double or float;
 *   MC_IT       the integer type of a lane (masks): int64_t or int32_t;
 *   MC_TN       the dtype's suffix: d or f (x: mixed);
 *   MC_S        (mixed only) the element type X is stored in: float under double MC_T;
 *   MC_SFX      the names' suffix: <d|f>_<base|avx2|avx512> (mc_grp_d_avx2, ...);
 *   MC_W        vector bytes (16 at the SSE2 baseline, 32 AVX2, 64 AVX-512);
 *   MC_VL       lanes of T in a vector (MC_W / sizeof(MC_T), a literal);
 *   MC_TARGET   the instruction set's function attribute (mc_simd.h; the baseline's is
 *               MC_T_BASE_ENGINE: compiled for size where x86-64 dispatch exists);
 *   MC_XSFX     (double only) the names' suffix of its mixed twin: x_<level>;
 *   MC_SPEC     0 at the baseline (one row walk for every width: a third of the code),
 *               1 where speed matters (a function per row width), 2 also the packed
 *               narrow rows for gradients (float32 at AVX2: m = 4 was 5.6× the read
 *               floor through the row groups, 1.5× packed), 3 for Hessian products
 *               too (AVX-512; at float32 AVX2 they would cost ~70 KB of the 4.2 MB).
 * With MC_LEVELS_ONLY_D defined (mc_hess.h: the Hessian kernel needs only the double
 * hooks) the float instantiations are left out.
 * With MC_LEVELS_MIXED defined (mc_group.h alone) the list also has the mixed
 * instantiations x_<level>, right after each d_<level>: X stored in float32 (MC_S), the
 * arithmetic in double, at d_<level>'s widths and target.
 * The level in use is picked at run time (mc_simd.h's mc_level; MCFAST_SIMD forces one);
 * without x86-64 dispatch only the baseline exists.
 */

#define MC_T double
#define MC_TN d
#define MC_IT int64_t
#define MC_SFX d_base
#define MC_W 16
#define MC_VL 2
#define MC_TARGET MC_T_BASE_ENGINE
#define MC_SPEC 0
#define MC_XSFX x_base
#include MC_BODY
#include "mc_level_end.h"

#ifndef MC_LEVELS_ONLY_D
#define MC_T float
#define MC_TN f
#define MC_IT int32_t
#define MC_SFX f_base
#define MC_W 16
#define MC_VL 4
#define MC_TARGET MC_T_BASE_ENGINE
#define MC_SPEC 0
#include MC_BODY
#include "mc_level_end.h"
#endif

#if MC_X86

#define MC_T double
#define MC_TN d
#define MC_IT int64_t
#define MC_SFX d_avx2
#define MC_W 32
#define MC_VL 4
#define MC_TARGET MC_T_AVX2
#define MC_SPEC 1
#define MC_XSFX x_avx2
#include MC_BODY
#include "mc_level_end.h"

#ifndef MC_LEVELS_ONLY_D
#define MC_T float
#define MC_TN f
#define MC_IT int32_t
#define MC_SFX f_avx2
#define MC_W 32
#define MC_VL 8
#define MC_TARGET MC_T_AVX2
#define MC_SPEC 2
#include MC_BODY
#include "mc_level_end.h"
#endif

#define MC_T double
#define MC_TN d
#define MC_IT int64_t
#define MC_SFX d_avx512
#define MC_W 64
#define MC_VL 8
#define MC_TARGET MC_T_AVX512
#define MC_SPEC 3
#define MC_XSFX x_avx512
#include MC_BODY
#include "mc_level_end.h"

#ifndef MC_LEVELS_ONLY_D
#define MC_T float
#define MC_TN f
#define MC_IT int32_t
#define MC_SFX f_avx512
#define MC_W 64
#define MC_VL 16
#define MC_TARGET MC_T_AVX512
#define MC_SPEC 3
#include MC_BODY
#include "mc_level_end.h"
#endif
#endif /* MC_X86 */

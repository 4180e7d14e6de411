/* mcfast: the end of one instantiation in mc_levels.h: its mixed twin, then every parameter undefined.
 *
 * With MC_LEVELS_MIXED defined (mc_group.h alone) and MC_XSFX set (the double
 * instantiations), MC_BODY is included once more as x_<level>: X stored in float32
 * (MC_S), the arithmetic in double, at the same widths and target.
 */
#if defined(MC_LEVELS_MIXED) && defined(MC_XSFX)
#undef MC_TN
#undef MC_SFX
#define MC_S float
#define MC_TN x
#define MC_SFX MC_XSFX
#include MC_BODY
#undef MC_S
#endif
#undef MC_T
#undef MC_TN
#undef MC_IT
#undef MC_SFX
#undef MC_XSFX
#undef MC_W
#undef MC_VL
#undef MC_TARGET
#undef MC_SPEC

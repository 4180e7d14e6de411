/* mcfast: the lane type of the math and the losses: a vector of MC_VML doubles or floats.
 *
 * Re-included with MC_VM(x) (the names' prefix + x), MC_VML (lanes), MC_VMF (1: float
 * lanes, 0: double) and TARGET defined (by mc_group_body.h and mc_hook_body.h per
 * instantiation, each with a prefix of its own). Defines
 * the lane type and the few operations that depend on it; mc_vmath_body.h and
 * mc_loss_lanes.h are written on these alone, so that they serve the vector lanes of
 * either precision and one double (mc_lane_one.h) alike:
 *   MC_VM(_t)                the element type (double or float);
 *   MC_VM(_dv), MC_VM(_iv)   the lanes and their integer lanes of the same width;
 *   MC_VM(_sel)(m, a, b)     lane-wise m ? a : b (m from a comparison);
 *   MC_VM(_abs)(x)           |x|;
 *   MC_VM(_bits)(x), MC_VM(_dbl)(i)  the bits of x, and the element of bits i;
 *   MC_VM(_low)(i)           the integer k in the low mantissa bits of the bits i of
 *                            k + 1.5·2^(mantissa bits) (sign-extended).
 */
#if MC_VMF
typedef float MC_VM(_t);
typedef int32_t MC_VM(_it);
#define MC_VM_SIGN 0x7fffffff
#define MC_VM_LOW 10                     /* 32 − 22: the low 22 mantissa bits */
#else
typedef double MC_VM(_t);
typedef int64_t MC_VM(_it);
#define MC_VM_SIGN 0x7fffffffffffffffLL
#define MC_VM_LOW 32                     /* the low 32 bits */
#endif
typedef MC_VM(_t) MC_VM(_dv) __attribute__((vector_size(sizeof(MC_VM(_t)) * MC_VML)));
typedef MC_VM(_it) MC_VM(_iv) __attribute__((vector_size(sizeof(MC_VM(_t)) * MC_VML)));
TARGET MC_INLINE MC_VM(_dv) MC_VM(_sel)(MC_VM(_iv) m, MC_VM(_dv) a, MC_VM(_dv) b)
{
    return (MC_VM(_dv))(((MC_VM(_iv))a & m) | ((MC_VM(_iv))b & ~m));
}
TARGET MC_INLINE MC_VM(_dv) MC_VM(_abs)(MC_VM(_dv) x)
{
    return (MC_VM(_dv))((MC_VM(_iv))x & (MC_VM(_it))MC_VM_SIGN);
}
TARGET MC_INLINE MC_VM(_iv) MC_VM(_bits)(MC_VM(_dv) x) { return (MC_VM(_iv))x; }
TARGET MC_INLINE MC_VM(_dv) MC_VM(_dbl)(MC_VM(_iv) i) { return (MC_VM(_dv))i; }
TARGET MC_INLINE MC_VM(_iv) MC_VM(_low)(MC_VM(_iv) i)
{
    return (i << MC_VM_LOW) >> MC_VM_LOW;
}
#undef MC_VM_SIGN
#undef MC_VM_LOW

/* mcfast: the lane type of the math and the losses: a vector of MC_VML doubles.
 *
 * Re-included with MC_VM(x) (the names' prefix + x), MC_VML and TARGET defined (by
 * mc_group_body.h per instantiation). Defines the lane type and the few operations that
 * depend on it; mc_vmath_body.h and mc_loss_lanes.h are written on these alone, so that
 * they serve the vector lanes and one double (mc_lane_one.h) alike:
 *   MC_VM(_dv), MC_VM(_iv)   the double lanes and their int64 lanes;
 *   MC_VM(_sel)(m, a, b)     lane-wise m ? a : b (m from a comparison);
 *   MC_VM(_abs)(x)           |x|;
 *   MC_VM(_bits)(x), MC_VM(_dbl)(i)  the bits of x, and the double of bits i;
 *   MC_VM(_lo32)(i)          the low 32 bits of i, sign-extended.
 */
typedef double MC_VM(_dv) __attribute__((vector_size(8 * MC_VML)));
typedef int64_t MC_VM(_iv) __attribute__((vector_size(8 * MC_VML)));
TARGET MC_INLINE MC_VM(_dv) MC_VM(_sel)(MC_VM(_iv) m, MC_VM(_dv) a, MC_VM(_dv) b)
{
    return (MC_VM(_dv))(((MC_VM(_iv))a & m) | ((MC_VM(_iv))b & ~m));
}
TARGET MC_INLINE MC_VM(_dv) MC_VM(_abs)(MC_VM(_dv) x)
{
    return (MC_VM(_dv))((MC_VM(_iv))x & (int64_t)0x7fffffffffffffffLL);
}
TARGET MC_INLINE MC_VM(_iv) MC_VM(_bits)(MC_VM(_dv) x) { return (MC_VM(_iv))x; }
TARGET MC_INLINE MC_VM(_dv) MC_VM(_dbl)(MC_VM(_iv) i) { return (MC_VM(_dv))i; }
TARGET MC_INLINE MC_VM(_iv) MC_VM(_lo32)(MC_VM(_iv) i) { return (i << 32) >> 32; }

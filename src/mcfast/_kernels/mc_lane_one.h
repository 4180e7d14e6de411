/* mcfast: the lane type of the math and the losses: one double (the loss hooks, MC_VEC 0).
 *
 * Included by mc_hook_body.h where the compiler has no vector extensions (MC_VEC 0),
 * with MC_VM(x) and TARGET defined; the operations of mc_lane_vec.h on a plain double,
 * in portable C:
 *   MC_VM(_t) = MC_VM(_dv) = double, MC_VM(_iv) = int64_t, MC_VM(_sel), MC_VM(_abs),
 *   MC_VM(_bits), MC_VM(_dbl), MC_VM(_low); MC_VMF is 0 here (double lanes).
 */
#define MC_VMF 0
typedef double MC_VM(_t);
typedef double MC_VM(_dv);
typedef int64_t MC_VM(_iv);
TARGET MC_INLINE double MC_VM(_sel)(int64_t m, double a, double b) { return m ? a : b; }
TARGET MC_INLINE double MC_VM(_abs)(double x) { return fabs(x); }
TARGET MC_INLINE int64_t MC_VM(_bits)(double x)
{
    int64_t i;
    memcpy(&i, &x, 8);
    return i;
}
TARGET MC_INLINE double MC_VM(_dbl)(int64_t i)
{
    double x;
    memcpy(&x, &i, 8);
    return x;
}
TARGET MC_INLINE int64_t MC_VM(_low)(int64_t i) { return (int64_t)(int32_t)i; }

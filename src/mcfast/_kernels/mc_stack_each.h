/* mcfast: the stack instances of one element type × instruction set, and their switch on n.
 *
 * Included by mc_stack.h with MC_ST, MC_STN, MC_SLANES, MC_STGT and MC_SLVL defined:
 * instances for every n of MC_STK_SIZES in the one-chain layout (MC_SL = 1) and, for
 * n ≤ 16, in the compact layout (MC_SL = MC_SLANES chains across a vector).
 */

#include "mc_stack_read.h"

#define MC_SIOTA MC_SCAT2(MC_SIOTA, MC_SLANES)
#define MC_SL 1
#define MC_SLN s
#include "mc_stack_sizes.h"
#undef MC_SL
#undef MC_SLN
#define MC_SL MC_SLANES
#define MC_SLN c
#include "mc_stack_sizes.h"
#undef MC_SL
#undef MC_SLN
#undef MC_SIOTA

/* one n: its compact instance when n ≤ the measured limit, else its one-chain instance */
#define MC_STK_CASE(N, LN)                                                           \
    case N:                                                                          \
        if (jac)                                                                     \
            MC_SCAT5(mc_stk_jac, MC_STN, MC_SLVL, N, LN)(s, c0, c1);                \
        else                                                                         \
            MC_SCAT5(mc_stk_vec, MC_STN, MC_SLVL, N, LN)(s, c0, c1);                \
        return 1;
#define MC_STK_CASE2(N)                                                              \
    case N:                                                                          \
        if (compact) {                                                               \
            if (jac) MC_SCAT5(mc_stk_jac, MC_STN, MC_SLVL, N, c)(s, c0, c1);        \
            else MC_SCAT5(mc_stk_vec, MC_STN, MC_SLVL, N, c)(s, c0, c1);            \
            return 1;                                                                \
        }                                                                            \
        if (jac) MC_SCAT5(mc_stk_jac, MC_STN, MC_SLVL, N, s)(s, c0, c1);            \
        else MC_SCAT5(mc_stk_vec, MC_STN, MC_SLVL, N, s)(s, c0, c1);                \
        return 1;

MC_STGT static int MC_SCAT2(MC_SCAT2(mc_stk_run, MC_STN), MC_SLVL)(const mc_stk *s,
                                                                    Py_ssize_t c0,
                                                                    Py_ssize_t c1)
{
    const int jac = MC_STK_IS_JAC(s->mode);
    if (s->mode == MC_STK_READ) {
        MC_SCAT2(MC_SCAT2(mc_stk_read, MC_STN), MC_SLVL)(s, c0, c1);
        return 1;
    }
    const int compact = s->n <= 16
        && (mc_stk_compact_ns[MC_SLEVEL][sizeof(MC_ST) == 4][jac] >> s->n) & 1u;
    switch (s->n) {
    MC_STK_CASE2(2) MC_STK_CASE2(3) MC_STK_CASE2(4) MC_STK_CASE2(5) MC_STK_CASE2(6)
    MC_STK_CASE2(7) MC_STK_CASE2(8) MC_STK_CASE2(12) MC_STK_CASE2(16)
    MC_STK_CASE(24, s) MC_STK_CASE(32, s)
    }
    return 0;
}

#undef MC_STK_CASE
#undef MC_STK_CASE2

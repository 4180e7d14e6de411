/* mcfast: the stack instances of one instruction set, for double and float.
 *
 * MC_SDOUBLE: the element type is double (1) or float (0).
 * Included by mc_stack.h with MC_STGT, MC_SLVL, MC_SLEVEL, MC_SLANES_D and MC_SLANES_F
 * defined (it undefines them after).
 */

#include "mc_stack_stream.h"

#define MC_ST double
#define MC_STI long long
#define MC_STN d
#define MC_SDOUBLE 1
#define MC_SLANES MC_SLANES_D
#include "mc_stack_each.h"
#undef MC_ST
#undef MC_STI
#undef MC_STN
#undef MC_SDOUBLE
#undef MC_SLANES

#define MC_ST float
#define MC_STI int
#define MC_STN f
#define MC_SDOUBLE 0
#define MC_SLANES MC_SLANES_F
#include "mc_stack_each.h"
#undef MC_ST
#undef MC_STI
#undef MC_STN
#undef MC_SDOUBLE
#undef MC_SLANES

#undef MC_STGT
#undef MC_SLVL
#undef MC_SLEVEL
#undef MC_SLANES_D
#undef MC_SLANES_F

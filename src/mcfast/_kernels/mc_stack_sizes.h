/* mcfast: one stack instance per served n (MC_STK sizes) for the layout MC_SL the includer set.
 *
 * n ≤ 16 in both layouts; 24 and 32 one chain at a time only (mc_stack_each.h).
 */

#define MC_SN 2
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 3
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 4
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 5
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 6
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 7
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 8
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 12
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 16
#include "mc_stack_inl.h"
#undef MC_SN
#if MC_SL == 1
#define MC_SN 24
#include "mc_stack_inl.h"
#undef MC_SN
#define MC_SN 32
#include "mc_stack_inl.h"
#undef MC_SN
#endif

/* mcfast: the named functions of one loss kind and mode, for one instantiation.
 *
 * Re-included by mc_group_body.h once per loss kind MC_KIND and mode MC_HESS (suffix
 * MC_KS: sq0, sq1, lg0, ...), which it undefines after. Each function is noinline, so
 * that every loop gets the whole register file; each is the generic body of
 * mc_group_body.h with the kind, the mode and the row walk as constants:
 *   _nx, _rw        row groups of any width; rows= (random rows);
 *   _na             wide rows all starting h lanes past a vector boundary;
 *   _n0 … _n4 (+c)  rows of NCC whole vectors (mc_group_narrow.h); mixed: _n8 too;
 *   _f_             F order;
 *   _p_ (+_1 … _8)  packed narrow rows (mc_group_pwidth.h).
 */
#define MC_GK(x) MC_G(MC_CAT3(_, MC_KS, x))

/* row groups of any width (NCC = −1), contiguous rows and rows= */
TARGET __attribute__((noinline)) static double MC_GK(_nx)(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    return MC_G(_gloop)(p, i0, nb, g, MC_KIND, MC_HESS, 0, -1, 0, 0);
}
TARGET __attribute__((noinline)) static double MC_GK(_rw)(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    return MC_G(_gloop)(p, i0, nb, g, MC_KIND, MC_HESS, 1, -1, 0, 0);
}
/* wide rows, each starting the same number of lanes past a vector boundary (NumPy's
 * large arrays start 16 bytes past a 64-byte line), walked in aligned vectors where the
 * instantiation specialises, else the any-width one */
TARGET __attribute__((noinline)) static double MC_GK(_na)(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    return MC_G(_SPEC) ? MC_G(_gloop)(p, i0, nb, g, MC_KIND, MC_HESS, 0, -1, 0, 1)
                       : MC_GK(_nx)(p, i0, nb, g);
}
/* rows of NCC = 0 … 4 whole vectors */
#define MC_NCC 0
#include "mc_group_narrow.h"
#define MC_NCC 1
#include "mc_group_narrow.h"
#define MC_NCC 2
#include "mc_group_narrow.h"
#define MC_NCC 3
#include "mc_group_narrow.h"
#define MC_NCC 4
#include "mc_group_narrow.h"
#if MC_MIXED     /* and 8: m = 32 under AVX2, where float32's rows are 4 vectors */
#define MC_NCC 8
#include "mc_group_narrow.h"
#endif

#if !MC_MIXED   /* F order and packed rows: X in T only (mc_group_body.h) */
/* the F-order function */
TARGET __attribute__((noinline)) static double MC_G(MC_CAT(_f_, MC_KS))(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    return MC_G(_floop)(p, i0, nb, g, MC_KIND, MC_HESS);
}

/* the packed narrow-row function (gradients where rows are packed: a loop per width
 * m = 1, 2, 4, 8 known at compile time, so the tree and the row loops unroll and the
 * partial sums stay in registers; MC_PWIDTH_OK: the instantiations that have such a
 * loop). Hessian products take the loop of any width. A gradient's m is always one of
 * the widths (the entry packs m a power of two, 2m ≤ VL), so it has no loop of any
 * width (≈ 200 KB of code that never ran): a width without its loop, were there one,
 * would take the narrow walk of m < VL (n0), as at the levels without packed rows. */
#define MC_PWIDTH_OK(MW) (MC_G(_PACK) && !(MC_HESS) && 2 * (MW) <= MC_G(_VL))
#define MC_GP(x) MC_G(MC_CAT3(_p_, MC_KS, x))
#define MC_MW 1
#include "mc_group_pwidth.h"
#define MC_MW 2
#include "mc_group_pwidth.h"
#define MC_MW 4
#include "mc_group_pwidth.h"
#define MC_MW 8
#include "mc_group_pwidth.h"
TARGET __attribute__((noinline)) static double MC_GP()(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    switch (p->src.m) {
    case 1: if (MC_PWIDTH_OK(1)) return MC_GP(_1)(p, i0, nb, g);
            break;
    case 2: if (MC_PWIDTH_OK(2)) return MC_GP(_2)(p, i0, nb, g);
            break;
    case 4: if (MC_PWIDTH_OK(4)) return MC_GP(_4)(p, i0, nb, g);
            break;
    case 8: if (MC_PWIDTH_OK(8)) return MC_GP(_8)(p, i0, nb, g);
            break;
    }
    return MC_HESS ? MC_G(_ploop)(p, i0, nb, g, MC_KIND, MC_HESS, 0)
                   : MC_GK(_n0)(p, i0, nb, g);
}
#undef MC_GP
#undef MC_PWIDTH_OK
#endif

#undef MC_GK
#undef MC_KIND
#undef MC_HESS
#undef MC_KS

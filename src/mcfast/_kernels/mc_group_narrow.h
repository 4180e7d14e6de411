/* mcfast: the row-group functions of rows of MC_NCC whole vectors, for one loss and mode.
 *
 * Re-included by mc_group_kind.h with MC_NCC = 0 … 4 (and 8 for the mixed
 * instantiations; undefined after). A function of its own for gradients where the
 * instantiation specialises (MC_SPEC 1: the vector levels that matter for speed), else
 * the any-width one (the SSE2 baseline, Hessian products: a third of the code; the
 * mixed instantiations' strided rows too). Packed rows of exactly NCC chunks
 * (ld = m = NCC·VL, the common C-ordered X) have one more (…c), Hessian products
 * included, whose row offsets are
 * constants: one pointer walks the group, where a stride known only at run time made the
 * compiler keep a pointer per row (spilled to the stack, 2× the work a row).
 */
TARGET __attribute__((noinline)) static double MC_GK(MC_CAT3(_n, MC_NCC, c))(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    return MC_G(_gloop)(p, i0, nb, g, MC_KIND, MC_HESS, 0, MC_NCC, MC_NCC * MC_G(_VL), 0);
}
TARGET __attribute__((noinline)) static double MC_GK(MC_CAT(_n, MC_NCC))(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    if (!MC_G(_SPEC)) return MC_GK(_nx)(p, i0, nb, g);
    if (MC_NCC > 0 && p->src.ld == MC_NCC * MC_G(_VL) && p->src.m == MC_NCC * MC_G(_VL))
        return MC_GK(MC_CAT3(_n, MC_NCC, c))(p, i0, nb, g);
    if (MC_HESS || MC_MIXED) return MC_GK(_nx)(p, i0, nb, g);
    return MC_G(_gloop)(p, i0, nb, g, MC_KIND, MC_HESS, 0, MC_NCC, 0, 0);
}
#undef MC_NCC

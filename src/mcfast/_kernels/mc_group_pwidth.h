/* mcfast: the packed narrow-row function of rows of exactly MC_MW entries.
 *
 * Re-included by mc_group_kind.h with MC_MW = 1, 2, 4, 8 (undefined after); called by
 * the packed entry only where MC_PWIDTH_OK(MC_MW) holds; elsewhere no code.
 */
TARGET __attribute__((noinline)) static double MC_GP(MC_CAT(_, MC_MW))(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g)
{
    return MC_PWIDTH_OK(MC_MW) ? MC_G(_ploop)(p, i0, nb, g, MC_KIND, MC_HESS, MC_MW) : 0;
}
#undef MC_MW

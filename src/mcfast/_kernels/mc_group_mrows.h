/* mcfast: the multinomial function of one mode MC_HESS and width MC_NV (suffix MC_MS).
 *
 * Re-included by mc_group_body.h (which undefines the three after); noinline, so that
 * the loop gets the whole register file.
 */
TARGET __attribute__((noinline)) static double MC_G(MC_CAT(_m_, MC_MS))(
        const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, T *g, T *ex)
{
    return MC_G(_mloop)(p, i0, nb, g, ex, MC_NV, MC_HESS);
}
#undef MC_HESS
#undef MC_NV
#undef MC_MS

/* mcfast: the dense staging loop of one (stored, staged) element type pair (mc_stage.h).
 *
 * Re-included by mc_stage.h with MC_SS (the element type X is stored in), MC_SD (the
 * type it is staged as) and MC_SN (the names' suffix) defined, which it undefines after;
 * no include guard. Defines mc_stage_dense_<MC_SN>(s, i0, nb, xb): dense rows
 * i0 … i0 + nb − 1 of s into xb (C order, ld = m). F order: tiles of MC_STAGE_TILE rows,
 * each column's run of the tile read once, written across rows.
 */
MC_INLINE void MC_CAT(mc_stage_dense_, MC_SN)(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,
                                              void *xb)
{
    const MC_SS *x = (const MC_SS *)s->x;
    MC_SD *MC_RESTRICT b = (MC_SD *)xb;
    const Py_ssize_t m = s->m, ld = s->ld;
    const Py_ssize_t *rows = s->rows;
    Py_ssize_t i, j, t;
    if (s->kind == MC_SRC_C) {
        for (i = 0; i < nb; i++) {
            const MC_SS *MC_RESTRICT xi = x + (rows ? rows[i0 + i] : i0 + i) * ld;
            MC_SD *MC_RESTRICT bi = b + i * m;
            for (j = 0; j < m; j++) bi[j] = (MC_SD)xi[j];
        }
    } else if (rows) {
        for (i = 0; i < nb; i++) {
            const MC_SS *xi = x + rows[i0 + i];
            MC_SD *MC_RESTRICT bi = b + i * m;
            for (j = 0; j < m; j++) bi[j] = (MC_SD)xi[j * ld];
        }
    } else {
        const Py_ssize_t nt = nb - nb % MC_STAGE_TILE;
        for (i = 0; i < nt; i += MC_STAGE_TILE)
            for (j = 0; j < m; j++) {
                const MC_SS *MC_RESTRICT c = x + j * ld + i0 + i;
                MC_SD *MC_RESTRICT bj = b + i * m + j;
                for (t = 0; t < MC_STAGE_TILE; t++) bj[t * m] = (MC_SD)c[t];
            }
        for (j = 0; j < m; j++)
            for (i = nt; i < nb; i++) b[i * m + j] = (MC_SD)x[j * ld + i0 + i];
    }
}
#undef MC_SS
#undef MC_SD
#undef MC_SN

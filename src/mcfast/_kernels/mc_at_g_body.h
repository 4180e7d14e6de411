/* mcfast: the register tiles of out = Aᵀ G for one instantiation of mc_levels.h.
 *
 * Re-included by mc_at_g.h (through mc_levels.h, no include guard) with MC_T, MC_SFX and
 * MC_TARGET defined: defines mc_at_g_<sfx> (mc_at_g_d_avx2, ...), compiled for MC_ATG_TARGET,
 * and its inlined tile mc_at_g_tile_<sfx>. Plain C: the compiler vectorises the unrolled
 * tile at the instantiation's width.
 */
/* the baseline is compiled for speed here (the engine's is for size, MC_T_BASE_ENGINE:
   this kernel is small; for size, forced SSE2 ran 2-5x slower) */
#if MC_W == 16
#define MC_ATG_TARGET MC_T_BASE
#else
#define MC_ATG_TARGET MC_TARGET
#endif

/* out[i:i+4, j:j+w] = (Aᵀ G)[i:i+4, j:j+w]: 4 × w sums (w = 16, 8 or 4, a constant once
   inlined, so both loops unroll and the sums stay in registers) over the p rows of A and G */
MC_ATG_TARGET MC_INLINE void MC_CAT(mc_at_g_tile_, MC_SFX)(Py_ssize_t p, Py_ssize_t m,
        Py_ssize_t n, const MC_T* MC_RESTRICT a, const MC_T* MC_RESTRICT g,
        MC_T* MC_RESTRICT out, Py_ssize_t i, Py_ssize_t j, const int w)
{
    MC_T acc[MC_ATG_R][MC_ATG_C];
    for (int r = 0; r < MC_ATG_R; r++)
        for (int c = 0; c < w; c++)
            acc[r][c] = 0;
    for (Py_ssize_t k = 0; k < p; k++) {
        const MC_T* gk = g + k * n + j;
        const MC_T* ak = a + k * m + i;
#pragma GCC unroll 4
        for (int r = 0; r < MC_ATG_R; r++) {
            const MC_T ar = ak[r];
#pragma GCC unroll 16
            for (int c = 0; c < w; c++)
                acc[r][c] += ar * gk[c];
        }
    }
    for (int r = 0; r < MC_ATG_R; r++)
        for (int c = 0; c < w; c++)
            out[(i + r) * n + j + c] = acc[r][c];
}

/* out[:m4, :n4] = (Aᵀ G)[:m4, :n4] for row-major A (p × m), G (p × n), out (m × n), none
   overlapping; m4 and n4 multiples of 4 (the caller fills the last rows and columns) */
MC_ATG_TARGET static void MC_CAT(mc_at_g_, MC_SFX)(Py_ssize_t p, Py_ssize_t m, Py_ssize_t n,
        Py_ssize_t m4, Py_ssize_t n4, const MC_T* a, const MC_T* g, MC_T* out)
{
    Py_ssize_t j = 0;
    for (; j + MC_ATG_C <= n4; j += MC_ATG_C)
        for (Py_ssize_t i = 0; i < m4; i += MC_ATG_R)
            MC_CAT(mc_at_g_tile_, MC_SFX)(p, m, n, a, g, out, i, j, MC_ATG_C);
    if (j + 8 <= n4) {
        for (Py_ssize_t i = 0; i < m4; i += MC_ATG_R)
            MC_CAT(mc_at_g_tile_, MC_SFX)(p, m, n, a, g, out, i, j, 8);
        j += 8;
    }
    if (j + 4 <= n4)
        for (Py_ssize_t i = 0; i < m4; i += MC_ATG_R)
            MC_CAT(mc_at_g_tile_, MC_SFX)(p, m, n, a, g, out, i, j, 4);
}

#undef MC_ATG_TARGET

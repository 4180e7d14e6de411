/* mcfast: the stacks' read floor (MC_STK_READ) of one element type × instruction set.
 *
 * Included by mc_stack_each.h with MC_ST, MC_STN, MC_SLANES, MC_STGT and MC_SLVL defined.
 * Not a rule: the floor bench_chain.py --stacks times grad_chain and tangent_chain against
 * (/place): the bytes they must move, where the caller keeps them (each link its own
 * array, the vectors, the output), over the driver's chunks and threads. Chains go in
 * blocks of MC_STK_READ_BLOCK (block b: chains b * MC_STK_READ_BLOCK onwards, whatever the
 * chunks); a block's part of each link, one contiguous run, is read in vectors of
 * MC_SLANES lanes into four accumulators (a shared link once, the rest of a run element
 * by element), and every chain c of the block gets out[c] = vec[c] + the sum of all those
 * elements (the block's vectors and outputs, each one run, in vectors too).
 */

MC_STGT static void MC_SCAT2(MC_SCAT2(mc_stk_read, MC_STN), MC_SLVL)(const mc_stk *s,
                                                                    Py_ssize_t c0,
                                                                    Py_ssize_t c1)
{
    typedef MC_ST vec_t __attribute__((vector_size(MC_SLANES * sizeof(MC_ST))));
    const Py_ssize_t n = s->n;
    MC_ST *out = (MC_ST *)s->out;
    const MC_ST *vec = (const MC_ST *)s->vec;
    for (Py_ssize_t b0 = c0; b0 < c1; b0 += MC_STK_READ_BLOCK) {
        const Py_ssize_t nb = c1 - b0 < MC_STK_READ_BLOCK ? c1 - b0 : MC_STK_READ_BLOCK;
        vec_t acc[4] = {{0}, {0}, {0}, {0}};
        MC_ST total = 0, lanes[MC_SLANES];
        for (Py_ssize_t k = 0; k < s->nlinks; k++) {
            const Py_ssize_t e = s->diag[k] ? n : n * n;
            const MC_ST *p = (const MC_ST *)s->link[k] + b0 * s->bstride[k];
            const Py_ssize_t len = s->bstride[k] ? nb * e : e;
            Py_ssize_t j = 0;
            for (; j + 4 * MC_SLANES <= len; j += 4 * MC_SLANES)
                for (int q = 0; q < 4; q++)
                    acc[q] += MC_LOAD(vec_t, p + j + q * MC_SLANES);
            for (; j + MC_SLANES <= len; j += MC_SLANES)
                acc[0] += MC_LOAD(vec_t, p + j);
            for (; j < len; j++)
                total += p[j];
        }
        acc[0] += acc[1] + acc[2] + acc[3];
        memcpy(lanes, &acc[0], sizeof lanes);
        for (int q = 0; q < MC_SLANES; q++)
            total += lanes[q];
        if (s->vstride) {               /* the block's vectors and outputs: one run each */
            const MC_ST *x = vec + b0 * n;
            MC_ST *o = out + b0 * n;
            const vec_t t = total - (vec_t){0};
            Py_ssize_t j = 0;
            for (; j + MC_SLANES <= nb * n; j += MC_SLANES) {
                vec_t r = MC_LOAD(vec_t, x + j) + t;
                MC_STORE(o + j, r);
            }
            for (; j < nb * n; j++)
                o[j] = x[j] + total;
        } else {
            for (Py_ssize_t c = b0; c < b0 + nb; c++)
                for (Py_ssize_t j = 0; j < n; j++)
                    out[c * n + j] = vec[j] + total;
        }
    }
}

/* mcfast: the kernels of one stack instance — element type MC_ST, matrix size MC_SN, lanes MC_SL.
 *
 * Re-included by mc_stack.h once per (type, instruction set, n, layout); the includer
 * defines MC_ST, MC_SN, MC_SL, MC_STGT (the target attribute) and MC_SFN(name) (the
 * instance's function names), and this file undefines nothing.
 *
 * Layout. A compact array holds MC_SL chains across the lanes of a vector: element e of
 * chain l sits at [e * MC_SL + l] (MKL's "compact" format). MC_SL = 1 is the plain
 * row-major matrix of one chain, so one set of loops serves both layouts: with MC_SL
 * lanes the innermost loop runs over the chains, with MC_SL = 1 over a row.
 * Compact instances copy each link of a block of chains into a per-thread buffer on the
 * stack (L1-sized); MC_SL = 1 instances read the links in place.
 */

#define MC_SNN (MC_SN * MC_SN)

/* y = Aᵀ x (grad) for compact A (MC_SNN) and x, y (MC_SN) */
MC_STGT static inline void MC_SFN(grad)(const MC_ST *MC_RESTRICT a,
                                        const MC_ST *MC_RESTRICT x, MC_ST *MC_RESTRICT y)
{
    MC_ST acc[MC_SN * MC_SL];
    for (int j = 0; j < MC_SN * MC_SL; j++)
        acc[j] = a[j] * x[j % MC_SL];
    for (int i = 1; i < MC_SN; i++)
        for (int j = 0; j < MC_SN; j++)
            for (int l = 0; l < MC_SL; l++)
                acc[j * MC_SL + l] += a[(i * MC_SN + j) * MC_SL + l] * x[i * MC_SL + l];
    memcpy(y, acc, sizeof acc);
}

/* y = A x (tangent) for compact A and x, y */
MC_STGT static inline void MC_SFN(tan)(const MC_ST *MC_RESTRICT a,
                                       const MC_ST *MC_RESTRICT x, MC_ST *MC_RESTRICT y)
{
#if MC_SL > 1 || MC_SN % 4
    for (int i = 0; i < MC_SN; i++) {
        MC_ST acc[MC_SL];
        for (int l = 0; l < MC_SL; l++)
            acc[l] = a[i * MC_SN * MC_SL + l] * x[l];
        for (int j = 1; j < MC_SN; j++)
            for (int l = 0; l < MC_SL; l++)
                acc[l] += a[(i * MC_SN + j) * MC_SL + l] * x[j * MC_SL + l];
        for (int l = 0; l < MC_SL; l++)
            y[i * MC_SL + l] = acc[l];
    }
#else
    /* one chain: each row as 4 partial sums over j ≡ q (mod 4), then (s0 + s1) + (s2 + s3) */
    for (int i = 0; i < MC_SN; i++) {
        MC_ST acc[4];
        for (int q = 0; q < 4; q++)
            acc[q] = a[i * MC_SN + q] * x[q];
        for (int j = 4; j < MC_SN; j += 4)
            for (int q = 0; q < 4; q++)
                acc[q] += a[i * MC_SN + j + q] * x[j + q];
        y[i] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
#endif
}

/* c = a b for compact matrices, row by row: a row of c stays in registers */
MC_STGT static inline void MC_SFN(mm)(const MC_ST *MC_RESTRICT a,
                                      const MC_ST *MC_RESTRICT b, MC_ST *MC_RESTRICT c)
{
    for (int i = 0; i < MC_SN; i++) {
        MC_ST acc[MC_SN * MC_SL];
        const MC_ST *ai = a + i * MC_SN * MC_SL;
        for (int j = 0; j < MC_SN; j++)
            for (int l = 0; l < MC_SL; l++)
                acc[j * MC_SL + l] = ai[l] * b[j * MC_SL + l];
        for (int k = 1; k < MC_SN; k++)
            for (int j = 0; j < MC_SN; j++)
                for (int l = 0; l < MC_SL; l++)
                    acc[j * MC_SL + l] += ai[k * MC_SL + l] * b[(k * MC_SN + j) * MC_SL + l];
        memcpy(c + i * MC_SN * MC_SL, acc, sizeof acc);
    }
}

/* c = diag(d) b (left) or b diag(d) (right) for compact b, d */
MC_STGT static inline void MC_SFN(scale)(int left, const MC_ST *MC_RESTRICT d,
                                         const MC_ST *MC_RESTRICT b, MC_ST *MC_RESTRICT c)
{
    for (int i = 0; i < MC_SN; i++)
        for (int j = 0; j < MC_SN; j++)
            for (int l = 0; l < MC_SL; l++)
                c[(i * MC_SN + j) * MC_SL + l] = b[(i * MC_SN + j) * MC_SL + l]
                    * d[(left ? i : j) * MC_SL + l];
}

/* the compact array of `size` elements per chain of chains c .. c + nc - 1 of an operand
 * (chain c at p + c * bs); lanes past nc are zero. With MC_SL = 1: p itself, no copy. */
MC_STGT static inline const MC_ST *MC_SFN(gather)(const MC_ST *p, Py_ssize_t bs,
                                                  Py_ssize_t c, Py_ssize_t nc, int size,
                                                  MC_ST *MC_RESTRICT buf)
{
#if MC_SL == 1
    (void)nc; (void)size; (void)buf;
    return p + c * bs;
#else
    if (nc == MC_SL && bs == size) {
        /* a contiguous block of MC_SL chains: a (MC_SL × size) → (size × MC_SL) transpose */
        const MC_ST *src = p + c * bs;
        for (int e = 0; e < size; e++)
            for (int l = 0; l < MC_SL; l++)
                buf[e * MC_SL + l] = src[l * size + e];
        return buf;
    }
    for (int l = 0; l < MC_SL; l++) {
        const MC_ST *src = p + (c + (l < nc ? l : 0)) * bs;
        for (int e = 0; e < size; e++)
            buf[e * MC_SL + l] = l < nc ? src[e] : 0;
    }
    return buf;
#endif
}

/* out rows of chains c .. c + nc - 1 from a compact array */
MC_STGT static inline void MC_SFN(scatter)(const MC_ST *MC_RESTRICT buf, Py_ssize_t nc,
                                           int size, MC_ST *MC_RESTRICT out)
{
    for (Py_ssize_t l = 0; l < nc; l++)
        for (int e = 0; e < size; e++)
            out[l * size + e] = buf[e * MC_SL + l];
}

/* grad_chain / tangent_chain of chains c0 .. c1 - 1 (c0 a multiple of MC_SL) */
MC_STGT static void MC_SFN(vec)(const mc_stk *s, Py_ssize_t c0, Py_ssize_t c1)
{
    MC_ST xa[2][MC_SN * MC_SL] __attribute__((aligned(64)));
    MC_ST ta[MC_SNN * MC_SL] __attribute__((aligned(64)));
    MC_ST *out = (MC_ST *)s->out;
    for (Py_ssize_t c = c0; c < c1; c += MC_SL) {
        Py_ssize_t nc = c1 - c < MC_SL ? c1 - c : MC_SL;
        const MC_ST *x = MC_SFN(gather)((const MC_ST *)s->vec, s->vstride, c, nc, MC_SN,
                                        xa[0]);
        int turn = 1;
        for (Py_ssize_t step = 0; step < s->nlinks; step++) {
            Py_ssize_t k = s->mode == MC_STK_GRAD ? s->nlinks - 1 - step : step;
            MC_ST *y = (MC_SL == 1 && step == s->nlinks - 1) ? out + c * MC_SN : xa[turn];
            if (s->diag[k]) {
                const MC_ST *d = MC_SFN(gather)((const MC_ST *)s->link[k], s->bstride[k], c,
                                                nc, MC_SN, ta);
                for (int e = 0; e < MC_SN * MC_SL; e++)
                    y[e] = d[e] * x[e];
            } else {
                const MC_ST *a = MC_SFN(gather)((const MC_ST *)s->link[k], s->bstride[k], c,
                                                nc, MC_SNN, ta);
                if (s->mode == MC_STK_GRAD)
                    MC_SFN(grad)(a, x, y);
                else
                    MC_SFN(tan)(a, x, y);
            }
            x = y;
            turn = 1 - turn;
        }
        if (MC_SL > 1)
            MC_SFN(scatter)(x, nc, MC_SN, out + c * MC_SN);
    }
}

/* jacobian_chain of chains c0 .. c1 - 1: forward Jn(⋯(J2 J1)) or reverse ((Jn Jn-1)⋯)J1;
 * at least one link is dense */
MC_STGT static void MC_SFN(jac)(const mc_stk *s, Py_ssize_t c0, Py_ssize_t c1)
{
    MC_ST pa[2][MC_SNN * MC_SL] __attribute__((aligned(64)));
    MC_ST ta[2][MC_SNN * MC_SL] __attribute__((aligned(64)));
    MC_ST *out = (MC_ST *)s->out;
    const int fwd = s->mode == MC_STK_JAC;
    const Py_ssize_t n = s->nlinks;
    for (Py_ssize_t c = c0; c < c1; c += MC_SL) {
        Py_ssize_t nc = c1 - c < MC_SL ? c1 - c : MC_SL;
        Py_ssize_t k0 = fwd ? 0 : n - 1;
        int pdiag = s->diag[k0], turn = 0;
        const MC_ST *p = MC_SFN(gather)((const MC_ST *)s->link[k0], s->bstride[k0], c, nc,
                                        pdiag ? MC_SN : MC_SNN, ta[0]);
        for (Py_ssize_t step = 1; step < n; step++) {
            Py_ssize_t k = fwd ? step : n - 1 - step;
            int adiag = s->diag[k];
            const MC_ST *a = MC_SFN(gather)((const MC_ST *)s->link[k], s->bstride[k], c, nc,
                                            adiag ? MC_SN : MC_SNN, ta[1]);
            int last = step == n - 1;
            MC_ST *y = (MC_SL == 1 && last) ? out + c * MC_SNN : pa[turn];
            if (pdiag && adiag) {       /* a Diagonal product so far */
                for (int e = 0; e < MC_SN * MC_SL; e++)
                    y[e] = a[e] * p[e];
            } else if (adiag) {
                MC_SFN(scale)(fwd, a, p, y);
            } else if (pdiag) {
                MC_SFN(scale)(!fwd, p, a, y);
            } else if (fwd) {
                MC_SFN(mm)(a, p, y);
            } else {
                MC_SFN(mm)(p, a, y);
            }
            pdiag = pdiag && adiag;
            p = y;
            turn = 1 - turn;
        }
        if (MC_SL > 1)
            MC_SFN(scatter)(p, nc, MC_SNN, out + c * MC_SNN);
        else if (n == 1)
            memcpy(out + c * MC_SNN, p, sizeof(MC_ST) * MC_SNN);
    }
}

#undef MC_SNN

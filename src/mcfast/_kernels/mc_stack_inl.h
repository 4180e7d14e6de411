/* mcfast: the kernels of one stack instance — element type MC_ST, matrix size MC_SN, layout MC_SL.
 *
 * Re-included by mc_stack_each.h once per (type, instruction set, n, layout); the includer
 * defines MC_ST, MC_SN, MC_SL, MC_SLANES (lanes of the instruction set's vectors),
 * MC_STGT (the target attribute) and MC_SFN(name) (the instance's names).
 *
 * Layouts. MC_SL > 1, compact: a vector holds element e of MC_SL chains (MKL's "compact"
 * format), so every product runs on whole vectors whatever n is; a block of chains is
 * transposed into that layout on the thread's stack (L1-sized) link by link, and the
 * result transposed back. MC_SL = 1, one chain at a time, read in place: rows as vectors
 * of MC_SRW lanes, the largest power of two ≤ MC_SLANES that divides n (the grad takes
 * its own widths: padded rows for n = 3, 5, 6, 7, 256-bit halves of wide AVX-512 rows).
 * Elements of the arrays the drivers pass around: MC_SE (a vector of MC_SL chains, or a
 * scalar).
 */

#define MC_SNN (MC_SN * MC_SN)

#if MC_SL > 1
/* ------------------------------------------------------------------ compact layout */
typedef MC_ST MC_SFN(v) __attribute__((vector_size(MC_SL * sizeof(MC_ST))));
#define MC_SE MC_SFN(v)

/* y = Aᵀ x (grad): y_j = Σ_i A_ij x_i */
MC_STGT static inline void MC_SFN(grad)(const MC_SE *MC_RESTRICT a,
                                        const MC_SE *MC_RESTRICT x, MC_SE *MC_RESTRICT y)
{
    MC_SE acc[MC_SN];
    for (int j = 0; j < MC_SN; j++)
        acc[j] = a[j] * x[0];
    for (int i = 1; i < MC_SN; i++)
        for (int j = 0; j < MC_SN; j++)
            acc[j] += a[i * MC_SN + j] * x[i];
    for (int j = 0; j < MC_SN; j++)
        y[j] = acc[j];
}

/* y = A x (tangent): y_i = Σ_j A_ij x_j */
MC_STGT static inline void MC_SFN(tan)(const MC_SE *MC_RESTRICT a,
                                       const MC_SE *MC_RESTRICT x, MC_SE *MC_RESTRICT y)
{
    for (int i = 0; i < MC_SN; i++) {
        MC_SE acc = a[i * MC_SN] * x[0];
        for (int j = 1; j < MC_SN; j++)
            acc += a[i * MC_SN + j] * x[j];
        y[i] = acc;
    }
}

/* c = a b, a row of c in registers (pf0, pf1: the one-chain layout's prefetch hints,
 * not used here: a block's links are gathered through the transpose) */
MC_STGT static inline void MC_SFN(mm)(const MC_SE *MC_RESTRICT a,
                                      const MC_SE *MC_RESTRICT b, MC_SE *MC_RESTRICT c,
                                      const MC_ST *pf0, const MC_ST *pf1)
{
    (void)pf0; (void)pf1;
    for (int i = 0; i < MC_SN; i++) {
        MC_SE acc[MC_SN];
        const MC_SE *ai = a + i * MC_SN;
        for (int j = 0; j < MC_SN; j++)
            acc[j] = ai[0] * b[j];
        for (int k = 1; k < MC_SN; k++)
            for (int j = 0; j < MC_SN; j++)
                acc[j] += ai[k] * b[k * MC_SN + j];
        for (int j = 0; j < MC_SN; j++)
            c[i * MC_SN + j] = acc[j];
    }
}

typedef MC_STI MC_SFN(m) __attribute__((vector_size(MC_SL * sizeof(MC_ST))));

/* transpose the MC_SL × MC_SL block x[row][lane] in registers: at each h the off-diagonal
 * h × h sub-blocks of every 2h × 2h block swap (log2 MC_SL two-source shuffles a row) */
MC_STGT static inline void MC_SFN(tr)(MC_SE *x)
{
#pragma GCC unroll 8
    for (int h = MC_SL / 2; h >= 1; h /= 2)
#pragma GCC unroll 16
        for (int r = 0; r < MC_SL; r++)
            if (!(r & h)) {
                /* lane m of the row pair: lo takes a[m] or b[m - h], hi b[m] or a[m + h] */
                const MC_SFN(m) io = MC_SIOTA, up = ((io & h) != 0) & (MC_SL - h);
                const MC_SFN(m) lo = io + up, hi = io + h + up;
                MC_SE a = x[r], b = x[r + h];
                x[r] = __builtin_shuffle(a, b, lo);
                x[r + h] = __builtin_shuffle(a, b, hi);
            }
}

/* Small operands (size < MC_SDEAL elements a chain, not a multiple of MC_SL) of a whole
 * block are dealt between the layouts in registers: the block is `size` vectors either
 * way, and each vector of the result is built from the vectors of the other layout that
 * hold its lanes, each permuted and blended in (the masks are constants once the loops
 * unroll). A permute and a blend, not one two-source shuffle into the running result:
 * GCC 12 at -O1 and above folds the chain of those wrongly (a lane kept from the start). */
#define MC_SDEAL 16

/* lane l of the result: element l * size + e of the `size` vectors v, laid end to end */
MC_STGT MC_INLINE MC_SE MC_SFN(deal)(const MC_SE *v, int size, int e)
{
    const MC_SFN(m) io = MC_SIOTA, f = io * size + e;
    MC_SE acc = v[0];
#pragma GCC unroll 16
    for (int j = 0; j < size; j++) {
        int l = j * MC_SL - e <= 0 ? 0 : (j * MC_SL - e + size - 1) / size;
        if (l >= MC_SL || l * size + e >= (j + 1) * MC_SL)
            continue;                   /* no lane of the result in v[j] */
        const MC_SFN(m) in = (f >= j * MC_SL) & (f < (j + 1) * MC_SL);
        const MC_SE got = __builtin_shuffle(v[j], f - j * MC_SL);
        acc = (MC_SE)(((MC_SFN(m))got & in) | ((MC_SFN(m))acc & ~in));
    }
    return acc;
}

/* the inverse: lanes j * MC_SL .. of the block laid end to end, from the compact b */
MC_STGT MC_INLINE MC_SE MC_SFN(undeal)(const MC_SE *b, int size, int j)
{
    const MC_SFN(m) io = MC_SIOTA, g = io + j * MC_SL;
    MC_SE acc = b[0];
#pragma GCC unroll 16
    for (int e = 0; e < size; e++) {
        const MC_SFN(m) in = (g % size) == e;
        const MC_SE got = __builtin_shuffle(b[e], g / size);
        acc = (MC_SE)(((MC_SFN(m))got & in) | ((MC_SFN(m))acc & ~in));
    }
    return acc;
}

/* the compact array of `size` elements per chain of chains c .. c + nc - 1 of an operand
 * (chain c at p + c * bs), in buf; lanes past nc are zero */
MC_STGT MC_INLINE const MC_SE *MC_SFN(gather)(const MC_ST *p, Py_ssize_t bs,
                                              Py_ssize_t c, Py_ssize_t nc, int size,
                                              MC_SE *MC_RESTRICT buf)
{
    MC_ST *b = (MC_ST *)buf;
    if (bs == size && nc == MC_SL && MC_SL >= 8 && MC_SL / 2 < size && size < MC_SL) {
        /* a chain's elements fill most of a vector of 8 or 16 lanes (in use: float32
           n = 3 links at AVX-512): a row of MC_SL elements from each chain's start (the
           last cut at the block's end, the others running into the next chain),
           transposed; only the rows kept are computed. Time against the deal below
           (float32 n = 3, Zen 4): in cache 0.74-0.81, from memory grad 0.88-0.95,
           tangent 0.82-1.16; the jacobian 0.59-0.90. The baseline's 4 lanes (vectors of
           3) took 0.91-1.11: they keep the deal */
        const MC_ST *src = p + c * bs;
        MC_SE x[MC_SL];
#pragma GCC unroll 16
        for (int l = 0; l < MC_SL - 1; l++)
            x[l] = MC_LOAD(MC_SE, src + l * size);
        x[MC_SL - 1] = (MC_SE){0};
        memcpy(&x[MC_SL - 1], src + (MC_SL - 1) * size, size * sizeof(MC_ST));
        MC_SFN(tr)(x);
#pragma GCC unroll 16
        for (int e = 0; e < size; e++)
            buf[e] = x[e];
        return buf;
    }
    if (bs == size && nc == MC_SL && size % MC_SL != 0 && size < MC_SDEAL) {
        MC_SE v[MC_SDEAL];
        const MC_ST *src = p + c * bs;
#pragma GCC unroll 16
        for (int j = 0; j < size; j++)
            v[j] = MC_LOAD(MC_SE, src + j * MC_SL);
#pragma GCC unroll 16
        for (int e = 0; e < size; e++)
            buf[e] = MC_SFN(deal)(v, size, e);
        return buf;
    }
    if (bs == size && nc == MC_SL && size % MC_SL == 0) {
        /* MC_SL chains one after the other: MC_SL × MC_SL blocks transposed in registers */
        const MC_ST *src = p + c * bs;
        for (int q = 0; q < size; q += MC_SL) {
            MC_SE x[MC_SL];
            for (int l = 0; l < MC_SL; l++)
                x[l] = MC_LOAD(MC_SE, src + l * size + q);
            MC_SFN(tr)(x);
            for (int l = 0; l < MC_SL; l++)
                buf[q + l] = x[l];
        }
        return buf;
    }
    if (bs == size && nc == MC_SL) {                /* a whole block, other sizes */
        const MC_ST *src = p + c * bs;
        for (int l = 0; l < MC_SL; l++)
            for (int e = 0; e < size; e++)
                b[e * MC_SL + l] = src[l * size + e];
        return buf;
    }
    if (bs == 0) {                                  /* shared by every chain */
        for (int e = 0; e < size; e++)
            buf[e] = p[e] - (MC_SE){0};
        return buf;
    }
    for (int l = 0; l < MC_SL; l++) {
        const MC_ST *src = p + (c + (l < nc ? l : 0)) * bs;
        for (int e = 0; e < size; e++)
            b[e * MC_SL + l] = l < nc ? src[e] : 0;
    }
    return buf;
}

/* the rows of chains c .. c + nc - 1 (at out) from a compact array */
MC_STGT MC_INLINE void MC_SFN(scatter)(const MC_SE *MC_RESTRICT buf, Py_ssize_t nc,
                                       int size, MC_ST *MC_RESTRICT out)
{
    const MC_ST *b = (const MC_ST *)buf;
    if (nc == MC_SL && MC_SL >= 8 && MC_SL / 2 < size && size < MC_SL) {
        /* as in gather: transposed, each row stored whole in chain order (its spare lanes
           overwritten by the next row), the last cut at the block's end */
        MC_SE x[MC_SL];
#pragma GCC unroll 16
        for (int e = 0; e < MC_SL; e++)
            x[e] = e < size ? buf[e] : (MC_SE){0};
        MC_SFN(tr)(x);
#pragma GCC unroll 16
        for (int l = 0; l < MC_SL - 1; l++)
            MC_STORE(out + l * size, x[l]);
        memcpy(out + (MC_SL - 1) * size, &x[MC_SL - 1], size * sizeof(MC_ST));
        return;
    }
    if (nc == MC_SL && size < MC_SDEAL) {
#pragma GCC unroll 16
        for (int j = 0; j < size; j++) {
            MC_SE v = MC_SFN(undeal)(buf, size, j);
            MC_STORE(out + j * MC_SL, v);
        }
        return;
    }
    if (nc == MC_SL && size % MC_SL == 0) {    /* MC_SL × MC_SL blocks, as in gather */
        for (int q = 0; q < size; q += MC_SL) {
            MC_SE x[MC_SL];
            for (int l = 0; l < MC_SL; l++)
                x[l] = buf[q + l];
            MC_SFN(tr)(x);
            for (int l = 0; l < MC_SL; l++)
                MC_STORE(out + l * size + q, x[l]);
        }
        return;
    }
    for (Py_ssize_t l = 0; l < nc; l++)
        for (int e = 0; e < size; e++)
            out[l * size + e] = b[e * MC_SL + l];
}

#else
/* ------------------------------------------------------------ one chain, rows as vectors */
#if MC_SN % MC_SLANES == 0
#  define MC_SRW MC_SLANES
#elif MC_SN % (MC_SLANES / 2) == 0
#  define MC_SRW (MC_SLANES / 2)
#elif MC_SLANES >= 4 && MC_SN % (MC_SLANES / 4) == 0
#  define MC_SRW (MC_SLANES / 4)
#elif MC_SLANES >= 8 && MC_SN % (MC_SLANES / 8) == 0
#  define MC_SRW (MC_SLANES / 8)
#else
#  define MC_SRW 1
#endif
#define MC_SNR (MC_SN / MC_SRW)           /* vectors per row */
#define MC_SE MC_ST
typedef MC_ST MC_SFN(r) __attribute__((vector_size(MC_SRW * sizeof(MC_ST))));
#define MC_SR MC_SFN(r)
#define MC_SLD(p) MC_LOAD(MC_SR, p)

/* the smallest power of two ≥ n: a padded row's lanes */
#define MC_SPW (MC_SN <= 2 ? 2 : MC_SN <= 4 ? 4 : MC_SN <= 8 ? 8 : MC_SN <= 16 ? 16 : 32)
#if MC_SRW < MC_SN && MC_SPW <= MC_SLANES && MC_SPW != MC_SN                              \
    && (MC_SRW == 1 || MC_SPW * (MC_SDOUBLE ? 8 : 4) <= 32)
/* The grad on padded rows, where a row of n elements would take scalars (n = 3, 5, 7) or
 * float32 n = 6 pairs, but fits one vector of MC_SPW lanes (float64 n = 6 keeps its three
 * pairs: as one 512-bit vector it took 0.87-0.95 of the speed in L2, 1.0 from memory; so
 * does float32 n = 12, 1.0 either way). Row i < n - 1 is read as that vector: its last
 * MC_SPW - n lanes are the next row's first elements, which only meet lanes that are
 * dropped (lane j sums column j alone), and stay inside the link (MC_SPW < 2n). The last
 * row is the vector that ends at the link's end, its lanes moved down. y takes the whole
 * vector, so the caller gives it MC_SYR elements of room, and copies the last step's n
 * out. The same sums lane by lane, so the same bits. In L2 (one thread, Zen 4, AVX-512) GB/s old → new: float32
 * n = 3 12.6 → 14.2, 5 16.0 → 27.7, 6 26.5 → 37.1, 7 17.4 → 39.4; float64 n = 3 18.6 →
 * 24.8, 5 31.3 → 38.0, 7 31.9 → 53.1. From 64 MB of links, time new / old, one and two
 * threads: AVX-512 float32 n = 3 0.88-0.89, 5 0.68-0.78, 6 0.84-1.01, 7 0.59-0.72,
 * float64 n = 3 0.97-0.99, 5 0.82-0.90, 7 0.71-0.84; AVX2 float32 0.60-0.98, float64
 * n = 3 0.95-0.96; SSE2 float32 n = 3 0.89-0.93. */
typedef MC_ST MC_SFN(p) __attribute__((vector_size(MC_SPW * sizeof(MC_ST))));
MC_STGT static inline void MC_SFN(grad)(const MC_ST *MC_RESTRICT a,
                                        const MC_ST *MC_RESTRICT x, MC_ST *MC_RESTRICT y)
{
    MC_SFN(p) acc[2], last;
    acc[0] = MC_LOAD(MC_SFN(p), a) * x[0];
    acc[1] = (MC_SFN(p)){0};
    for (int i = 1; i < MC_SN - 1; i++)
        acc[i & 1] += MC_LOAD(MC_SFN(p), a + i * MC_SN) * x[i];
    {
        /* the vector that ends at the link's end, its lanes moved down to the last row's */
        typedef MC_STI MC_SFN(pi) __attribute__((vector_size(MC_SPW * sizeof(MC_ST))));
        MC_SFN(pi) idx;
        for (int l = 0; l < MC_SPW; l++) idx[l] = (l + MC_SPW - MC_SN) % MC_SPW;
        last = __builtin_shuffle(MC_LOAD(MC_SFN(p), a + MC_SNN - MC_SPW), idx);
    }
    acc[(MC_SN - 1) & 1] += last * x[MC_SN - 1];
    const MC_SFN(p) sum = acc[0] + acc[1];
    MC_STORE(y, sum);               /* y has MC_SPW elements of room (MC_SYR) */
}
#define MC_SYR MC_SPW
#else
/* y = Aᵀ x = Σ_i x_i A_i: (even, odd) i apart for two FMA chains, in vectors of MC_SGW
 * lanes (MC_SG). At AVX-512 a row of two or three full vectors is taken as 256-bit halves:
 * from memory (64 MB of links, Zen 4, session 21) time half / full rows, one and two
 * threads, four runs: float64 n = 16 0.56-0.76, n = 24 0.65-1.01, float32 n = 32 0.73-1.07;
 * a row of four (float64 n = 32) took 1.8-1.9x and one (n = 8) 1.0, so those keep full
 * vectors. (The sums are the same, lane by lane; GCC's FMA contraction may pair the
 * first product differently, so float64 n = 16's last bits changed with the width.) */
#if MC_SLEVEL == 2 && MC_SRW == MC_SLANES && (MC_SNR == 2 || MC_SNR == 3)
#  define MC_SGW (MC_SRW / 2)
#else
#  define MC_SGW MC_SRW
#endif
#define MC_SNG (MC_SN / MC_SGW)
typedef MC_ST MC_SFN(g) __attribute__((vector_size(MC_SGW * sizeof(MC_ST))));
#define MC_SG MC_SFN(g)
MC_STGT static inline void MC_SFN(grad)(const MC_ST *MC_RESTRICT a,
                                        const MC_ST *MC_RESTRICT x, MC_ST *MC_RESTRICT y)
{
    MC_SG acc[2][MC_SNG];
    for (int r = 0; r < MC_SNG; r++) {
        acc[0][r] = MC_LOAD(MC_SG, a + r * MC_SGW) * x[0];
        acc[1][r] = (MC_SG){0};
    }
    for (int i = 1; i < MC_SN; i++)
        for (int r = 0; r < MC_SNG; r++)
            acc[i & 1][r] += MC_LOAD(MC_SG, a + i * MC_SN + r * MC_SGW) * x[i];
    for (int r = 0; r < MC_SNG; r++) {
        MC_SG s = acc[0][r] + acc[1][r];
        MC_STORE(y + r * MC_SGW, s);
    }
}
#undef MC_SG
#undef MC_SNG
#undef MC_SGW
#endif

/* y = A x: each row's products summed over its vectors; then, for float, MC_SRW rows at a
 * time, their MC_SRW vectors reduced together by a transpose-and-add tree (log2 MC_SRW
 * levels: at each, pairs of vectors trade halves of their row blocks and add) into one
 * vector of MC_SRW results, not row by row across the lanes; for double at n ≥ 12 (4 or
 * 8 lanes), row by row (MC_STK_TAN_TREE: the tree there too, for A/B) */
typedef MC_STI MC_SFN(ri) __attribute__((vector_size(MC_SRW * sizeof(MC_ST))));
MC_STGT static inline void MC_SFN(tan)(const MC_ST *MC_RESTRICT a,
                                       const MC_ST *MC_RESTRICT x, MC_ST *MC_RESTRICT y)
{
    MC_SR xv[MC_SNR];
    for (int r = 0; r < MC_SNR; r++)
        xv[r] = MC_SLD(x + r * MC_SRW);
#if MC_SDOUBLE && MC_SRW >= 4 && MC_SN >= 12 && !defined(MC_STK_TAN_TREE)
    /* double, n ≥ 12, 4 or 8 lanes: each row's sum across the lanes on its own (halving,
       the same pairs as the tree below, so the same bits), its loads in address order.
       From memory (64 MB of links), Zen 4, time row / tree: AVX-512 n = 12 … 32
       0.50–0.93, AVX2 n = 16, 32 0.63–0.90; n ≤ 8 0.95–1.33 and SSE2 (2 lanes)
       0.94–1.10, so those keep the tree; float32 (16 lanes a row) took 1.3–3× */
    for (int i = 0; i < MC_SN; i++) {
        const MC_ST *ai = a + i * MC_SN;
        MC_SR acc = MC_SLD(ai) * xv[0];
        MC_ST l[MC_SRW];
        for (int r = 1; r < MC_SNR; r++)
            acc += MC_SLD(ai + r * MC_SRW) * xv[r];
        memcpy(l, &acc, sizeof l);
        for (int h = MC_SRW / 2; h >= 1; h /= 2)
            for (int o = 0; o < h; o++) l[o] += l[o + h];
        y[i] = l[0];
    }
    return;
#endif
    for (int i0 = 0; i0 < MC_SN; i0 += MC_SRW) {
        MC_SR t[MC_SRW];
        for (int q = 0; q < MC_SRW; q++) {
            const MC_ST *ai = a + (i0 + q) * MC_SN;
            MC_SR acc = MC_SLD(ai) * xv[0];
            for (int r = 1; r < MC_SNR; r++)
                acc += MC_SLD(ai + r * MC_SRW) * xv[r];
            t[q] = acc;
        }
#if MC_SRW > 1
        /* level g: each vector holds MC_SRW / (2g) rows of 2g partial sums; lane o of the
           pair's result takes lanes lo and lo + g of the pair (a's for the first half) */
#pragma GCC unroll 8
        for (int g = MC_SRW / 2, m = MC_SRW; g >= 1; g /= 2, m /= 2) {
            MC_STI il[MC_SRW], ih[MC_SRW];
            for (int o = 0; o < MC_SRW; o++) {
                const int op = o % (MC_SRW / 2);
                il[o] = (op / g) * 2 * g + op % g + (o >= MC_SRW / 2 ? MC_SRW : 0);
                ih[o] = il[o] + g;
            }
            MC_SFN(ri) lo, hi;
            memcpy(&lo, il, sizeof lo);
            memcpy(&hi, ih, sizeof hi);
#pragma GCC unroll 8
            for (int q = 0; q < m / 2; q++)
                t[q] = __builtin_shuffle(t[2 * q], t[2 * q + 1], lo)
                       + __builtin_shuffle(t[2 * q], t[2 * q + 1], hi);
        }
#endif
        MC_STORE(y + i0, t[0]);
    }
}

/* c = a b in register tiles of MC_SRB rows × MC_SCW vectors of c: enough independent FMA
 * chains to hide their latency (Zen 3: 4 cycles × 2 FMA ports, 8 at least), few enough to
 * stay in registers with the strip of b and a broadcast of a (32 vector registers at
 * AVX-512, 16 below); a tile's strip of b is loaded once per MC_SRB rows, a's elements
 * broadcast once per MC_SCW vectors. The column tiles divide a row (MC_SNR vectors). With
 * 16 registers and n ≥ 16, 6 × 2 tiles (12 accumulators, 2 loads of b and 6 broadcasts a
 * step for 12 FMAs), or 4 × 3 when a row is 3 vectors (float32 n = 24); below n = 16 the
 * earlier 4 × 2 / 3 × 3 / 4 × 1 tiles. The rows past the last whole MC_SRB (MC_SRM of
 * them) take tiles MC_SCM vectors wide, twice MC_SCW where that divides the row and fits,
 * so that they still run 8 chains or so. */
#define MC_SREG32 (MC_SLEVEL == 2)   /* 64-byte vectors, 32 registers */
#if MC_SREG32
#  define MC_SCW (MC_SNR <= 4 ? MC_SNR : MC_SNR % 4 == 0 ? 4 : MC_SNR % 3 == 0 ? 3         \
                  : MC_SNR % 2 == 0 ? 2 : 1)
#  define MC_SRB 4
#elif MC_SN >= 16
#  define MC_SCW (MC_SNR % 2 == 0 ? 2 : MC_SNR % 3 == 0 ? 3 : 1)
#  define MC_SRB (MC_SCW == 2 ? 6 : 4)
#else
#  define MC_SCW (MC_SNR <= 2 ? MC_SNR : MC_SNR % 3 == 0 ? 3 : MC_SNR % 2 == 0 ? 2 : 1)
#  define MC_SRB (MC_SCW < 3 ? 4 : 3)
#endif
#define MC_SRM (MC_SN % MC_SRB)
#define MC_SCM (MC_SNR % (2 * MC_SCW) == 0 && MC_SRM * 2 * MC_SCW <= MC_SRB * MC_SCW      \
                ? 2 * MC_SCW : MC_SCW)
/* Prefetch while multiplying: pf0, pf1 (either NULL) are n × n matrices the next chain
 * will read (its links, contiguous per chain); their cache lines are dealt to the
 * product's tiles, MC_SPF_PER each, and a tile prefetches its share MC_SPF_STEP lines at a
 * step of its k loop (one, but for a share longer than the loop), where MC_SPF_SPREAD
 * (n ≥ 16 in float64, n ≥ 24 in float32); below, the whole share before the loop (the
 * spread took 1.05-1.1x at float64 n = 8, float32 n = 12, 1.02-1.08x at float32 n = 16),
 * so the memory traffic of the next chain overlaps this one's FMAs instead of following
 * them (the hardware prefetchers alone left them mostly in turn: bench/bench_stack_jac.py,
 * B = 10,000 against B = 256). A burst of the whole share at the tile's start gave less:
 * from 64 MB of links (Zen 4, two threads, out= %peak, three runs) float64 n = 24
 * 49-57 % -> 64-71 %, n = 32 51-60 % -> 75-84 %, float32 n = 32 63-64 % -> 73-86 %; two
 * lines a step, two chains ahead or into L2 (locality 2) were no better than one line. */
#define MC_SPF_SPREAD (MC_SN >= 24 || (MC_SN >= 16 && MC_SDOUBLE))
#define MC_SPF_LINES ((MC_SNN * (int)sizeof(MC_ST) + 63) / 64)
#define MC_SPF_TILES ((MC_SN / MC_SRB) * (MC_SNR / MC_SCW) + (MC_SRM ? MC_SNR / MC_SCM : 0))
#define MC_SPF_PER ((MC_SPF_LINES + MC_SPF_TILES - 1) / MC_SPF_TILES)
/* lines [first, first + count) of tile `tile`'s share */
MC_STGT MC_INLINE void MC_SFN(pf)(const MC_ST *pf0, const MC_ST *pf1, int tile, int first,
                                  int count)
{
#pragma GCC unroll 16
    for (int q = 0; q < count; q++) {
        const int i = first + q, l = tile * MC_SPF_PER + i;
        if (i < MC_SPF_PER && l < MC_SPF_LINES) {
            if (pf0)
                __builtin_prefetch((const char *)pf0 + 64 * l, 0, MC_STK_PF_LOCALITY);
            if (pf1)
                __builtin_prefetch((const char *)pf1 + 64 * l, 0, MC_STK_PF_LOCALITY);
        }
    }
}
#if MC_SPF_SPREAD
#  define MC_SPF_STEP ((MC_SPF_PER + MC_SN - 2) / (MC_SN - 1))
#endif

/* one tile: rows × cols vectors of c (at cj, row stride n) from the rows of a at ai and the
 * strip of b at bj; rows, cols are constants once inlined (the loops unroll, acc stays in
 * registers); its steps prefetch the tile's share of pf0, pf1 (MC_SFN(pf)) */
MC_STGT MC_INLINE void MC_SFN(tile)(const MC_ST *MC_RESTRICT ai, const MC_ST *MC_RESTRICT bj,
                                    MC_ST *MC_RESTRICT cj, const int rows, const int cols,
                                    const MC_ST *pf0, const MC_ST *pf1, const int tile)
{
#if !MC_SPF_SPREAD
    MC_SFN(pf)(pf0, pf1, tile, 0, MC_SPF_PER);
#endif
    MC_SR acc[MC_SRB][2 * MC_SCW];
#pragma GCC unroll 8
    for (int r = 0; r < cols; r++) {
        MC_SR br = MC_SLD(bj + r * MC_SRW);
#pragma GCC unroll 8
        for (int q = 0; q < rows; q++)
            acc[q][r] = br * ai[q * MC_SN];
    }
    /* a step: the strip's cols vectors of row k of b loaded, then row by row one broadcast
       of a's element for cols FMAs (acc, b and one broadcast: 12 + 2 + 1 registers) */
    for (int k = 1; k < MC_SN; k++) {
#if MC_SPF_SPREAD
        MC_SFN(pf)(pf0, pf1, tile, (k - 1) * MC_SPF_STEP, MC_SPF_STEP);
#endif
        MC_SR bv[2 * MC_SCW];
#pragma GCC unroll 8
        for (int r = 0; r < cols; r++)
            bv[r] = MC_SLD(bj + k * MC_SN + r * MC_SRW);
#pragma GCC unroll 8
        for (int q = 0; q < rows; q++) {
            const MC_ST x = ai[q * MC_SN + k];
#pragma GCC unroll 8
            for (int r = 0; r < cols; r++)
                acc[q][r] += bv[r] * x;
        }
    }
#pragma GCC unroll 8
    for (int q = 0; q < rows; q++)
#pragma GCC unroll 8
        for (int r = 0; r < cols; r++)
            MC_STORE(cj + q * MC_SN + r * MC_SRW, acc[q][r]);
}

MC_STGT static inline void MC_SFN(mm)(const MC_ST *MC_RESTRICT a,
                                      const MC_ST *MC_RESTRICT b, MC_ST *MC_RESTRICT c,
                                      const MC_ST *pf0, const MC_ST *pf1)
{
    int tile = 0;
    for (int j0 = 0; j0 < MC_SNR; j0 += MC_SCW)
        for (int i = 0; i + MC_SRB <= MC_SN; i += MC_SRB) {
            MC_SFN(tile)(a + i * MC_SN, b + j0 * MC_SRW, c + i * MC_SN + j0 * MC_SRW,
                         MC_SRB, MC_SCW, pf0, pf1, tile++);
        }
#if MC_SRM
    for (int j0 = 0; j0 < MC_SNR; j0 += MC_SCM) {
        const int i = MC_SN - MC_SRM;
        MC_SFN(tile)(a + i * MC_SN, b + j0 * MC_SRW, c + i * MC_SN + j0 * MC_SRW,
                     MC_SRM, MC_SCM, pf0, pf1, tile++);
    }
#endif
}
#undef MC_SPF_LINES
#undef MC_SPF_TILES
#undef MC_SPF_PER
#ifdef MC_SPF_STEP
#  undef MC_SPF_STEP
#endif
#undef MC_SPF_SPREAD
#undef MC_SRM
#undef MC_SCM
#undef MC_SRB
#undef MC_SCW
#undef MC_SREG32

/* one chain's operand, in place */
MC_STGT static inline const MC_ST *MC_SFN(gather)(const MC_ST *p, Py_ssize_t bs,
                                                  Py_ssize_t c, Py_ssize_t nc, int size,
                                                  MC_ST *buf)
{
    (void)nc; (void)size; (void)buf;
    return p + c * bs;
}
#endif

/* c = diag(d) b (left) or b diag(d) (right) */
MC_STGT static inline void MC_SFN(scale)(int left, const MC_SE *MC_RESTRICT d,
                                         const MC_SE *MC_RESTRICT b, MC_SE *MC_RESTRICT c)
{
    for (int i = 0; i < MC_SN; i++)
        for (int j = 0; j < MC_SN; j++)
            c[i * MC_SN + j] = b[i * MC_SN + j] * d[left ? i : j];
}

/* grad_chain / tangent_chain of chains c0 .. c1 - 1 (c0 a multiple of MC_SL) */
MC_STGT static void MC_SFN(vec)(const mc_stk *s, Py_ssize_t c0, Py_ssize_t c1)
{
#ifndef MC_SYR
#define MC_SYR MC_SN
#endif
    MC_SE xa[2][MC_SYR] __attribute__((aligned(64)));
    MC_SE ta[MC_SNN] __attribute__((aligned(64)));
    MC_ST *out = (MC_ST *)s->out;
    /* the grad on padded rows writes MC_SYR elements: its last step goes to xa, then out */
    const int padded = MC_SYR != MC_SN && s->mode == MC_STK_GRAD;
    for (Py_ssize_t c = c0; c < c1; c += MC_SL) {
        Py_ssize_t nc = c1 - c < MC_SL ? c1 - c : MC_SL;
        const MC_SE *x = MC_SFN(gather)((const MC_ST *)s->vec, s->vstride, c, nc, MC_SN,
                                        xa[0]);
        int turn = 1;
        for (Py_ssize_t step = 0; step < s->nlinks; step++) {
            Py_ssize_t k = s->mode == MC_STK_GRAD ? s->nlinks - 1 - step : step;
            MC_SE *y = (MC_SL == 1 && !padded && step == s->nlinks - 1)
                ? (MC_SE *)(out + c * MC_SN) : xa[turn];
            const MC_SE *a = s->diag[k]
                ? MC_SFN(gather)((const MC_ST *)s->link[k], s->bstride[k], c, nc, MC_SN, ta)
                : MC_SFN(gather)((const MC_ST *)s->link[k], s->bstride[k], c, nc, MC_SNN, ta);
            if (s->diag[k])
                for (int e = 0; e < MC_SN; e++)
                    y[e] = a[e] * x[e];
            else if (s->mode == MC_STK_GRAD)
                MC_SFN(grad)(a, x, y);
            else
                MC_SFN(tan)(a, x, y);
            x = y;
            turn = 1 - turn;
        }
#if MC_SL > 1
        MC_SFN(scatter)(x, nc, MC_SN, out + c * MC_SN);
#else
        if (padded)
            memcpy(out + c * MC_SN, x, MC_SN * sizeof(MC_ST));
#endif
    }
}
#undef MC_SYR
#undef MC_SPW

/* link k of the chain after c, for the products of chain c to prefetch (one chain at a
 * time); NULL past the chunk, for a shared link or a Diagonal, and in the compact layout */
MC_STGT MC_INLINE const MC_ST *MC_SFN(next)(const mc_stk *s, Py_ssize_t k, Py_ssize_t c,
                                            Py_ssize_t c1)
{
    if (MC_SL > 1 || c + 1 >= c1 || !s->bstride[k] || s->diag[k])
        return NULL;
    return (const MC_ST *)s->link[k] + (c + 1) * s->bstride[k];
}

/* jacobian_chain of chains c0 .. c1 - 1: forward Jn(⋯(J2 J1)) or reverse ((Jn Jn-1)⋯)J1;
 * at least one link is dense */
MC_STGT static void MC_SFN(jac)(const mc_stk *s, Py_ssize_t c0, Py_ssize_t c1)
{
    MC_SE pa[2][MC_SNN] __attribute__((aligned(64)));
    MC_SE ta[2][MC_SNN] __attribute__((aligned(64)));
    MC_ST *out = (MC_ST *)s->out;
    const int fwd = s->mode == MC_STK_JAC;
    const Py_ssize_t n = s->nlinks;
    for (Py_ssize_t c = c0; c < c1; c += MC_SL) {
        Py_ssize_t nc = c1 - c < MC_SL ? c1 - c : MC_SL;
        Py_ssize_t k0 = fwd ? 0 : n - 1;
        int pdiag = s->diag[k0], turn = 0;
        const MC_SE *p = pdiag
            ? MC_SFN(gather)((const MC_ST *)s->link[k0], s->bstride[k0], c, nc, MC_SN, ta[0])
            : MC_SFN(gather)((const MC_ST *)s->link[k0], s->bstride[k0], c, nc, MC_SNN,
                             ta[0]);
        for (Py_ssize_t step = 1; step < n; step++) {
            Py_ssize_t k = fwd ? step : n - 1 - step;
            int adiag = s->diag[k];
            const MC_SE *a = adiag
                ? MC_SFN(gather)((const MC_ST *)s->link[k], s->bstride[k], c, nc, MC_SN, ta[1])
                : MC_SFN(gather)((const MC_ST *)s->link[k], s->bstride[k], c, nc, MC_SNN,
                                 ta[1]);
            MC_SE *y = (MC_SL == 1 && step == n - 1 && !s->stream)
                ? (MC_SE *)(out + c * MC_SNN) : pa[turn];
            /* the next chain's links this product prefetches: link k, and at the first
               product also the first link */
            const MC_ST *nk = MC_SFN(next)(s, k, c, c1);
            const MC_ST *nk0 = step == 1 ? MC_SFN(next)(s, k0, c, c1) : NULL;
            if (pdiag && adiag)         /* a Diagonal product so far */
                for (int e = 0; e < MC_SN; e++)
                    y[e] = a[e] * p[e];
            else if (adiag)
                MC_SFN(scale)(fwd, a, p, y);
            else if (pdiag)
                MC_SFN(scale)(!fwd, p, a, y);
            else if (fwd)
                MC_SFN(mm)(a, p, y, nk, nk0);
            else
                MC_SFN(mm)(p, a, y, nk, nk0);
            pdiag = pdiag && adiag;
            p = y;
            turn = 1 - turn;
        }
#if MC_SL > 1
        MC_SFN(scatter)(p, nc, MC_SNN, out + c * MC_SNN);
#else
        if (s->stream)
            MC_SCAT2(mc_stk_stream, MC_SLVL)(out + c * MC_SNN, p, sizeof(MC_ST) * MC_SNN);
        else if (n == 1)
            memcpy(out + c * MC_SNN, p, sizeof(MC_ST) * MC_SNN);
#endif
    }
#if MC_SL == 1
    if (s->stream)
        MC_SCAT2(mc_stk_stream_end, MC_SLVL)();
#endif
}

#undef MC_SNN
#undef MC_SE
#ifdef MC_SDEAL
#  undef MC_SDEAL
#endif
#ifdef MC_SR
#  undef MC_SR
#  undef MC_SLD
#  undef MC_SRW
#  undef MC_SNR
#endif

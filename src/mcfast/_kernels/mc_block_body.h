/* mcfast: the block of one dtype (mc_engine.h): the fused paths, else source → hook → source.
 *
 * Included by mc_engine.h with MC_T (double or float), MC_TN (d or f: the names'
 * suffix) and MC_DIRECT (1: the block adds straight into the part's double accumulator;
 * 0: into the block's own T sums, folded into it after) defined; no include guard.
 * Defines mc_block_<d|f>, which calls each kernel of the level in use through the
 * dispatch table (mc_kern.h).
 */
#define T MC_T

static double MC_CAT(mc_block_, MC_TN)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb,
                                       T *scr, double *acc, Py_ssize_t *bad)
{
    const Py_ssize_t K = p->K, mp = p->mp, m = p->src.m, yc = p->ycols;
    double *lv = (double *)scr;
    T *z = scr + 6 * nb, *q = z + K * nb, *r = q + K * nb, *yb = r + K * nb;
    T *wb = yb + yc * nb, *g = wb + nb, *gt;
    const T *tt = (const T *)p->tt, *pt = (const T *)p->pt;
    const T *y = (const T *)p->y, *w = (const T *)p->w;
    const MC_CAT(mc_kern_, MC_TN) *kern = MC_KERN(MC_TN);   /* the level in use */
    Py_ssize_t i, c, j;
    double loss, s;
    if (MC_HAVE_GROUP && p->loss.kind == MC_MULTINOMIAL && p->src.kind == MC_SRC_C
            && m > 0 && K > 1 && K <= kern->classes) {
        /* multinomial rows, the classes as vector lanes (mc_group.h); K > 1 only:
           mc_scratch_items gives their 3·16·mp elements to K > 1 alone, and K = 1
           (loss 0, ℓ′ = 0) is the general block's */
        gt = MC_DIRECT ? (T *)acc : g;
        if (!MC_DIRECT) memset(g, 0, (size_t)(K * mp) * sizeof(T));
        loss = kern->multinomial(p, i0, nb, gt, g + K * mp);
        if (!MC_DIRECT)
            for (j = 0; j < K * mp; j++) acc[j] += g[j];
        return loss;
    }
    if (MC_HAVE_GROUP && K == 1 && m > 0 && p->loss.kind != MC_MULTINOMIAL
            && (p->src.kind == MC_SRC_C || (p->src.kind == MC_SRC_F && !p->src.rows))) {
        /* dense, one output: fused row groups, or F-order sub-blocks (mc_group.h) */
        gt = MC_DIRECT ? (T *)acc : g;
        if (!MC_DIRECT) memset(g, 0, (size_t)mp * sizeof(T));
        loss = p->src.kind == MC_SRC_C ? kern->group(p, i0, nb, gt)
                                       : kern->group_f(p, i0, nb, gt);
        if (!MC_DIRECT)
            for (j = 0; j < mp; j++) acc[j] += g[j];
        return loss;
    }
    /* z = X_b Θ + b (not needed for the Hessian of the squared loss) */
    if (!(p->hess && p->loss.kind == MC_SQUARED)) {
        *bad += kern->mv(&p->src, i0, nb, tt, mp, K, z);
        if (p->intercept)
            for (c = 0; c < K; c++)
                for (i = 0; i < nb; i++) z[c * nb + i] += tt[c * mp + m];
    }
    /* q = X_b P + b_p */
    if (p->hess) {
        *bad += kern->mv(&p->src, i0, nb, pt, mp, K, q);
        if (p->intercept)
            for (c = 0; c < K; c++)
                for (i = 0; i < nb; i++) q[c * nb + i] += pt[c * mp + m];
    }
    /* the block's y and w: gathered with rows=, else slices */
    if (p->src.rows) {
        const Py_ssize_t *rows = p->src.rows + i0;
        if (y) {
            for (i = 0; i < nb; i++)
                for (c = 0; c < yc; c++) yb[i * yc + c] = y[rows[i] * yc + c];
            y = yb;
        }
        if (w) {
            for (i = 0; i < nb; i++) wb[i] = w[rows[i]];
            w = wb;
        }
    } else {
        if (y) y += i0 * yc;
        if (w) w += i0;
    }
    /* r = w ∘ ℓ′(z, y)  (or w ∘ ℓ″ q) */
    loss = kern->hook(&p->loss, p->hess, nb, K, z, q, y, w, r, lv, lv + nb);
    /* Gᵀ += R_bᵀ X_b; the intercept's gradient is Σ_i r_i */
    gt = MC_DIRECT ? (T *)acc : g;
    if (!MC_DIRECT) memset(g, 0, (size_t)(K * mp) * sizeof(T));
    if (p->intercept)
        for (c = 0; c < K; c++) {
            s = 0;
            for (i = 0; i < nb; i++) s += r[c * nb + i];
            gt[c * mp + m] += (T)s;
        }
    kern->rmv(&p->src, i0, nb, r, K, gt, mp);
    if (!MC_DIRECT)
        for (j = 0; j < K * mp; j++) acc[j] += g[j];
    return loss;
}

#undef T

/* mcfast: the body of mc_extremes_<d|f> (mc_extremes.h), over MC_EXTREMES_T; included
 * once per element type with MC_EXTREMES_T and MC_EXTREMES_NAME defined, which it undefines. */
static void MC_EXTREMES_NAME(const char *x, Py_ssize_t n, Py_ssize_t stride, double out[3])
{
    typedef MC_EXTREMES_T T;
    double lo[4], hi[4], z[4];
    Py_ssize_t i, u;
    for (u = 0; u < 4; u++) {
        lo[u] = Py_HUGE_VAL;
        hi[u] = -Py_HUGE_VAL;
        z[u] = 0;
    }
    for (i = 0; i + 4 <= n; i += 4)
        for (u = 0; u < 4; u++) {
            const double v = *(const T *)(x + (i + u) * stride);
            lo[u] = v < lo[u] ? v : lo[u];
            hi[u] = v > hi[u] ? v : hi[u];
            z[u] += v - v;
        }
    for (; i < n; i++) {
        const double v = *(const T *)(x + i * stride);
        lo[0] = v < lo[0] ? v : lo[0];
        hi[0] = v > hi[0] ? v : hi[0];
        z[0] += v - v;
    }
    for (u = 1; u < 4; u++) {
        lo[0] = lo[u] < lo[0] ? lo[u] : lo[0];
        hi[0] = hi[u] > hi[0] ? hi[u] : hi[0];
        z[0] += z[u];
    }
    out[0] = lo[0];
    out[1] = hi[0];
    out[2] = z[0];
}
#undef MC_EXTREMES_T
#undef MC_EXTREMES_NAME

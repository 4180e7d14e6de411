/* mcfast: the extremes of a strided run of targets in one pass, for a loss's domain check.
 *
 * mc_extremes_<d|f>(x, n, stride, out): out[0] = the smallest, out[1] = the largest of the
 * n values at x, x + stride, ... (stride in bytes), NaN skipped by the comparisons, and
 * out[2] = Σ (v − v), which is NaN exactly when a value is NaN or ±inf: then the caller
 * takes NumPy's min and max instead (whose NaN and inf rules it keeps). Four independent
 * accumulators, so the comparisons of one value do not wait on the last; every value is
 * read once (NumPy's min and max read the targets twice, from memory after a pass over X).
 */
#ifndef MCFAST_EXTREMES_H
#define MCFAST_EXTREMES_H

#include <Python.h>

#define MC_EXTREMES_T double
#define MC_EXTREMES_NAME mc_extremes_d
#include "mc_extremes_body.h"
#define MC_EXTREMES_T float
#define MC_EXTREMES_NAME mc_extremes_f
#include "mc_extremes_body.h"

#endif /* MCFAST_EXTREMES_H */

/* mcfast: one vector through one large dense link (y = xᵀA or y = A x), in tiles that a
   thread of mcfast's pool owns whole (results independent of the thread count). */
#ifndef MCFAST_CHAIN_MV_H
#define MCFAST_CHAIN_MV_H

#include <Python.h>   /* Py_ssize_t */
#include "mc_chain_gemm.h"   /* MC_CLONES */

#define MC_MV_TILE 512      /* columns of y = xᵀA accumulated in L1 per pass over the rows */
#define MC_MV_LANES 16      /* partial sums of a row's dot product in y = A x */

#define MC_MV_T double
#define MC_MV_FN(name) name##_double
#include "mc_chain_mv_body.h"
#undef MC_MV_T
#undef MC_MV_FN

#define MC_MV_T float
#define MC_MV_FN(name) name##_float
#include "mc_chain_mv_body.h"
#undef MC_MV_T
#undef MC_MV_FN

#endif

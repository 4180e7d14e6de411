/* mcfast: the engine's codes, defined once: loss codes and row-source kinds.
 *
 * Included by mc_loss.h and mc_rows.h (and by _hessian.pyx); the Python side reads them
 * from the compiled module: mcfast._kernels._engine.LOSS_CODES and SOURCE_KINDS.
 * (mc_stage.h adds MC_SRC_STAGED = 3 after these.)
 */
#ifndef MCFAST_CODES_H
#define MCFAST_CODES_H

/* losses (mc_loss.h) */
enum { MC_SQUARED = 0, MC_LOGISTIC = 1, MC_POISSON = 2, MC_HUBER = 3, MC_MULTINOMIAL = 4 };

/* row sources (mc_rows.h): dense row-major, dense column-major, CSR */
enum { MC_SRC_C = 0, MC_SRC_F = 1, MC_SRC_CSR = 2 };

#endif /* MCFAST_CODES_H */

/*
 * fastrnn_core: QR accumulation of Lyapunov exponents over a stream of Jacobians.
 *
 * Plain C99, no Python headers, no global state: every function is re-entrant and thread-safe as long as
 * concurrent callers pass distinct state arrays. All matrices are float64, row-major (C order).
 *
 * Benettin's method. With an orthonormal frame Q_0 (D x k) and Jacobians J_1, J_2, ... of a map,
 *     J_t Q_{t-1} = Q_t R_t   (QR, Q_t orthonormal, R_t upper triangular k x k),
 *     lambda_i ~ (1/n) sum_t log|R_t[i,i]|   (per step).
 * The caller carries the state between chunks of Jacobians: the frame Q (D x k), the running sums
 * sum_t log|R_t[i,i]| (k,) and the number of steps accumulated.
 *
 * Re-orthonormalisation interval: the product of m Jacobians applied to Q has the QR factor R_m ... R_1, whose
 * diagonal is the product of the per-step diagonals, so re-orthonormalising every m steps gives the same
 * exponents in exact arithmetic. In floating point the small R_ii of a block carry a relative rounding error of
 * about eps * exp(spread), spread = max_i log|R_ii| - min_i log|R_ii| over the block. The library picks m
 * adaptively (1 <= m <= max_interval) from the growth rates of the previous block so that the spread stays near
 * FASTRNN_BLOCK_LOG_SPREAD (ln 1e3), and redoes in shorter blocks any block whose spread exceeds ln 1e5; the
 * exponents then equal those of the one-QR-per-step method to ~1e-12 per step (measured on random Gaussian
 * Jacobians, the hard case). max_interval = 1 gives the textbook one-QR-per-step algorithm. The QR is
 * Householder, blocked by panels of 4 (compact WY); the frame stays orthonormal to rounding.
 */
#ifndef FASTRNN_CORE_H
#define FASTRNN_CORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FASTRNN_API __declspec(dllexport)
#else
#define FASTRNN_API __attribute__((visibility("default")))
#endif

/* Bump whenever a signature or a meaning changes; fastrnn/_native.py refuses a library with another value. */
#define FASTRNN_CORE_ABI 1

/* Spread (natural log) of log|R_ii| aimed at within one re-orthonormalisation block: ln(1e3). */
#define FASTRNN_BLOCK_LOG_SPREAD 6.9

/* Return codes. */
#define FASTRNN_OK 0
#define FASTRNN_EARG (-1)       /* invalid argument (sizes, NULL pointers) */
#define FASTRNN_ENOMEM (-2)     /* workspace allocation failed */
#define FASTRNN_ENONFINITE (-3) /* a Jacobian entry is NaN or infinite: jac[*n_done_in_call] */
#define FASTRNN_EOVERFLOW (-4)  /* one step overflowed even without blocking (|J| ~ 1e308) */

/* ABI version of the compiled library (FASTRNN_CORE_ABI at build time). */
FASTRNN_API int fastrnn_core_abi(void);

/* 1 if the library was built with run-time dispatch to an AVX2/FMA code path and this CPU uses it, else 0. */
FASTRNN_API int fastrnn_core_simd(void);

/*
 * Propagate the frame through n_steps Jacobians and accumulate log|diag R|.
 *
 *   n_steps       number of Jacobians in jac (>= 0)
 *   dim           D, state dimension (>= 1)
 *   k             number of exponents, 1 <= k <= D
 *   jac           (n_steps, D, D) row-major; jac[t] maps tangent vectors at step t to step t + 1
 *   frame         (D, k) row-major, orthonormal columns; replaced by the propagated, re-orthonormalised frame
 *   log_sums      (k,) running sums of log|R_ii|; the new terms are added
 *   n_done        running step count; n_steps is added (on error: the steps accumulated before the failure)
 *   tri           optional (k, k) row-major upper-triangular matrix, or NULL. If given it is replaced by
 *                 R_total * tri rescaled so that max|entry| = 1, with log(scale) added to *tri_log_scale;
 *                 started from the identity and 0 it holds the product of all R factors, so
 *                 P Q_0 = Q_n (exp(*tri_log_scale) * tri) for the Jacobian product P = J_n ... J_1
 *                 without overflow or underflow of the scale.
 *   tri_log_scale required when tri is given
 *   max_interval  largest number of steps between two re-orthonormalisations (>= 1; 1 = every step)
 *
 * Returns FASTRNN_OK or a negative code. On error the state (frame, log_sums, n_done, tri, tri_log_scale) is
 * consistent: it holds exactly the steps accumulated before the failing one, and the failing step index within
 * this call is the increase of *n_done.
 */
FASTRNN_API int fastrnn_qr_accumulate(int64_t n_steps, int32_t dim, int32_t k, const double *jac, double *frame,
                                      double *log_sums, int64_t *n_done, double *tri, double *tri_log_scale,
                                      int32_t max_interval);

#ifdef __cplusplus
}
#endif

#endif /* FASTRNN_CORE_H */

/*
 * fastrnn_core: QR accumulation of Lyapunov exponents (Benettin et al. 1980; Shimada & Nagashima 1979) over a
 * stream of Jacobians. See fastrnn_core.h for the interface. Written from the textbook algorithms:
 * Householder QR as in Golub & Van Loan, "Matrix Computations", 4th ed., algorithms 5.1.1 and 5.2.1, with the
 * explicit Q formed by backward accumulation (section 5.1.6).
 *
 * Layout of the workspace: every D x k matrix is stored row-major with a padded leading dimension ldv (k rounded
 * up to a multiple of 8, padding columns kept at zero) so that the products J V run over whole SIMD vectors.
 */
#include "fastrnn_core.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__clang__) && !defined(restrict)
#define restrict __restrict
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FR_INLINE static inline __attribute__((always_inline))
#else
#define FR_INLINE static __inline
#endif
/* GCC/Clang vector extensions for the inner kernels; plain C loops otherwise (or with -DFASTRNN_NO_VECTOR). */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(FASTRNN_NO_VECTOR)
#define FR_VECTOR 1
typedef double v4d __attribute__((vector_size(32)));
#else
#define FR_VECTOR 0
#endif

/* Run-time dispatch to an AVX2/FMA instantiation on x86-64 (GCC or Clang); everything else uses the generic one. */
#if FR_VECTOR && (defined(__x86_64__) || defined(__i386__)) && !defined(FASTRNN_NO_DISPATCH)
#define FR_X86_DISPATCH 1
#else
#define FR_X86_DISPATCH 0
#endif

#define FR_LN2 0.69314718055994530942
/* Largest |log R_ii| accumulated within one block (keeps the block's products far from over- or underflow). */
#define FR_BLOCK_LOG_MAGNITUDE 200.0
/* Smallest number whose reciprocal is finite with margin (1/DBL_MIN is fine; subnormals are not). */
#define FR_SAFE_MIN 1e-300
/* Frame entries below this are flushed to zero (they are rounding noise; subnormals would slow every step). */
#define FR_FLUSH 1e-290
/* A block whose spread of log|R_ii| exceeds this (ln 1e5) is redone in shorter blocks. */
#define FR_BLOCK_LOG_SPREAD_REJECT 11.5

typedef struct {
    int D, k, ldv;
    double *Qc;   /* current frame, D x ldv */
    double *Qn;   /* next frame, D x ldv */
    double *V0;   /* ping-pong buffers for the block products, D x ldv */
    double *V1;
    double *tau;  /* Householder scalars, k */
    double *w;    /* row buffer, ldv */
    double *logr; /* log|R_ii| of the current block, k */
    double *trow; /* row buffer for the triangular product, k */
    double *vbuf; /* the current reflector as a contiguous vector, D */
    double *Y;    /* panel of 4 reflectors, D x 4 row-major */
    double *T;    /* triangular factor of the panel, 4 x 4 */
    void *mem;
} fr_work;

static double *align64(char *p) { return (double *)(((uintptr_t)p + 63u) & ~(uintptr_t)63u); }

static int work_alloc(fr_work *ws, int D, int k)
{
    const size_t ldv = ((size_t)k + 7u) & ~(size_t)7u;
    const size_t mat = (size_t)D * ldv;
    const size_t n_doubles = 4 * mat + 3 * (size_t)k + 8 * ldv + 5 * (size_t)D + 16 + 11 * 8; /* + slack for alignment of each piece */
    char *mem = (char *)malloc(n_doubles * sizeof(double) + 64 * 12);
    if (mem == NULL) return FASTRNN_ENOMEM;
    memset(mem, 0, n_doubles * sizeof(double) + 64 * 12);
    ws->D = D;
    ws->k = k;
    ws->ldv = (int)ldv;
    ws->mem = mem;
    double *p = align64(mem);
    ws->Qc = p; p = align64((char *)(p + mat));
    ws->Qn = p; p = align64((char *)(p + mat));
    ws->V0 = p; p = align64((char *)(p + mat));
    ws->V1 = p; p = align64((char *)(p + mat));
    ws->tau = p; p = align64((char *)(p + k));
    ws->w = p; p = align64((char *)(p + 8 * ldv));
    ws->logr = p; p = align64((char *)(p + k));
    ws->trow = p; p = align64((char *)(p + k));
    ws->vbuf = p; p = align64((char *)(p + D));
    ws->Y = p; p = align64((char *)(p + 4 * (size_t)D));
    ws->T = p;
    return FASTRNN_OK;
}

/* ---- C (R rows) = A (R rows of a D x D row-major matrix) * B (D x ncols, leading dim ldb), ncols % 8 == 0 ---- */
FR_INLINE void gemm_rows(const int R, const double *restrict A, const int D, const double *restrict B,
                         const int ldb, double *restrict C, const int ncols)
{
#if FR_VECTOR
    for (int jb = 0; jb < ncols; jb += 8) {
        v4d acc[6][2];
        for (int r = 0; r < R; r++) {
            acc[r][0] = (v4d){0.0, 0.0, 0.0, 0.0};
            acc[r][1] = (v4d){0.0, 0.0, 0.0, 0.0};
        }
        const double *restrict bp = B + jb;
        for (int l = 0; l < D; l++) {
            const v4d b0 = *(const v4d *)(bp);
            const v4d b1 = *(const v4d *)(bp + 4);
            bp += ldb;
            for (int r = 0; r < R; r++) {
                const double a = A[(size_t)r * D + l];
                const v4d av = {a, a, a, a};
                acc[r][0] += av * b0;
                acc[r][1] += av * b1;
            }
        }
        for (int r = 0; r < R; r++) {
            *(v4d *)(C + (size_t)r * ldb + jb) = acc[r][0];
            *(v4d *)(C + (size_t)r * ldb + jb + 4) = acc[r][1];
        }
    }
#else
    for (int r = 0; r < R; r++) {
        double *restrict c = C + (size_t)r * ldb;
        for (int j = 0; j < ncols; j++) c[j] = 0.0;
        for (int l = 0; l < D; l++) {
            const double a = A[(size_t)r * D + l];
            const double *restrict b = B + (size_t)l * ldb;
            for (int j = 0; j < ncols; j++) c[j] += a * b[j];
        }
    }
#endif
}

/* C (D x ldv) = A (D x D) * B (D x ldv); RB is the row blocking of the main kernel (a compile-time constant). */
FR_INLINE void gemm(const int RB, const double *restrict A, const int D, const double *restrict B, const int ldv,
                    double *restrict C)
{
    int i = 0;
    for (; i + RB <= D; i += RB) gemm_rows(RB, A + (size_t)i * D, D, B, ldv, C + (size_t)i * ldv, ldv);
    if (RB > 4 && i + 4 <= D) {
        gemm_rows(4, A + (size_t)i * D, D, B, ldv, C + (size_t)i * ldv, ldv);
        i += 4;
    }
    if (i + 2 <= D) {
        gemm_rows(2, A + (size_t)i * D, D, B, ldv, C + (size_t)i * ldv, ldv);
        i += 2;
    }
    if (i < D) gemm_rows(1, A + (size_t)i * D, D, B, ldv, C + (size_t)i * ldv, ldv);
}

/*
 * Apply the reflector H = I - t v v^T (v[p] = 1, v[i] for i > p; v is contiguous, indexed by row) to rows p .. D-1
 * of M (row-major, leading dim ld), columns jmin .. jend-1; the other columns are not changed.
 *   w = t (M[p:, cols]^T v),   M[p:, cols] -= v w^T
 */
#if FR_VECTOR
/* Vector path: whole aligned 4-wide column groups, w kept in registers over a chunk of up to 32 columns. Needs the
 * rows 32-byte aligned (ld % 4 == 0, M 32-byte aligned) and ceil4(jend) <= ld; columns of a group outside
 * [jmin, jend) get w = 0 (below jmin, masked) or hold zero padding (at and above jend), so they do not change. */
FR_INLINE void reflect_chunk(const int NV, double *restrict M, const int ld, const int D, const int p, const int jb,
                             const double *restrict v, const double t, const int jmin)
{
    v4d acc[8];
    const double *restrict rp = M + (size_t)p * ld + jb;
    for (int q = 0; q < NV; q++) acc[q] = *(const v4d *)(rp + 4 * q);
    for (int i = p + 1; i < D; i++) {
        const double a = v[i];
        const v4d av = {a, a, a, a};
        const double *restrict r = M + (size_t)i * ld + jb;
        for (int q = 0; q < NV; q++) acc[q] += av * *(const v4d *)(r + 4 * q);
    }
    const v4d tv = {t, t, t, t};
    for (int q = 0; q < NV; q++) acc[q] *= tv;
    if (jb < jmin) {
        const int nz = jmin - jb; /* 1 .. 3 */
        acc[0][0] = 0.0;
        if (nz > 1) acc[0][1] = 0.0;
        if (nz > 2) acc[0][2] = 0.0;
    }
    double *restrict wp = M + (size_t)p * ld + jb;
    for (int q = 0; q < NV; q++) *(v4d *)(wp + 4 * q) -= acc[q];
    for (int i = p + 1; i < D; i++) {
        const double a = v[i];
        const v4d av = {a, a, a, a};
        double *restrict r = M + (size_t)i * ld + jb;
        for (int q = 0; q < NV; q++) *(v4d *)(r + 4 * q) -= av * acc[q];
    }
}

FR_INLINE void apply_reflector(double *restrict M, const int ld, const int D, const int p,
                               const double *restrict v, const double t, const int jmin, const int jend,
                               double *restrict w)
{
    (void)w;
    const int jend4 = (jend + 3) & ~3;
    for (int jb = jmin & ~3; jb < jend4;) {
        const int nv = (jend4 - jb) / 4 < 8 ? (jend4 - jb) / 4 : 8;
        switch (nv) {
        case 8: reflect_chunk(8, M, ld, D, p, jb, v, t, jmin); break;
        case 7: reflect_chunk(7, M, ld, D, p, jb, v, t, jmin); break;
        case 6: reflect_chunk(6, M, ld, D, p, jb, v, t, jmin); break;
        case 5: reflect_chunk(5, M, ld, D, p, jb, v, t, jmin); break;
        case 4: reflect_chunk(4, M, ld, D, p, jb, v, t, jmin); break;
        case 3: reflect_chunk(3, M, ld, D, p, jb, v, t, jmin); break;
        case 2: reflect_chunk(2, M, ld, D, p, jb, v, t, jmin); break;
        default: reflect_chunk(1, M, ld, D, p, jb, v, t, jmin); break;
        }
        jb += 4 * nv;
    }
}
#else
FR_INLINE void apply_reflector(double *restrict M, const int ld, const int D, const int p,
                               const double *restrict v, const double t, const int jmin, const int jend,
                               double *restrict w)
{
    const int nc = jend - jmin;
    double *restrict rowp = M + (size_t)p * ld + jmin;
    for (int j = 0; j < nc; j++) w[j] = rowp[j];
    for (int i = p + 1; i < D; i++) {
        const double vi = v[i];
        const double *restrict row = M + (size_t)i * ld + jmin;
        for (int j = 0; j < nc; j++) w[j] += vi * row[j];
    }
    for (int j = 0; j < nc; j++) {
        w[j] *= t;
        rowp[j] -= w[j];
    }
    for (int i = p + 1; i < D; i++) {
        const double vi = v[i];
        double *restrict row = M + (size_t)i * ld + jmin;
        for (int j = 0; j < nc; j++) row[j] -= vi * w[j];
    }
}
#endif

/* Copy the reflector p stored below the diagonal of V into the contiguous vector v (v[p] = 1). */
FR_INLINE void load_reflector(const double *restrict V, const int D, const int ldv, const int p, double *restrict v)
{
    v[p] = 1.0;
    for (int i = p + 1; i < D; i++) v[i] = V[(size_t)i * ldv + p];
}

/*
 * Blocked application of 4 reflectors (compact WY, Schreiber & Van Loan 1989; LAPACK's dlarft/dlarfb):
 * H_p0 H_p0+1 H_p0+2 H_p0+3 = I - Y T Y^T with Y (rows p0.., 4 columns, unit lower trapezoidal) and T upper
 * triangular. A panel with fewer than 4 reflectors is padded with zero columns of Y and T.
 */
FR_INLINE void build_panel(const double *restrict V, const int D, const int ldv, const int p0, const int pb,
                           const double *restrict tau, double *restrict Y, double *restrict T)
{
    for (int i = p0; i < D; i++) {
        for (int r = 0; r < 4; r++) {
            const int c = p0 + r;
            Y[(size_t)i * 4 + r] = (r >= pb || i < c) ? 0.0 : (i == c ? 1.0 : V[(size_t)i * ldv + c]);
        }
    }
    for (int e = 0; e < 16; e++) T[e] = 0.0;
    for (int j = 0; j < pb; j++) {
        const double tj = tau[p0 + j];
        T[j * 4 + j] = tj;
        if (tj == 0.0) continue;
        double z[4] = {0.0, 0.0, 0.0, 0.0};
        for (int i = p0 + j; i < D; i++) {
            const double yj = Y[(size_t)i * 4 + j];
            for (int l = 0; l < j; l++) z[l] += Y[(size_t)i * 4 + l] * yj;
        }
        for (int i = 0; i < j; i++) {
            double acc = 0.0;
            for (int l = i; l < j; l++) acc += T[i * 4 + l] * z[l];
            T[i * 4 + j] = -tj * acc;
        }
    }
}

/*
 * M[p0:, jmin:jend] <- (I - Y op(T) Y^T) M[p0:, jmin:jend], op(T) = T^T if transT (apply the reflectors in the
 * order H_p0 first, as in the factorization) else T (the product H_p0 ... H_p0+3, as when forming Q).
 * jmin must be a multiple of 4; columns in [jend, ceil4(jend)) must be zero padding.
 */
#if FR_VECTOR
FR_INLINE void block_chunk(const int NV, double *restrict M, const int ld, const int D, const int p0, const int jb,
                           const double *restrict Y, const double *restrict T, const int transT)
{
    v4d w[4][2];
    for (int s = 0; s < 4; s++)
        for (int q = 0; q < NV; q++) w[s][q] = (v4d){0.0, 0.0, 0.0, 0.0};
    for (int i = p0; i < D; i++) {
        const double *restrict yr = Y + (size_t)i * 4;
        const double *restrict r = M + (size_t)i * ld + jb;
        v4d c[2];
        for (int q = 0; q < NV; q++) c[q] = *(const v4d *)(r + 4 * q);
        for (int s = 0; s < 4; s++) {
            const v4d ys = {yr[s], yr[s], yr[s], yr[s]};
            for (int q = 0; q < NV; q++) w[s][q] += ys * c[q];
        }
    }
    v4d u[4][2];
    for (int a = 0; a < 4; a++) {
        for (int q = 0; q < NV; q++) u[a][q] = (v4d){0.0, 0.0, 0.0, 0.0};
        for (int b = 0; b < 4; b++) {
            const double tab = transT ? T[b * 4 + a] : T[a * 4 + b];
            const v4d tv = {tab, tab, tab, tab};
            for (int q = 0; q < NV; q++) u[a][q] += tv * w[b][q];
        }
    }
    for (int i = p0; i < D; i++) {
        const double *restrict yr = Y + (size_t)i * 4;
        double *restrict r = M + (size_t)i * ld + jb;
        v4d c[2];
        for (int q = 0; q < NV; q++) c[q] = *(const v4d *)(r + 4 * q);
        for (int s = 0; s < 4; s++) {
            const v4d ys = {yr[s], yr[s], yr[s], yr[s]};
            for (int q = 0; q < NV; q++) c[q] -= ys * u[s][q];
        }
        for (int q = 0; q < NV; q++) *(v4d *)(r + 4 * q) = c[q];
    }
}

FR_INLINE void block_apply(double *restrict M, const int ld, const int D, const int p0, const int jmin,
                           const int jend, const double *restrict Y, const double *restrict T, const int transT,
                           double *restrict w)
{
    (void)w;
    const int jend4 = (jend + 3) & ~3;
    int jb = jmin;
    for (; jb + 8 <= jend4; jb += 8) block_chunk(2, M, ld, D, p0, jb, Y, T, transT);
    if (jb < jend4) block_chunk(1, M, ld, D, p0, jb, Y, T, transT);
}
#else
FR_INLINE void block_apply(double *restrict M, const int ld, const int D, const int p0, const int jmin,
                           const int jend, const double *restrict Y, const double *restrict T, const int transT,
                           double *restrict w)
{
    const int nc = jend - jmin;
    double *restrict u = w + 4 * (size_t)ld;
    for (int e = 0; e < 4 * nc; e++) w[e] = 0.0;
    for (int i = p0; i < D; i++) {
        const double *restrict r = M + (size_t)i * ld + jmin;
        for (int s = 0; s < 4; s++) {
            const double ys = Y[(size_t)i * 4 + s];
            for (int j = 0; j < nc; j++) w[s * nc + j] += ys * r[j];
        }
    }
    for (int a = 0; a < 4; a++)
        for (int j = 0; j < nc; j++) {
            double acc = 0.0;
            for (int b = 0; b < 4; b++) acc += (transT ? T[b * 4 + a] : T[a * 4 + b]) * w[b * nc + j];
            u[a * nc + j] = acc;
        }
    for (int i = p0; i < D; i++) {
        double *restrict r = M + (size_t)i * ld + jmin;
        for (int s = 0; s < 4; s++) {
            const double ys = Y[(size_t)i * 4 + s];
            for (int j = 0; j < nc; j++) r[j] -= ys * u[s * nc + j];
        }
    }
}
#endif

/*
 * Householder QR of V (D x k used columns, leading dim ldv), in place: R on and above the diagonal, the reflector
 * vectors (implicit leading 1) below it, scalars in tau. Writes log|R_ii| to logr. Returns 1 if every R_ii is
 * finite (and, when require_nonzero, nonzero), else 0.
 */
FR_INLINE int householder_qr(double *restrict V, const int D, const int k, const int ldv, double *restrict tau,
                             double *restrict w, double *restrict vbuf, double *restrict Y, double *restrict T,
                             double *restrict logr, const int require_nonzero)
{
    int ok = 1;
    for (int p = 0; p < k; p++) {
        const int p0 = p & ~3;             /* panel of 4 columns p0 .. p0 + 3 */
        const int pend = p0 + 4 < k ? p0 + 4 : k;
        double *restrict vp = V + (size_t)p * ldv;
        const double alpha = vp[p];
        double xmax = 0.0;
        for (int i = p + 1; i < D; i++) {
            const double x = fabs(V[(size_t)i * ldv + p]);
            xmax = x > xmax ? x : xmax;
        }
        double beta, t;
        if (xmax == 0.0) {
            /* Nothing below the diagonal: H = I, R_pp = alpha. */
            beta = alpha;
            t = 0.0;
        } else {
            /* Norm scaled by the largest entry (no overflow or underflow in the sum of squares). Divisions where
               the divisor may be subnormal (its reciprocal would overflow), multiplications otherwise. */
            const double aa = fabs(alpha);
            const double scale = aa > xmax ? aa : xmax;
            double s2 = 0.0;
            if (scale >= FR_SAFE_MIN) {
                const double inv = 1.0 / scale;
                for (int i = p; i < D; i++) {
                    const double x = V[(size_t)i * ldv + p] * inv;
                    s2 += x * x;
                }
            } else {
                for (int i = p; i < D; i++) {
                    const double x = V[(size_t)i * ldv + p] / scale;
                    s2 += x * x;
                }
            }
            const double nrm = scale * sqrt(s2);
            beta = alpha >= 0.0 ? -nrm : nrm;
            t = (beta - alpha) / beta;
            const double den = alpha - beta; /* |den| >= nrm > 0 */
            if (fabs(den) >= FR_SAFE_MIN) {
                const double sc = 1.0 / den;
                for (int i = p + 1; i < D; i++) V[(size_t)i * ldv + p] *= sc;
            } else {
                for (int i = p + 1; i < D; i++) V[(size_t)i * ldv + p] /= den;
            }
            /* Apply H = I - t v v^T to the rest of the panel, columns p+1 .. pend-1. */
            if (p + 1 < pend) {
                load_reflector(V, D, ldv, p, vbuf);
                apply_reflector(V, ldv, D, p, vbuf, t, p + 1, pend, w);
            }
        }
        vp[p] = beta;
        tau[p] = t;
        const double ab = fabs(beta);
        if (!(ab <= DBL_MAX) || (require_nonzero && ab == 0.0)) ok = 0;
        logr[p] = log(ab);
        /* End of a panel: apply its 4 reflectors at once to the trailing columns pend .. k-1. */
        if (p == pend - 1 && pend < k) {
            build_panel(V, D, ldv, p0, pend - p0, tau, Y, T);
            block_apply(V, ldv, D, p0, pend, k, Y, T, 1, w);
        }
    }
    return ok;
}

/* Q (D x k, leading dim ldv) = H_0 H_1 ... H_{k-1} [I_k; 0] from the reflectors stored in V, by backward
 * accumulation one panel of 4 at a time (rows p0.. of the columns < p0 are still zero then). */
FR_INLINE void form_q(const double *restrict V, const int D, const int k, const int ldv, const double *restrict tau,
                      double *restrict w, double *restrict Y, double *restrict T, double *restrict Q)
{
    memset(Q, 0, sizeof(double) * (size_t)D * (size_t)ldv);
    for (int j = 0; j < k; j++) Q[(size_t)j * ldv + j] = 1.0;
    for (int p0 = (k - 1) & ~3; p0 >= 0; p0 -= 4) {
        const int pb = k - p0 < 4 ? k - p0 : 4;
        build_panel(V, D, ldv, p0, pb, tau, Y, T);
        block_apply(Q, ldv, D, p0, p0, k, Y, T, 0, w);
    }
    for (size_t e = 0; e < (size_t)D * (size_t)ldv; e++)
        if (fabs(Q[e]) < FR_FLUSH) Q[e] = 0.0;
}

/*
 * One block: V = J_{len-1} ... J_0 Qc, QR of V, next frame into Qn, log|R_ii| into logr.
 * Returns a pointer to the factored V (R in its upper triangle), or NULL when some R_ii is not finite (or is
 * zero for a block of several steps, a sign of underflow); Qc is left untouched either way.
 */
FR_INLINE double *block_impl(fr_work *ws, const double *restrict jac, const int64_t len, const int RB)
{
    const int D = ws->D, k = ws->k, ldv = ws->ldv;
    const size_t DD = (size_t)D * (size_t)D;
    const double *src = ws->Qc;
    double *dst = ws->V0;
    for (int64_t t = 0; t < len; t++) {
        gemm(RB, jac + (size_t)t * DD, D, src, ldv, dst);
        src = dst;
        dst = (dst == ws->V0) ? ws->V1 : ws->V0;
    }
    double *V = (double *)src;
    if (!householder_qr(V, D, k, ldv, ws->tau, ws->w, ws->vbuf, ws->Y, ws->T, ws->logr, len > 1)) return NULL;
    form_q(V, D, k, ldv, ws->tau, ws->w, ws->Y, ws->T, ws->Qn);
    return V;
}

#if FR_X86_DISPATCH
__attribute__((target("avx2,fma"))) static double *block_avx2(fr_work *ws, const double *jac, int64_t len)
{
    return block_impl(ws, jac, len, 6);
}
#endif

static double *block_generic(fr_work *ws, const double *jac, int64_t len) { return block_impl(ws, jac, len, 4); }

typedef double *(*block_fn)(fr_work *, const double *, int64_t);

static block_fn choose_block(void)
{
#if FR_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return block_avx2;
#endif
    return block_generic;
}

int fastrnn_core_abi(void) { return FASTRNN_CORE_ABI; }

int fastrnn_core_simd(void)
{
#if FR_X86_DISPATCH
    return choose_block() == block_avx2;
#else
    return 0;
#endif
}

/* tri <- R tri (both k x k upper triangular; R from the factored V), then rescale to max|entry| = 1. */
static void tri_update(const double *V, int k, int ldv, double *tri, double *tri_log_scale, double *trow)
{
    double mx = 0.0;
    for (int i = 0; i < k; i++) {
        for (int j = i; j < k; j++) {
            double s = 0.0;
            for (int l = i; l <= j; l++) s += V[(size_t)i * ldv + l] * tri[(size_t)l * k + j];
            trow[j] = s;
        }
        for (int j = 0; j < i; j++) tri[(size_t)i * k + j] = 0.0;
        for (int j = i; j < k; j++) {
            tri[(size_t)i * k + j] = trow[j];
            const double a = fabs(trow[j]);
            mx = a > mx ? a : mx;
        }
    }
    if (mx > 0.0 && mx <= DBL_MAX) {
        const double inv = 1.0 / mx;
        for (size_t e = 0; e < (size_t)k * k; e++) tri[e] *= inv;
        *tri_log_scale += log(mx);
    }
}

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(x[i]) <= DBL_MAX)) return 0;
    return 1;
}

int fastrnn_qr_accumulate(int64_t n_steps, int32_t dim, int32_t k, const double *jac, double *frame,
                          double *log_sums, int64_t *n_done, double *tri, double *tri_log_scale,
                          int32_t max_interval)
{
    if (n_steps < 0 || dim < 1 || k < 1 || k > dim || max_interval < 1) return FASTRNN_EARG;
    if (frame == NULL || log_sums == NULL || n_done == NULL) return FASTRNN_EARG;
    if (n_steps > 0 && jac == NULL) return FASTRNN_EARG;
    if (tri != NULL && tri_log_scale == NULL) return FASTRNN_EARG;
    if (n_steps == 0) return FASTRNN_OK;

    fr_work ws;
    int rc = work_alloc(&ws, dim, k);
    if (rc != FASTRNN_OK) return rc;
    const int D = dim, ldv = ws.ldv;
    const size_t DD = (size_t)D * (size_t)D;
    for (int i = 0; i < D; i++) memcpy(ws.Qc + (size_t)i * ldv, frame + (size_t)i * k, sizeof(double) * (size_t)k);

    const block_fn block = choose_block();
    int64_t pos = 0;
    int64_t m = 1; /* the first block is a single step; later blocks are sized from the observed growth rates */
    while (pos < n_steps) {
        const int64_t len = (n_steps - pos < m) ? (n_steps - pos) : m;
        const double *V = block(&ws, jac + (size_t)pos * DD, len);
        if (V == NULL) {
            if (len > 1) {
                m = 1; /* redo this stretch one step at a time */
                continue;
            }
            rc = all_finite(jac + (size_t)pos * DD, DD) ? FASTRNN_EOVERFLOW : FASTRNN_ENONFINITE;
            break;
        }
        double lo = HUGE_VAL, hi = -HUGE_VAL, mag = 0.0;
        for (int i = 0; i < k; i++) {
            const double lr = ws.logr[i];
            lo = lr < lo ? lr : lo;
            hi = lr > hi ? lr : hi;
            const double a = fabs(lr);
            mag = a > mag ? a : mag;
        }
        if (len > 1 && !(hi - lo <= FR_BLOCK_LOG_SPREAD_REJECT)) {
            /* The block grew more anisotropic than the previous one predicted: its small R_ii may carry rounding
               errors above ~1e-11 relative. Redo it in shorter blocks sized from the spread it showed. */
            const double b = (double)len * FASTRNN_BLOCK_LOG_SPREAD / (hi - lo);
            m = b >= 1.0 ? (int64_t)b : 1;
            continue;
        }
        /* Commit the block. */
        for (int i = 0; i < k; i++) log_sums[i] += ws.logr[i];
        if (tri != NULL) tri_update(V, k, ldv, tri, tri_log_scale, ws.trow);
        double *tmp = ws.Qc;
        ws.Qc = ws.Qn;
        ws.Qn = tmp;
        pos += len;
        *n_done += len;
        /* Next block length: keep the spread and the magnitude of log|R_ii| within one block bounded. */
        const double spread_rate = (hi - lo) / (double)len;
        const double mag_rate = mag / (double)len;
        double mm = (double)max_interval;
        if (spread_rate > 0.0) {
            const double b = FASTRNN_BLOCK_LOG_SPREAD / spread_rate;
            mm = b < mm ? b : mm;
        }
        if (mag_rate > 0.0) {
            const double b = FR_BLOCK_LOG_MAGNITUDE / mag_rate;
            mm = b < mm ? b : mm;
        }
        m = mm >= 1.0 ? (int64_t)mm : 1; /* NaN-free: hi - lo may be +inf, then mm = 0 and m = 1 */
    }
    for (int i = 0; i < D; i++) memcpy(frame + (size_t)i * k, ws.Qc + (size_t)i * ldv, sizeof(double) * (size_t)k);
    free(ws.mem);
    return rc;
}

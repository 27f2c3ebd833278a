/* backward/sparsemax.h: the gradient of sparsemax.h, added into grad_in (docs/format.md, Backward rules).
 *
 * Keras 3.15's sparsemax (with its tau; see sparsemax.h) differentiated as TensorFlow does:
 * y = maximum(x - tau, 0) passes g where x - tau >= 0; tau = (sum over the support of the
 * sorted cumsum - 1) / k sends -sum(passed g) / k back to each sorted position once for every
 * support position at or after it (a row without support: nothing), in sorted order (descending,
 * NaN first, ties by index, as kl_sparsemax_backward_before says).
 * grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SPARSEMAX_BACKWARD
#define KERASLESS_KERNEL_SPARSEMAX_BACKWARD

#include <stddef.h>

/* Whether (a, ia) comes before (b, ib) in descending order: NaN first, ties by index. */
static inline int kl_sparsemax_backward_before(float a, int ia, float b, int ib)
{
    const int a_nan = a != a, b_nan = b != b;
    if (a_nan || b_nan) {
        return a_nan && (!b_nan || ia < ib);
    }
    return a > b || (a == b && ia < ib);
}

/* The index of the value after `last` in sorted order (last < 0: the first). */
static inline int kl_sparsemax_backward_next(const float *x, int n, int last)
{
    int next = -1;
    for (int j = 0; j < n; j++) {
        if ((last < 0 || kl_sparsemax_backward_before(x[last], last, x[j], j)) &&
            (next < 0 || kl_sparsemax_backward_before(x[j], j, x[next], next))) {
            next = j;
        }
    }
    return next;
}

static inline void kl_sparsemax_backward(float *grad_in,        /* (rows, n): added to */
                                         const float *grad_out, /* (rows, n) */
                                         const float *inp,      /* (rows, n): the forward input */
                                         const float *out,      /* (rows, n): the forward output */
                                         int rows, int n)
{
    (void)out;
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n;      /* (n,) */
        const float *g = grad_out + (size_t)r * (size_t)n; /* (n,) */
        float *d = grad_in + (size_t)r * (size_t)n;        /* (n,) */
        float cumsum = 0.0f, support_sum = 0.0f, k = 0.0f;
        int last = -1;
        for (int rank = 1; rank <= n; rank++) { /* tau and the support size, as the forward pass */
            last = kl_sparsemax_backward_next(x, n, last);
            cumsum = cumsum + x[last];
            if (x[last] - (cumsum - 1.0f) / (float)rank > 0.0f) {
                support_sum = support_sum + cumsum;
                k = k + 1.0f;
            }
        }
        const float tau = (support_sum - 1.0f) / k;
        float passed = 0.0f;
        for (int j = 0; j < n; j++) {
            if (x[j] - tau >= 0.0f) {
                d[j] += g[j];
                passed += g[j];
            }
        }
        const float share = -passed / k;
        float after = k; /* support positions at or after the current sorted position */
        cumsum = 0.0f;
        last = -1;
        for (int rank = 1; rank <= n; rank++) {
            last = kl_sparsemax_backward_next(x, n, last);
            if (after > 0.0f) {
                d[last] += share * after;
            }
            cumsum = cumsum + x[last];
            if (x[last] - (cumsum - 1.0f) / (float)rank > 0.0f) {
                after = after - 1.0f;
            }
        }
    }
}

#endif /* KERASLESS_KERNEL_SPARSEMAX_BACKWARD */

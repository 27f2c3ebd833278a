/* backward/log_softmax.h: the gradient of log_softmax.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's log_softmax gradient over each row of n values, from the output y:
 * g - sum(g) * exp(y).
 * grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_LOG_SOFTMAX_BACKWARD
#define KERASLESS_KERNEL_LOG_SOFTMAX_BACKWARD

#include <math.h>
#include <stddef.h>

static inline void kl_log_softmax_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n)
{
    (void)inp;
    for (int r = 0; r < rows; r++) {
        const float *g = grad_out + (size_t)r * (size_t)n; /* (n,) */
        const float *y = out + (size_t)r * (size_t)n;      /* (n,) */
        float *d = grad_in + (size_t)r * (size_t)n;        /* (n,) */
        float total = 0.0f;
        for (int j = 0; j < n; j++) {
            total += g[j];
        }
        for (int j = 0; j < n; j++) {
            d[j] += g[j] - total * expf(y[j]);
        }
    }
}

#endif /* KERASLESS_KERNEL_LOG_SOFTMAX_BACKWARD */

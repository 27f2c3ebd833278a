/* backward/softmax.h: the gradient of softmax.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's softmax gradient over each row of n values, from the output y:
 * (g - sum(g * y)) * y.
 * grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SOFTMAX_BACKWARD
#define KERASLESS_KERNEL_SOFTMAX_BACKWARD

#include <stddef.h>

static inline void kl_softmax_backward(float *grad_in,        /* (rows, n): added to */
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
        float dot = 0.0f;
        for (int j = 0; j < n; j++) {
            dot += g[j] * y[j];
        }
        for (int j = 0; j < n; j++) {
            d[j] += (g[j] - dot) * y[j];
        }
    }
}

#endif /* KERASLESS_KERNEL_SOFTMAX_BACKWARD */

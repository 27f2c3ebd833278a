/* backward/reduce.h: the gradient of reduce.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's gradients: sum sends g to every value of the row, mean g / n; max and min share g
 * among the values equal to the result, (x == y) / count * g, so a row whose result is NaN (no value
 * equals it) gets NaN throughout. grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_REDUCE_BACKWARD
#define KERASLESS_KERNEL_REDUCE_BACKWARD

#include <stddef.h>

static inline void kl_reduce_backward(float *grad_in,        /* (rows, n): added to */
                                      const float *grad_out, /* (rows,) */
                                      const float *inp,      /* (rows, n): the forward input */
                                      const float *out,      /* (rows,): the forward output */
                                      int rows, int n, int function)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float *d = grad_in + (size_t)r * (size_t)n;   /* (n,) */
        const float g = grad_out[r];
        if (function <= 1) {
            const float share = function == 1 ? g / (float)n : g;
            for (int j = 0; j < n; j++) {
                d[j] += share;
            }
            continue;
        }
        float count = 0.0f;
        for (int j = 0; j < n; j++) {
            count += x[j] == out[r] ? 1.0f : 0.0f;
        }
        for (int j = 0; j < n; j++) {
            const float hit = x[j] == out[r] ? 1.0f : 0.0f;
            d[j] += (hit / count) * g;
        }
    }
}

#endif /* KERASLESS_KERNEL_REDUCE_BACKWARD */

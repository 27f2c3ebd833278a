/* backward/log_sigmoid.h: the gradient of log_sigmoid.h, added into grad_in (docs/format.md, Backward rules).
 *
 * -softplus(-x): SoftplusGrad at -x, g / (exp(x) + 1).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_LOG_SIGMOID_BACKWARD
#define KERASLESS_KERNEL_LOG_SIGMOID_BACKWARD

#include <math.h>

static inline void kl_log_sigmoid_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = g / (expf(x) + 1.0f);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_LOG_SIGMOID_BACKWARD */

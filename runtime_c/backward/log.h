/* backward/log.h: the gradient of log.h, added into grad_in (docs/format.md, Backward rules).
 *
 * g * reciprocal(x).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_LOG_BACKWARD
#define KERASLESS_KERNEL_LOG_BACKWARD

#include <float.h>

static inline void kl_log_backward(float *grad_in,        /* (rows, n): added to */
                                   const float *grad_out, /* (rows, n) */
                                   const float *inp,      /* (rows, n): the forward input */
                                   const float *out,      /* (rows, n): the forward output */
                                   int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = (inp[k] > -FLT_MIN && inp[k] < FLT_MIN) ? inp[k] * 0.0f : inp[k]; /* as the forward reads it */
        const float g = grad_out[k];
        const float d = g * (1.0f / x);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_LOG_BACKWARD */

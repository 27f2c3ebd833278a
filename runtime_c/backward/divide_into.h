/* backward/divide_into.h: the gradient of divide_into.h, added into grad_in (docs/format.md, Backward rules).
 *
 * RealDiv's gradient for the divisor: g * ((-dividend / x) / x).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_DIVIDE_INTO_BACKWARD
#define KERASLESS_KERNEL_DIVIDE_INTO_BACKWARD

#include <float.h>

static inline void kl_divide_into_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n, float dividend)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = (inp[k] > -FLT_MIN && inp[k] < FLT_MIN) ? inp[k] * 0.0f : inp[k]; /* as the forward reads it */
        const float g = grad_out[k];
        const float d = g * ((-dividend / x) / x);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_DIVIDE_INTO_BACKWARD */

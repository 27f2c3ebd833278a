/* backward/mish.h: the gradient of mish.h, added into grad_in (docs/format.md, Backward rules).
 *
 * x * tanh(softplus(x)) by the product rule, through TanhGrad and SoftplusGrad (g / (exp(-x) + 1)).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_MISH_BACKWARD
#define KERASLESS_KERNEL_MISH_BACKWARD

#include <math.h>

static inline void kl_mish_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float threshold = -13.9423847f; /* logf(FLT_EPSILON) + 2 */
        const float softplus = x > -threshold ? x : (x < threshold ? expf(x) : log1pf(expf(x)));
        const float t = tanhf(softplus);
        const float d = g * t + ((g * x) * (1.0f - t * t)) / (expf(-x) + 1.0f);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_MISH_BACKWARD */

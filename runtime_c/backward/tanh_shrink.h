/* backward/tanh_shrink.h: the gradient of tanh_shrink.h, added into grad_in (docs/format.md, Backward rules).
 *
 * x - tanh(x): g - g * (1 - tanh(x)^2).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_TANH_SHRINK_BACKWARD
#define KERASLESS_KERNEL_TANH_SHRINK_BACKWARD

#include <math.h>

static inline void kl_tanh_shrink_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float t = tanhf(x);
        const float d = g - g * (1.0f - t * t);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_TANH_SHRINK_BACKWARD */

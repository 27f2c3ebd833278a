/* backward/softsign.h: the gradient of softsign.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's SoftsignGrad: g / (1 + abs(x))^2.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SOFTSIGN_BACKWARD
#define KERASLESS_KERNEL_SOFTSIGN_BACKWARD

#include <math.h>

static inline void kl_softsign_backward(float *grad_in,        /* (rows, n): added to */
                                        const float *grad_out, /* (rows, n) */
                                        const float *inp,      /* (rows, n): the forward input */
                                        const float *out,      /* (rows, n): the forward output */
                                        int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float s = 1.0f + fabsf(x);
        const float d = g / (s * s);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SOFTSIGN_BACKWARD */

/* backward/silu.h: the gradient of silu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * tf.nn.silu's own gradient: g * s * (1 + x * (1 - s)), s = sigmoid(x) as sigmoid.h computes it.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SILU_BACKWARD
#define KERASLESS_KERNEL_SILU_BACKWARD

#include <math.h>

static inline void kl_silu_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        float s;
        if (x >= 0.0f) {
            s = 1.0f / (1.0f + expf(-x));
        } else {
            const float e = expf(x); /* x < 0 or NaN: e <= 1 */
            s = e / (1.0f + e);
        }
        const float d = g * (s * (1.0f + x * (1.0f - s)));
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SILU_BACKWARD */

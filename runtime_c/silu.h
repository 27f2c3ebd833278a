/* silu.h: y = x * sigmoid(x) elementwise (silu, also called swish), with the sigmoid of sigmoid.h.
 * -inf gives NaN (-inf * 0), as in Keras.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SILU
#define KERASLESS_KERNEL_SILU

#include <math.h>

static inline void kl_silu_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        float s;
        if (x >= 0.0f) {
            s = 1.0f / (1.0f + expf(-x));
        } else {
            const float e = expf(x); /* x < 0 or NaN: e <= 1 */
            s = e / (1.0f + e);
        }
        out[k] = x * s;
    }
}

#endif /* KERASLESS_KERNEL_SILU */

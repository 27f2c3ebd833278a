/* mish.h: y = x * tanh(softplus(x)) elementwise, with TensorFlow's softplus (see log_sigmoid.h).
 * -inf gives NaN (-inf * 0), as in Keras.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_MISH
#define KERASLESS_KERNEL_MISH

#include <math.h>

static inline void kl_mish_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float threshold = -13.9423847f; /* logf(FLT_EPSILON) + 2 */
        const float x = inp[k];
        const float softplus = x > -threshold ? x : (x < threshold ? expf(x) : log1pf(expf(x)));
        out[k] = x * tanhf(softplus);
    }
}

#endif /* KERASLESS_KERNEL_MISH */

/* celu.h: y = max(x, 0) + alpha * expm1(min(x, 0) / alpha) elementwise, as Keras 3 computes celu
 * (keras/src/backend/tensorflow/nn.py); max and min keep NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_CELU
#define KERASLESS_KERNEL_CELU

#include <math.h>

static inline void kl_celu_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n, float alpha)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float positive = x > 0.0f ? x : (x == x ? 0.0f : x); /* tf.maximum(x, 0): 0 for -0 */
        const float negative = x < 0.0f ? x : (x == x ? 0.0f : x);
        out[k] = positive + alpha * expm1f(negative / alpha);
    }
}

#endif /* KERASLESS_KERNEL_CELU */

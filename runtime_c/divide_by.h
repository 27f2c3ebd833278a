/* divide_by.h: y = x / divisor elementwise, one IEEE division (keras.ops.divide by a number; never x * (1 / divisor)).
 * A subnormal input reads as a zero of its sign (TensorFlow's denormals-are-zero: 0 / 0 is NaN).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_DIVIDE_BY
#define KERASLESS_KERNEL_DIVIDE_BY

#include <float.h>

static inline void kl_divide_by_forward(float *out,       /* (rows, n) */
                                        const float *inp, /* (rows, n) */
                                        int rows, int n, float divisor)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = (inp[k] > -FLT_MIN && inp[k] < FLT_MIN) ? inp[k] * 0.0f : inp[k]; /* TF's denormals-are-zero */
        out[k] = x / divisor;
    }
}

#endif /* KERASLESS_KERNEL_DIVIDE_BY */

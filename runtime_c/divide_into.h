/* divide_into.h: y = dividend / x elementwise, one IEEE division (keras.ops.divide of a number by a tensor).
 * A subnormal input reads as a zero of its sign (TensorFlow's denormals-are-zero).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_DIVIDE_INTO
#define KERASLESS_KERNEL_DIVIDE_INTO

#include <float.h>

static inline void kl_divide_into_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n, float dividend)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = (inp[k] > -FLT_MIN && inp[k] < FLT_MIN) ? inp[k] * 0.0f : inp[k]; /* TF's denormals-are-zero */
        out[k] = dividend / x;
    }
}

#endif /* KERASLESS_KERNEL_DIVIDE_INTO */

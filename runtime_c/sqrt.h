/* sqrt.h: y = sqrt(x) elementwise (keras.ops.sqrt), correctly rounded: NaN below 0, -0 at -0.
 * A subnormal input reads as a zero of its sign (TensorFlow's denormals-are-zero).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SQRT
#define KERASLESS_KERNEL_SQRT

#include <float.h>
#include <math.h>

static inline void kl_sqrt_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = (inp[k] > -FLT_MIN && inp[k] < FLT_MIN) ? inp[k] * 0.0f : inp[k]; /* TF's denormals-are-zero */
        out[k] = sqrtf(x);
    }
}

#endif /* KERASLESS_KERNEL_SQRT */

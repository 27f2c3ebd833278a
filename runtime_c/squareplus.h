/* squareplus.h: y = (x + sqrt(x^2 + b)) / 2 elementwise, in float32 as Keras computes it: x^2
 * overflows for |x| > 1.8e19, which makes the result inf (and NaN for -inf).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SQUAREPLUS
#define KERASLESS_KERNEL_SQUAREPLUS

#include <math.h>

static inline void kl_squareplus_forward(float *out,       /* (rows, n) */
                                         const float *inp, /* (rows, n) */
                                         int rows, int n, float b)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = (x + sqrtf(x * x + b)) / 2.0f;
    }
}

#endif /* KERASLESS_KERNEL_SQUAREPLUS */

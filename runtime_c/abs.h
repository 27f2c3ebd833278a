/* abs.h: y = |x| elementwise (keras.ops.abs); NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_ABS
#define KERASLESS_KERNEL_ABS

#include <math.h>

static inline void kl_abs_forward(float *out,       /* (rows, n) */
                                  const float *inp, /* (rows, n) */
                                  int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = fabsf(x);
    }
}

#endif /* KERASLESS_KERNEL_ABS */

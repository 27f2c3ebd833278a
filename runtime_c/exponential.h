/* exponential.h: y = exp(x) elementwise; overflows to inf above ~88.7, as in Keras.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_EXPONENTIAL
#define KERASLESS_KERNEL_EXPONENTIAL

#include <math.h>

static inline void kl_exponential_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        out[k] = expf(inp[k]);
    }
}

#endif /* KERASLESS_KERNEL_EXPONENTIAL */

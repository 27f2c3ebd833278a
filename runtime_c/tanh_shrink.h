/* tanh_shrink.h: y = x - tanh(x) elementwise.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_TANH_SHRINK
#define KERASLESS_KERNEL_TANH_SHRINK

#include <math.h>

static inline void kl_tanh_shrink_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x - tanhf(x);
    }
}

#endif /* KERASLESS_KERNEL_TANH_SHRINK */

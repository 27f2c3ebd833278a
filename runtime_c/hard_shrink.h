/* hard_shrink.h: y = x if |x| > threshold, else 0, elementwise (NaN gives 0, as in Keras).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_HARD_SHRINK
#define KERASLESS_KERNEL_HARD_SHRINK

#include <math.h>

static inline void kl_hard_shrink_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n, float threshold)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = fabsf(x) > threshold ? x : 0.0f;
    }
}

#endif /* KERASLESS_KERNEL_HARD_SHRINK */

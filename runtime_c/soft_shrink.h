/* soft_shrink.h: y = x - threshold if x > threshold, x + threshold if x < -threshold, else 0,
 * elementwise (NaN gives 0, as in Keras).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SOFT_SHRINK
#define KERASLESS_KERNEL_SOFT_SHRINK

static inline void kl_soft_shrink_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n, float threshold)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > threshold ? x - threshold : (x < -threshold ? x + threshold : 0.0f);
    }
}

#endif /* KERASLESS_KERNEL_SOFT_SHRINK */

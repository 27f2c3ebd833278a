/* threshold.h: y = x if x > threshold, else default_value, elementwise (NaN gives default_value).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_THRESHOLD
#define KERASLESS_KERNEL_THRESHOLD

static inline void kl_threshold_forward(float *out,       /* (rows, n) */
                                        const float *inp, /* (rows, n) */
                                        int rows, int n, float threshold, float default_value)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > threshold ? x : default_value;
    }
}

#endif /* KERASLESS_KERNEL_THRESHOLD */

/* threshold.h: y = x if x > threshold, else default_value, elementwise (NaN gives default_value).
 * TensorFlow compares with subnormals read as 0 (denormals-are-zero), so 1e-40 > 0 is false
 * there: both sides of the comparison are flushed the same way here. out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_THRESHOLD
#define KERASLESS_KERNEL_THRESHOLD

#include <float.h>
#include <math.h>

static inline void kl_threshold_forward(float *out,       /* (rows, n) */
                                        const float *inp, /* (rows, n) */
                                        int rows, int n, float threshold, float default_value)
{
    const float t = fabsf(threshold) < FLT_MIN ? 0.0f : threshold;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float compared = fabsf(x) < FLT_MIN ? 0.0f : x; /* NaN stays NaN */
        out[k] = compared > t ? x : default_value;
    }
}

#endif /* KERASLESS_KERNEL_THRESHOLD */

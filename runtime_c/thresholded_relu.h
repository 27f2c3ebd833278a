/* thresholded_relu.h: y = x * (x > theta ? 1 : 0), elementwise: Keras 2's ThresholdedReLU,
 * x * cast(x > theta), as a multiplication, so a NaN or -inf input gives NaN and an input at or
 * below theta gives x * 0 (-0.0 for a negative x). The comparison reads a subnormal x or theta as 0,
 * as TensorFlow's denormals-are-zero does (threshold.h). out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_THRESHOLDED_RELU
#define KERASLESS_KERNEL_THRESHOLDED_RELU

#include <float.h>
#include <math.h>

static inline void kl_thresholded_relu_forward(float *out,       /* (rows, n) */
                                               const float *inp, /* (rows, n) */
                                               int rows, int n, float theta)
{
    const float t = fabsf(theta) < FLT_MIN ? 0.0f : theta;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float compared = fabsf(x) < FLT_MIN ? 0.0f : x; /* NaN stays NaN */
        out[k] = x * (compared > t ? 1.0f : 0.0f);
    }
}

#endif /* KERASLESS_KERNEL_THRESHOLDED_RELU */

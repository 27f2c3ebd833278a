/* log_sigmoid.h: y = -softplus(-x) elementwise (tf.math.log_sigmoid), with TensorFlow's softplus:
 * z above 13.94, exp(z) below -13.94, log1p(exp(z)) between (threshold = log(FLT_EPSILON) + 2).
 * Never overflows: large negative x gives x, large positive x gives -0.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_LOG_SIGMOID
#define KERASLESS_KERNEL_LOG_SIGMOID

#include <math.h>

static inline void kl_log_sigmoid_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float threshold = -13.9423847f; /* logf(FLT_EPSILON) + 2 */
        const float z = -inp[k];
        const float softplus = z > -threshold ? z : (z < threshold ? expf(z) : log1pf(expf(z)));
        out[k] = -softplus;
    }
}

#endif /* KERASLESS_KERNEL_LOG_SIGMOID */

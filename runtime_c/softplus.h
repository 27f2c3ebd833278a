/* softplus.h: y = log(1 + exp(x)) elementwise, as TensorFlow's Softplus (tensorflow/core/kernels/softplus_op.h):
 * x above 13.94, exp(x) below -13.94, log1p(exp(x)) between (threshold = log(FLT_EPSILON) + 2),
 * so expf never overflows.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SOFTPLUS
#define KERASLESS_KERNEL_SOFTPLUS

#include <math.h>

static inline void kl_softplus_forward(float *out,       /* (rows, n) */
                                       const float *inp, /* (rows, n) */
                                       int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float threshold = -13.9423847f; /* logf(FLT_EPSILON) + 2 */
        const float x = inp[k];
        out[k] = x > -threshold ? x : (x < threshold ? expf(x) : log1pf(expf(x)));
    }
}

#endif /* KERASLESS_KERNEL_SOFTPLUS */

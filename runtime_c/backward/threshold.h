/* backward/threshold.h: the gradient of threshold.h, added into grad_in (docs/format.md, Backward rules).
 *
 * g where x > threshold (a subnormal x or threshold compares as 0, as in the forward pass), else 0.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_THRESHOLD_BACKWARD
#define KERASLESS_KERNEL_THRESHOLD_BACKWARD

#include <float.h>
#include <math.h>

static inline void kl_threshold_backward(float *grad_in,        /* (rows, n): added to */
                                         const float *grad_out, /* (rows, n) */
                                         const float *inp,      /* (rows, n): the forward input */
                                         const float *out,      /* (rows, n): the forward output */
                                         int rows, int n, float threshold, float default_value)
{
    (void)out;
    (void)default_value;
    const float t = fabsf(threshold) < FLT_MIN ? 0.0f : threshold;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float compared = fabsf(x) < FLT_MIN ? 0.0f : x; /* NaN stays NaN */
        const float d = compared > t ? g : 0.0f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_THRESHOLD_BACKWARD */

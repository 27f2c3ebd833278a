/* backward/thresholded_relu.h: the gradient of thresholded_relu.h, added into grad_in (docs/format.md,
 * Backward rules).
 *
 * g * (x > theta ? 1 : 0), a multiplication as in Keras 2's x * cast(x > theta) (an inf or NaN g gives
 * NaN where the step is 0); the comparison as in the forward pass. grad_in += that, value by value;
 * grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_THRESHOLDED_RELU_BACKWARD
#define KERASLESS_KERNEL_THRESHOLDED_RELU_BACKWARD

#include <float.h>
#include <math.h>

static inline void kl_thresholded_relu_backward(float *grad_in,        /* (rows, n): added to */
                                                const float *grad_out, /* (rows, n) */
                                                const float *inp,      /* (rows, n): the forward input */
                                                const float *out,      /* (rows, n): the forward output */
                                                int rows, int n, float theta)
{
    (void)out;
    const float t = fabsf(theta) < FLT_MIN ? 0.0f : theta;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float compared = fabsf(x) < FLT_MIN ? 0.0f : x; /* NaN stays NaN */
        grad_in[k] += grad_out[k] * (compared > t ? 1.0f : 0.0f);
    }
}

#endif /* KERASLESS_KERNEL_THRESHOLDED_RELU_BACKWARD */

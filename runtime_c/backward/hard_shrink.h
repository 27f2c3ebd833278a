/* backward/hard_shrink.h: the gradient of hard_shrink.h, added into grad_in (docs/format.md, Backward rules).
 *
 * g where abs(x) > threshold, else 0 (0 at the threshold and for NaN).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_HARD_SHRINK_BACKWARD
#define KERASLESS_KERNEL_HARD_SHRINK_BACKWARD

#include <math.h>

static inline void kl_hard_shrink_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n, float threshold)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = fabsf(x) > threshold ? g : 0.0f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_HARD_SHRINK_BACKWARD */

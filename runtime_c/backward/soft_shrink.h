/* backward/soft_shrink.h: the gradient of soft_shrink.h, added into grad_in (docs/format.md, Backward rules).
 *
 * g where x > threshold or x < -threshold, else 0.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SOFT_SHRINK_BACKWARD
#define KERASLESS_KERNEL_SOFT_SHRINK_BACKWARD

static inline void kl_soft_shrink_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n, float threshold)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = (x > threshold || x < -threshold) ? g : 0.0f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SOFT_SHRINK_BACKWARD */

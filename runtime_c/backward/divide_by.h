/* backward/divide_by.h: the gradient of divide_by.h, added into grad_in (docs/format.md, Backward rules).
 *
 * RealDiv's gradient: g / divisor.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_DIVIDE_BY_BACKWARD
#define KERASLESS_KERNEL_DIVIDE_BY_BACKWARD

static inline void kl_divide_by_backward(float *grad_in,        /* (rows, n): added to */
                                         const float *grad_out, /* (rows, n) */
                                         const float *inp,      /* (rows, n): the forward input */
                                         const float *out,      /* (rows, n): the forward output */
                                         int rows, int n, float divisor)
{
    (void)inp;
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float g = grad_out[k];
        const float d = g / divisor;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_DIVIDE_BY_BACKWARD */

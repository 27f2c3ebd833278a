/* backward/exponential.h: the gradient of exponential.h, added into grad_in (docs/format.md, Backward rules).
 *
 * g * exp(x), from the forward output.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_EXPONENTIAL_BACKWARD
#define KERASLESS_KERNEL_EXPONENTIAL_BACKWARD

static inline void kl_exponential_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n)
{
    (void)inp;
    for (int k = 0; k < rows * n; k++) {
        const float y = out[k];
        const float g = grad_out[k];
        const float d = g * y;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_EXPONENTIAL_BACKWARD */

/* backward/linear.h: the gradient of linear.h, added into grad_in (docs/format.md, Backward rules).
 *
 * g.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_LINEAR_BACKWARD
#define KERASLESS_KERNEL_LINEAR_BACKWARD

static inline void kl_linear_backward(float *grad_in,        /* (rows, n): added to */
                                      const float *grad_out, /* (rows, n) */
                                      const float *inp,      /* (rows, n): the forward input */
                                      const float *out,      /* (rows, n): the forward output */
                                      int rows, int n)
{
    (void)inp;
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float g = grad_out[k];
        const float d = g;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_LINEAR_BACKWARD */

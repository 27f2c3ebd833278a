/* backward/square.h: the gradient of square.h, added into grad_in (docs/format.md, Backward rules).
 *
 * g * (2 * x).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SQUARE_BACKWARD
#define KERASLESS_KERNEL_SQUARE_BACKWARD

static inline void kl_square_backward(float *grad_in,        /* (rows, n): added to */
                                      const float *grad_out, /* (rows, n) */
                                      const float *inp,      /* (rows, n): the forward input */
                                      const float *out,      /* (rows, n): the forward output */
                                      int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = g * (2.0f * x);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SQUARE_BACKWARD */

/* backward/hard_sigmoid.h: the gradient of hard_sigmoid.h, added into grad_in (docs/format.md, Backward rules).
 *
 * relu6(x + 3) / 6: Relu6Grad multiplies g / 6 by (0 < x + 3 < 6); 0 at -3 and 3.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_HARD_SIGMOID_BACKWARD
#define KERASLESS_KERNEL_HARD_SIGMOID_BACKWARD

static inline void kl_hard_sigmoid_backward(float *grad_in,        /* (rows, n): added to */
                                            const float *grad_out, /* (rows, n) */
                                            const float *inp,      /* (rows, n): the forward input */
                                            const float *out,      /* (rows, n): the forward output */
                                            int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float s = x + 3.0f;
        const float d = (g / 6.0f) * ((s > 0.0f && s < 6.0f) ? 1.0f : 0.0f);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_HARD_SIGMOID_BACKWARD */

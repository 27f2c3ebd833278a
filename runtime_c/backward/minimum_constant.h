/* backward/minimum_constant.h: the gradient of minimum_constant.h, added into grad_in (docs/format.md, Backward rules).
 *
 * tf.minimum's gradient: g where x <= value, else 0 (0 for NaN).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_MINIMUM_CONSTANT_BACKWARD
#define KERASLESS_KERNEL_MINIMUM_CONSTANT_BACKWARD

static inline void kl_minimum_constant_backward(float *grad_in,        /* (rows, n): added to */
                                                const float *grad_out, /* (rows, n) */
                                                const float *inp,      /* (rows, n): the forward input */
                                                const float *out,      /* (rows, n): the forward output */
                                                int rows, int n, float value)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = x <= value ? g : 0.0f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_MINIMUM_CONSTANT_BACKWARD */

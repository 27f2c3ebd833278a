/* backward/tanh.h: the gradient of tanh.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's TanhGrad, from the output: g * (1 - y^2).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_TANH_BACKWARD
#define KERASLESS_KERNEL_TANH_BACKWARD

static inline void kl_tanh_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n)
{
    (void)inp;
    for (int k = 0; k < rows * n; k++) {
        const float y = out[k];
        const float g = grad_out[k];
        const float d = g * (1.0f - y * y);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_TANH_BACKWARD */

/* backward/selu.h: the gradient of selu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's SeluGrad, from the output: y < 0 ? g * (y + 1.7580993) : g * 1.0507010.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SELU_BACKWARD
#define KERASLESS_KERNEL_SELU_BACKWARD

static inline void kl_selu_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n)
{
    (void)inp;
    for (int k = 0; k < rows * n; k++) {
        const float y = out[k];
        const float g = grad_out[k];
        const float d = y < 0.0f ? g * (y + 1.7580993408473768599402175208123f) : g * 1.0507009873554804934193349852946f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SELU_BACKWARD */

/* backward/sigmoid.h: the gradient of sigmoid.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's SigmoidGrad, from the output: g * y * (1 - y).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SIGMOID_BACKWARD
#define KERASLESS_KERNEL_SIGMOID_BACKWARD

static inline void kl_sigmoid_backward(float *grad_in,        /* (rows, n): added to */
                                       const float *grad_out, /* (rows, n) */
                                       const float *inp,      /* (rows, n): the forward input */
                                       const float *out,      /* (rows, n): the forward output */
                                       int rows, int n)
{
    (void)inp;
    for (int k = 0; k < rows * n; k++) {
        const float y = out[k];
        const float g = grad_out[k];
        const float d = g * y * (1.0f - y);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SIGMOID_BACKWARD */

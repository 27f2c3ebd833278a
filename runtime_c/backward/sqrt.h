/* backward/sqrt.h: the gradient of sqrt.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's SqrtGrad (tensorflow/core/kernels/cwise_ops_gradients.h): 0 where g is 0, else
 * (0.5 * g) / y, from the forward output.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SQRT_BACKWARD
#define KERASLESS_KERNEL_SQRT_BACKWARD

static inline void kl_sqrt_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n)
{
    (void)inp;
    for (int k = 0; k < rows * n; k++) {
        const float y = out[k];
        const float g = grad_out[k];
        const float d = g == 0.0f ? 0.0f : (0.5f * g) / y;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SQRT_BACKWARD */

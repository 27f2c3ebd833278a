/* backward/leaky_relu.h: the gradient of leaky_relu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * TensorFlow's LeakyReluGrad: x > 0 ? g : g * negative_slope (the slope at 0 and for NaN).
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_LEAKY_RELU_BACKWARD
#define KERASLESS_KERNEL_LEAKY_RELU_BACKWARD

static inline void kl_leaky_relu_backward(float *grad_in,        /* (rows, n): added to */
                                          const float *grad_out, /* (rows, n) */
                                          const float *inp,      /* (rows, n): the forward input */
                                          const float *out,      /* (rows, n): the forward output */
                                          int rows, int n, float negative_slope)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = x > 0.0f ? g : g * negative_slope;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_LEAKY_RELU_BACKWARD */

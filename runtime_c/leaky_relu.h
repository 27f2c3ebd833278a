/* leaky_relu.h: y = x if x > 0, else negative_slope * x, elementwise (tf.nn.leaky_relu).
 * NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_LEAKY_RELU
#define KERASLESS_KERNEL_LEAKY_RELU

static inline void kl_leaky_relu_forward(float *out,       /* (rows, n) */
                                         const float *inp, /* (rows, n) */
                                         int rows, int n, float negative_slope)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > 0.0f ? x : x * negative_slope;
    }
}

#endif /* KERASLESS_KERNEL_LEAKY_RELU */

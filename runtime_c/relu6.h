/* relu6.h: y = min(max(x, 0), 6) elementwise; NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_RELU6
#define KERASLESS_KERNEL_RELU6

static inline void kl_relu6_forward(float *out,       /* (rows, n) */
                                    const float *inp, /* (rows, n) */
                                    int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > 6.0f ? 6.0f : (x > 0.0f ? x : (x == x ? 0.0f : x));
    }
}

#endif /* KERASLESS_KERNEL_RELU6 */

/* hard_sigmoid.h: y = relu6(x + 3) / 6 elementwise: Keras 3's hard_sigmoid (Keras 2 used
 * clip(0.2 x + 0.5, 0, 1)). NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_HARD_SIGMOID
#define KERASLESS_KERNEL_HARD_SIGMOID

static inline void kl_hard_sigmoid_forward(float *out,       /* (rows, n) */
                                           const float *inp, /* (rows, n) */
                                           int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float s = inp[k] + 3.0f;
        const float r = s > 6.0f ? 6.0f : (s > 0.0f ? s : (s == s ? 0.0f : s)); /* relu6, NaN kept */
        out[k] = r / 6.0f;
    }
}

#endif /* KERASLESS_KERNEL_HARD_SIGMOID */

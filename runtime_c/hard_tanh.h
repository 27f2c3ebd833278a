/* hard_tanh.h: y = clip(x, -1, 1) elementwise; NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_HARD_TANH
#define KERASLESS_KERNEL_HARD_TANH

static inline void kl_hard_tanh_forward(float *out,       /* (rows, n) */
                                        const float *inp, /* (rows, n) */
                                        int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x);
    }
}

#endif /* KERASLESS_KERNEL_HARD_TANH */

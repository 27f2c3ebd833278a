/* hard_silu.h: y = x * relu6(x + 3) / 6 elementwise (hard_silu, also called hard_swish).
 * -inf gives NaN (-inf * 0), as in Keras.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_HARD_SILU
#define KERASLESS_KERNEL_HARD_SILU

static inline void kl_hard_silu_forward(float *out,       /* (rows, n) */
                                        const float *inp, /* (rows, n) */
                                        int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float s = x + 3.0f;
        const float r = s > 6.0f ? 6.0f : (s > 0.0f ? s : (s == s ? 0.0f : s)); /* relu6, NaN kept */
        out[k] = x * (r / 6.0f);
    }
}

#endif /* KERASLESS_KERNEL_HARD_SILU */

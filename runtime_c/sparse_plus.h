/* sparse_plus.h: y = 0 if x <= -1, (x + 1)^2 / 4 if x < 1, else x, elementwise. NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SPARSE_PLUS
#define KERASLESS_KERNEL_SPARSE_PLUS

static inline void kl_sparse_plus_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float s = x + 1.0f;
        out[k] = x <= -1.0f ? 0.0f : (x < 1.0f ? 0.25f * (s * s) : x);
    }
}

#endif /* KERASLESS_KERNEL_SPARSE_PLUS */

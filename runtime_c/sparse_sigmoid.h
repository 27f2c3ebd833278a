/* sparse_sigmoid.h: y = 0 if x <= -1, 1 if x >= 1, else (x + 1) / 2, elementwise. NaN stays NaN.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SPARSE_SIGMOID
#define KERASLESS_KERNEL_SPARSE_SIGMOID

static inline void kl_sparse_sigmoid_forward(float *out,       /* (rows, n) */
                                             const float *inp, /* (rows, n) */
                                             int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x <= -1.0f ? 0.0f : (x >= 1.0f ? 1.0f : 0.5f * (x + 1.0f));
    }
}

#endif /* KERASLESS_KERNEL_SPARSE_SIGMOID */

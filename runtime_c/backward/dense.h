/* backward/dense.h: the gradient of dense.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * MatMul's gradient: grad_in[r][i] += sum_j kernel[i][j] * grad_out[r][j], row by row (the
 * activation's gradient is applied to grad_out first, by its own kernel). The kernel is read in
 * its (n_in, n_out) layout, one row per input value.
 */
#ifndef KERASLESS_KERNEL_DENSE_BACKWARD
#define KERASLESS_KERNEL_DENSE_BACKWARD

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

#include <stddef.h>

static inline void kl_dense_backward(float *grad_in,        /* (rows, n_in): added to */
                                     const float *grad_out, /* (rows, n_out) */
                                     const float *kernel,   /* (n_in, n_out) */
                                     int rows, int n_in, int n_out)
{
    for (int r = 0; r < rows; r++) {
        const float *g = grad_out + (size_t)r * (size_t)n_out; /* (n_out,) */
        float *d = grad_in + (size_t)r * (size_t)n_in;         /* (n_in,) */
        for (int i = 0; i < n_in; i++) {
            const float *w = kernel + (size_t)i * (size_t)n_out; /* (n_out,): row i of the kernel */
            float sum = 0.0f;
            for (int j = 0; j < n_out; j++) {
                sum = sum + KL_LOAD_F32(w + j) * g[j];
            }
            d[i] += sum;
        }
    }
}

#endif /* KERASLESS_KERNEL_DENSE_BACKWARD */

/* dense.h: fully connected layer, out = inp @ kernel + bias, applied to the last axis.
 *
 * Accumulation order (reproduces Keras 3 / TensorFlow on CPU bit for bit at batch 1):
 * each output starts at 0.0f, adds inp[i] * kernel[i][j] for i = 0 .. n_in-1 in order
 * with one rounding per step (fmaf), and only then adds the bias. The loop is written
 * i-outer, j-inner over the Keras (n_in, n_out) layout so the inner loop vectorizes.
 * fmaf is called explicitly: the result never depends on -ffp-contract.
 *
 * out must not overlap inp.
 */
#ifndef KERASLESS_KERNEL_DENSE
#define KERASLESS_KERNEL_DENSE

#include <math.h>
#include <stddef.h>

static inline void kl_dense_forward(float *out,          /* (rows, n_out) */
                                    const float *inp,    /* (rows, n_in) */
                                    const float *kernel, /* (n_in, n_out), row-major as Keras stores it */
                                    const float *bias,   /* (n_out,), or NULL for use_bias=False */
                                    int rows, int n_in, int n_out)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n_in; /* (n_in,) */
        float *y = out + (size_t)r * (size_t)n_out;      /* (n_out,) */
        for (int j = 0; j < n_out; j++) {
            y[j] = 0.0f;
        }
        for (int i = 0; i < n_in; i++) {
            const float xi = x[i];
            const float *w = kernel + (size_t)i * (size_t)n_out; /* (n_out,): row i of the kernel */
            for (int j = 0; j < n_out; j++) {
                y[j] = fmaf(xi, w[j], y[j]);
            }
        }
        if (bias != NULL) {
            for (int j = 0; j < n_out; j++) {
                y[j] = y[j] + bias[j];
            }
        }
    }
}

#endif /* KERASLESS_KERNEL_DENSE */

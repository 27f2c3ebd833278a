/* backward/layer_norm.h: the gradient of layer_norm.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * Keras 3 LayerNormalization over the last axis, through the row's mean and variance, in double
 * and rounded once (as the forward kernel): with g' = grad_out * gamma and xhat = (x - mean) * inv,
 * inv * (g' - mean(g') - xhat * mean(g' * xhat)); rms_scaling (x * inv * gamma, inv from the
 * variance about the mean): g' * inv - (x - mean) * inv^3 * mean(g' * x). gamma may be NULL.
 */
#ifndef KERASLESS_KERNEL_LAYER_NORM_BACKWARD
#define KERASLESS_KERNEL_LAYER_NORM_BACKWARD

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

#include <math.h>
#include <stddef.h>

static inline void kl_layer_norm_backward(float *grad_in,        /* (rows, n): added to */
                                          const float *grad_out, /* (rows, n) */
                                          const float *inp,      /* (rows, n): the forward input */
                                          const float *gamma,    /* (n,), or NULL */
                                          int rows, int n, float epsilon, int rms_scaling)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n;      /* (n,) */
        const float *g = grad_out + (size_t)r * (size_t)n; /* (n,) */
        float *d = grad_in + (size_t)r * (size_t)n;        /* (n,) */
        double mean = 0.0, variance = 0.0, mean_g = 0.0, mean_gx = 0.0, mean_gc = 0.0;
        for (int j = 0; j < n; j++) {
            mean += (double)x[j];
        }
        mean /= (double)n;
        for (int j = 0; j < n; j++) {
            const double c = (double)x[j] - mean;
            const double gj = (double)g[j] * (gamma != NULL ? (double)KL_LOAD_F32(gamma + j) : 1.0);
            variance += c * c;
            mean_g += gj;
            mean_gx += gj * (double)x[j];
            mean_gc += gj * c;
        }
        variance /= (double)n;
        mean_g /= (double)n;
        mean_gx /= (double)n;
        mean_gc /= (double)n;
        const double inv = 1.0 / sqrt(variance + (double)epsilon);
        for (int j = 0; j < n; j++) {
            const double c = (double)x[j] - mean;
            const double gj = (double)g[j] * (gamma != NULL ? (double)KL_LOAD_F32(gamma + j) : 1.0);
            const double value = rms_scaling ? gj * inv - c * inv * inv * inv * mean_gx
                                             : inv * (gj - mean_g - c * inv * inv * mean_gc);
            d[j] += (float)value;
        }
    }
}

#endif /* KERASLESS_KERNEL_LAYER_NORM_BACKWARD */

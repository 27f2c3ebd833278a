/* layer_norm.h: Keras 3 LayerNormalization over the last axis (groups of n values).
 *
 *   mean = sum(x) / n,  var = sum((x - mean)^2) / n,  inv = 1 / sqrt(var + epsilon)
 *   rms_scaling == 0:  y = x * (inv * gamma) + (beta - mean * (inv * gamma))
 *   rms_scaling == 1:  y = x * inv * gamma      (Keras 3's rms_scaling: the mean is still subtracted
 *                                                from the variance, not from x)
 *
 * gamma or beta may be NULL (scale=False, center=False). Everything is computed in double and
 * rounded to float once per value: in float32, x * inv + (beta - mean * inv) cancels badly when the
 * variance is tiny next to the mean, while Keras's own result stays near the exact value (measured:
 * a one-wide axis at 1e4), so the exact value is the one to reproduce.
 * out == inp is allowed: a row is read completely before any of it is written.
 */
#ifndef KERASLESS_KERNEL_LAYER_NORM
#define KERASLESS_KERNEL_LAYER_NORM

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

#include <math.h>
#include <stddef.h>

static inline void kl_layer_norm_forward(float *out,         /* (rows, n) */
                                         const float *inp,   /* (rows, n) */
                                         const float *gamma, /* (n,), or NULL */
                                         const float *beta,  /* (n,), or NULL */
                                         int rows, int n, float epsilon, int rms_scaling)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float *y = out + (size_t)r * (size_t)n;       /* (n,) */
        double sum = 0.0;
        for (int j = 0; j < n; j++) {
            sum += (double)x[j];
        }
        const double mean = sum / (double)n;
        double square_sum = 0.0;
        for (int j = 0; j < n; j++) {
            const double d = (double)x[j] - mean;
            square_sum += d * d;
        }
        const double inv = 1.0 / sqrt(square_sum / (double)n + (double)epsilon);
        for (int j = 0; j < n; j++) {
            double value;
            if (rms_scaling) {
                value = (double)x[j] * inv;
                if (gamma != NULL) {
                    value = value * (double)KL_LOAD_F32(gamma + j);
                }
            } else {
                const double scale = gamma != NULL ? inv * (double)KL_LOAD_F32(gamma + j) : inv;
                double shift = -mean * scale;
                if (beta != NULL) {
                    shift = shift + (double)KL_LOAD_F32(beta + j);
                }
                value = (double)x[j] * scale + shift;
            }
            y[j] = (float)value;
        }
    }
}

#endif /* KERASLESS_KERNEL_LAYER_NORM */

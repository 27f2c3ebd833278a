/* backward/rms_norm.h: the gradient of rms_norm.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = x * rsqrt(mean(x^2) + eps) * scale: with g' = grad_out * scale,
 * g' * inv - x * inv^3 * mean(g' * x), in double and rounded once.
 */
#ifndef KERASLESS_KERNEL_RMS_NORM_BACKWARD
#define KERASLESS_KERNEL_RMS_NORM_BACKWARD

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

#include <math.h>
#include <stddef.h>

static inline void kl_rms_norm_backward(float *grad_in,        /* (rows, n): added to */
                                        const float *grad_out, /* (rows, n) */
                                        const float *inp,      /* (rows, n): the forward input */
                                        const float *scale,    /* (n,) */
                                        int rows, int n, float epsilon)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n;      /* (n,) */
        const float *g = grad_out + (size_t)r * (size_t)n; /* (n,) */
        float *d = grad_in + (size_t)r * (size_t)n;        /* (n,) */
        double square_mean = 0.0, mean_gx = 0.0;
        for (int j = 0; j < n; j++) {
            square_mean += (double)x[j] * (double)x[j];
            mean_gx += (double)g[j] * (double)KL_LOAD_F32(scale + j) * (double)x[j];
        }
        square_mean /= (double)n;
        mean_gx /= (double)n;
        const double inv = 1.0 / sqrt(square_mean + (double)epsilon);
        for (int j = 0; j < n; j++) {
            d[j] += (float)((double)g[j] * (double)KL_LOAD_F32(scale + j) * inv - (double)x[j] * inv * inv * inv * mean_gx);
        }
    }
}

#endif /* KERASLESS_KERNEL_RMS_NORM_BACKWARD */

/* rms_norm.h: Keras's RMSNormalization over the last axis (groups of n values), in float32:
 *
 *   inv = 1 / sqrt(sum(x^2) / n + epsilon),  y = (x * inv) * scale
 *
 * out == inp is allowed: a row is read completely before any of it is written.
 */
#ifndef KERASLESS_KERNEL_RMS_NORM
#define KERASLESS_KERNEL_RMS_NORM

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

#include <math.h>
#include <stddef.h>

static inline void kl_rms_norm_forward(float *out,         /* (rows, n) */
                                       const float *inp,   /* (rows, n) */
                                       const float *scale, /* (n,) */
                                       int rows, int n, float epsilon)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float *y = out + (size_t)r * (size_t)n;       /* (n,) */
        float square_sum = 0.0f;
        for (int j = 0; j < n; j++) {
            const float square = x[j] * x[j];
            square_sum = square_sum + square;
        }
        const float inv = 1.0f / sqrtf(square_sum / (float)n + epsilon);
        for (int j = 0; j < n; j++) {
            const float normalized = x[j] * inv;
            y[j] = normalized * KL_LOAD_F32(scale + j);
        }
    }
}

#endif /* KERASLESS_KERNEL_RMS_NORM */

/* backward/unit_norm.h: the gradient of unit_norm.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = x * inv over the last axis: grad_out * inv, minus x * inv_raw^3 * sum(grad_out * x) where the
 * gradient reaches the sum of squares s: Keras 3 (clamp_inverse, inv = min(rsqrt(s), 1/eps)) where
 * rsqrt(s) <= 1/eps, Keras 2 (inv = rsqrt(max(s, eps))) where s >= eps. In double, rounded once.
 */
#ifndef KERASLESS_KERNEL_UNIT_NORM_BACKWARD
#define KERASLESS_KERNEL_UNIT_NORM_BACKWARD

#include <math.h>
#include <stddef.h>

static inline void kl_unit_norm_backward(float *grad_in,        /* (rows, n): added to */
                                         const float *grad_out, /* (rows, n) */
                                         const float *inp,      /* (rows, n): the forward input */
                                         int rows, int n, float epsilon, int clamp_inverse)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n;      /* (n,) */
        const float *g = grad_out + (size_t)r * (size_t)n; /* (n,) */
        float *d = grad_in + (size_t)r * (size_t)n;        /* (n,) */
        float square_sum = 0.0f;
        double gx = 0.0;
        for (int j = 0; j < n; j++) {
            square_sum = square_sum + x[j] * x[j];
            gx += (double)g[j] * (double)x[j];
        }
        const double s = (double)square_sum, limit = 1.0 / (double)epsilon;
        double inv, raw;
        int through;
        if (clamp_inverse) {
            raw = 1.0 / sqrt(s); /* inf for s == 0 */
            inv = raw < limit ? raw : limit;
            through = raw <= limit;
        } else {
            raw = inv = 1.0 / sqrt(s > (double)epsilon ? s : (double)epsilon);
            through = s >= (double)epsilon;
        }
        const double spread = through ? gx * raw * raw * raw : 0.0;
        for (int j = 0; j < n; j++) {
            d[j] += (float)((double)g[j] * inv - (double)x[j] * spread);
        }
    }
}

#endif /* KERASLESS_KERNEL_UNIT_NORM_BACKWARD */

/* unit_norm.h: L2-normalize the last axis (groups of n values), in float32:
 *
 *   clamp_inverse == 1 (Keras 3, ops.normalize):   y = x * min(1 / sqrt(sum(x^2)), 1 / epsilon)
 *   clamp_inverse == 0 (Keras 2, tf.math.l2_normalize):  y = x * (1 / sqrt(max(sum(x^2), epsilon)))
 *
 * The two differ only for rows whose norm is below sqrt(epsilon). A row of zeros gives zeros
 * (0 * 1e12); a NaN in a row makes the row NaN, an inf gives NaN there and 0 elsewhere, as in Keras.
 * The Dot layer with normalize=True uses the Keras 3 form with epsilon 1e-7 (dot.h).
 * out == inp is allowed: a row is read completely before any of it is written.
 */
#ifndef KERASLESS_KERNEL_UNIT_NORM
#define KERASLESS_KERNEL_UNIT_NORM

#include <math.h>
#include <stddef.h>

/* The factor one row of n values is multiplied by. */
static inline float kl_unit_norm_inverse(const float *x, /* (n,) */
                                         int n, float epsilon, int clamp_inverse)
{
    float square_sum = 0.0f;
    for (int j = 0; j < n; j++) {
        const float square = x[j] * x[j];
        square_sum = square_sum + square;
    }
    if (clamp_inverse) {
        const float inverse = 1.0f / sqrtf(square_sum); /* inf for a zero row */
        const float limit = 1.0f / epsilon;
        return inverse < limit || inverse != inverse ? inverse : limit; /* min, keeping NaN */
    }
    return 1.0f / sqrtf(square_sum > epsilon || square_sum != square_sum ? square_sum : epsilon);
}

static inline void kl_unit_norm_forward(float *out,       /* (rows, n) */
                                        const float *inp, /* (rows, n) */
                                        int rows, int n, float epsilon, int clamp_inverse)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float *y = out + (size_t)r * (size_t)n;       /* (n,) */
        const float inverse = kl_unit_norm_inverse(x, n, epsilon, clamp_inverse);
        for (int j = 0; j < n; j++) {
            y[j] = x[j] * inverse;
        }
    }
}

#endif /* KERASLESS_KERNEL_UNIT_NORM */

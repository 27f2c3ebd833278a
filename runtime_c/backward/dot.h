/* backward/dot.h: the gradient of dot.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y[0] = sum(a * b): a gets grad_out[0] * b, b gets grad_out[0] * a. normalize: through each vector's
 * L2 normalization (Keras 3's clamp at 1/eps, eps 1e-7): g * f * (u - x * f^2 * sum(u * x)) with f the
 * inverse norm and u the other normalized vector, the second term only where the clamp does not hold.
 */
#ifndef KERASLESS_KERNEL_DOT_BACKWARD
#define KERASLESS_KERNEL_DOT_BACKWARD

#include <math.h>

static inline void kl_dot_backward(float *grad_a,         /* (n,): added to */
                                   float *grad_b,         /* (n,): added to */
                                   const float *grad_out, /* (1,) */
                                   const float *a,        /* (n,): the forward input a */
                                   const float *b,        /* (n,): the forward input b */
                                   int n, int normalize)
{
    const float g = grad_out[0];
    if (!normalize) {
        for (int j = 0; j < n; j++) {
            grad_a[j] += g * b[j];
            grad_b[j] += g * a[j];
        }
        return;
    }
    float sa = 0.0f, sb = 0.0f;
    for (int j = 0; j < n; j++) {
        sa = sa + a[j] * a[j];
        sb = sb + b[j] * b[j];
    }
    const float limit = 1.0f / 1e-7f;
    const float raw_a = 1.0f / sqrtf(sa), raw_b = 1.0f / sqrtf(sb);
    const float fa = raw_a < limit || raw_a != raw_a ? raw_a : limit;
    const float fb = raw_b < limit || raw_b != raw_b ? raw_b : limit;
    double ua = 0.0, ub = 0.0; /* sum(u * x): the other normalized vector against this one */
    for (int j = 0; j < n; j++) {
        ua += (double)(g * (b[j] * fb)) * (double)a[j];
        ub += (double)(g * (a[j] * fa)) * (double)b[j];
    }
    const double spread_a = raw_a <= limit ? ua * (double)raw_a * (double)raw_a * (double)raw_a : 0.0;
    const double spread_b = raw_b <= limit ? ub * (double)raw_b * (double)raw_b * (double)raw_b : 0.0;
    for (int j = 0; j < n; j++) {
        grad_a[j] += (float)((double)(g * (b[j] * fb)) * (double)fa - (double)a[j] * spread_a);
        grad_b[j] += (float)((double)(g * (a[j] * fa)) * (double)fb - (double)b[j] * spread_b);
    }
}

#endif /* KERASLESS_KERNEL_DOT_BACKWARD */

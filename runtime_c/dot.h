/* dot.h: Keras's Dot layer on two vectors, y[0] = sum(a[j] * b[j]) in float32, products added in order.
 *
 * normalize == 1: each vector is first L2-normalized as Keras 3's ops.normalize does,
 * x * min(1 / sqrt(sum(x^2)), 1 / 1e-7) (the epsilon is backend.epsilon()), so the result is the
 * cosine similarity. The normalized values are not stored: the factor is applied to each product,
 * in the order Keras rounds them ((a[j] * fa) * (b[j] * fb)).
 * out may point into a or b: it is written once, after everything is read.
 */
#ifndef KERASLESS_KERNEL_DOT
#define KERASLESS_KERNEL_DOT

#include <math.h>

static inline float kl_dot_inverse_norm(const float *x, /* (n,) */
                                        int n)
{
    float square_sum = 0.0f;
    for (int j = 0; j < n; j++) {
        const float square = x[j] * x[j];
        square_sum = square_sum + square;
    }
    const float inverse = 1.0f / sqrtf(square_sum);
    const float limit = 1.0f / 1e-7f;
    return inverse < limit || inverse != inverse ? inverse : limit; /* min, keeping NaN */
}

static inline void kl_dot_forward(float *out,     /* (1,) */
                                  const float *a, /* (n,) */
                                  const float *b, /* (n,) */
                                  int n, int normalize)
{
    const float fa = normalize ? kl_dot_inverse_norm(a, n) : 1.0f;
    const float fb = normalize ? kl_dot_inverse_norm(b, n) : 1.0f;
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        const float x = normalize ? a[j] * fa : a[j];
        const float y = normalize ? b[j] * fb : b[j];
        const float product = x * y;
        sum = sum + product;
    }
    out[0] = sum;
}

#endif /* KERASLESS_KERNEL_DOT */

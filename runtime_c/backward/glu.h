/* backward/glu.h: the gradient of glu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * Each input row of n values is [a, b] and the output a * s, s = sigmoid(b) (a subnormal s
 * counting as 0, as in the forward pass): a gets g * s, b gets SigmoidGrad's (g * a) * s * (1 - s).
 * grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_GLU_BACKWARD
#define KERASLESS_KERNEL_GLU_BACKWARD

#include <float.h>
#include <math.h>
#include <stddef.h>

static inline void kl_glu_backward(float *grad_in,        /* (rows, n): added to */
                                   const float *grad_out, /* (rows, n / 2) */
                                   const float *inp,      /* (rows, n): the forward input */
                                   const float *out,      /* (rows, n / 2): the forward output */
                                   int rows, int n)
{
    const int half = n / 2;
    (void)out;
    for (int r = 0; r < rows; r++) {
        const float *a = inp + (size_t)r * (size_t)n;           /* (half,) */
        const float *b = a + half;                              /* (half,) */
        const float *g = grad_out + (size_t)r * (size_t)half;   /* (half,) */
        float *da = grad_in + (size_t)r * (size_t)n;            /* (half,) */
        float *db = da + half;                                  /* (half,) */
        for (int j = 0; j < half; j++) {
            float s;
            if (b[j] >= 0.0f) {
                s = 1.0f / (1.0f + expf(-b[j]));
            } else {
                const float e = expf(b[j]); /* b < 0 or NaN: e <= 1 */
                s = e / (1.0f + e);
            }
            if (s < FLT_MIN) {
                s = 0.0f;
            }
            da[j] += g[j] * s;
            db[j] += (g[j] * a[j]) * s * (1.0f - s);
        }
    }
}

#endif /* KERASLESS_KERNEL_GLU_BACKWARD */

/* backward/squareplus.h: the gradient of squareplus.h, added into grad_in (docs/format.md, Backward rules).
 *
 * (x + sqrt(x^2 + b)) / 2: g/2 + (0.5 (g/2) / sqrt) * 2x; 1/2 where x^2 overflows, NaN where x^2 + b < 0.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SQUAREPLUS_BACKWARD
#define KERASLESS_KERNEL_SQUAREPLUS_BACKWARD

#include <math.h>

static inline void kl_squareplus_backward(float *grad_in,        /* (rows, n): added to */
                                          const float *grad_out, /* (rows, n) */
                                          const float *inp,      /* (rows, n): the forward input */
                                          const float *out,      /* (rows, n): the forward output */
                                          int rows, int n, float b)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float half = g / 2.0f;
        const float d = half + ((0.5f * half) / sqrtf(x * x + b)) * (2.0f * x);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SQUAREPLUS_BACKWARD */

/* backward/celu.h: the gradient of celu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * maximum(x, 0) + alpha * expm1(minimum(x, 0) / alpha): both halves pass at 0, so celu'(0) = 2;
 * NaN gives 0.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_CELU_BACKWARD
#define KERASLESS_KERNEL_CELU_BACKWARD

#include <math.h>

static inline void kl_celu_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n, float alpha)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        float d = x >= 0.0f ? g : 0.0f;
        if (x <= 0.0f) {
            const float m = x < 0.0f ? x : 0.0f;
            d += ((g * alpha) * expf(m / alpha)) / alpha;
        }
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_CELU_BACKWARD */

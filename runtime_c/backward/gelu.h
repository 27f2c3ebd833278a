/* backward/gelu.h: the gradient of gelu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * exact: (0.5 x) * erfc(-0.7071068 x), term by term (erfc' = -2/sqrt(pi) exp(-u^2));
 * approximate: (0.5 x) * (1 + tanh(0.7978846 (x + 0.044715 x^3))). NaN at +-inf, as in TensorFlow.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_GELU_BACKWARD
#define KERASLESS_KERNEL_GELU_BACKWARD

#include <math.h>

static inline void kl_gelu_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n, int approximate)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float half_x = 0.5f * x;
        float d;
        if (approximate) {
            const float square = x * x;
            const float t = tanhf(0.7978845608028654f * (x + 0.044715f * (square * x)));
            const float inner = ((g * half_x) * (1.0f - t * t)) * 0.7978845608028654f;
            d = (g * (1.0f + t)) * 0.5f + (inner + (inner * 0.044715f) * (3.0f * square));
        } else {
            const float u = -x * 0.7071067811865476f;
            const float through_erfc = (g * half_x) * -1.1283791670955126f * expf(-(u * u));
            d = (g * erfcf(u)) * 0.5f - through_erfc * 0.7071067811865476f;
        }
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_GELU_BACKWARD */

/* backward/elu.h: the gradient of elu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * res = x < 0 ? exp(x) - 1 : x; Keras: alpha * res where x <= 0 unless alpha == 1.
 * TensorFlow's EluGrad selects on res < 0: (res + 1) * g, else g.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_ELU_BACKWARD
#define KERASLESS_KERNEL_ELU_BACKWARD

#include <math.h>

static inline void kl_elu_backward(float *grad_in,        /* (rows, n): added to */
                                   const float *grad_out, /* (rows, n) */
                                   const float *inp,      /* (rows, n): the forward input */
                                   const float *out,      /* (rows, n): the forward output */
                                   int rows, int n, float alpha)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float res = x < 0.0f ? expf(x) - 1.0f : x;
        const float gr = (alpha == 1.0f || x > 0.0f) ? g : alpha * g;
        const float d = res < 0.0f ? (res + 1.0f) * gr : gr;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_ELU_BACKWARD */

/* elu.h: y = x if x > 0, else alpha * (exp(x) - 1), elementwise. As TensorFlow's Elu
 * (tensorflow/core/kernels/relu_op_functor.h) this is expf(x) - 1, not expm1f; Keras scales
 * by alpha only where x <= 0 (NaN stays NaN).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_ELU
#define KERASLESS_KERNEL_ELU

#include <math.h>

static inline void kl_elu_forward(float *out,       /* (rows, n) */
                                  const float *inp, /* (rows, n) */
                                  int rows, int n, float alpha)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float res = x < 0.0f ? expf(x) - 1.0f : x;
        out[k] = (alpha == 1.0f || x > 0.0f) ? res : alpha * res;
    }
}

#endif /* KERASLESS_KERNEL_ELU */

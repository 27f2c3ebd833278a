/* selu.h: y = 1.0507010 x if x >= 0, else 1.7580993 * (exp(x) - 1), elementwise: TensorFlow's Selu
 * (tensorflow/core/kernels/relu_op_functor.h), expf(x) - 1 rather than expm1f like TF.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SELU
#define KERASLESS_KERNEL_SELU

#include <math.h>

static inline void kl_selu_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x < 0.0f ? 1.7580993408473768599402175208123f * (expf(x) - 1.0f)
                          : 1.0507009873554804934193349852946f * x;
    }
}

#endif /* KERASLESS_KERNEL_SELU */

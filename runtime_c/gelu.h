/* gelu.h: Gaussian error linear unit elementwise, as TensorFlow's tf.nn.gelu computes it:
 *   approximate == 0: y = (0.5 x) * erfc(-x * 0.70710677)   (exact in the far negative tail)
 *   approximate != 0: y = (0.5 x) * (1 + tanh(0.7978846 * (x + 0.044715 * x^3)))
 * Keras's activation defaults to the exact form.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_GELU
#define KERASLESS_KERNEL_GELU

#include <math.h>

static inline void kl_gelu_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n, int approximate)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        if (approximate) {
            const float inner = 0.7978845608028654f * (x + 0.044715f * (x * x * x));
            out[k] = (0.5f * x) * (1.0f + tanhf(inner));
        } else {
            out[k] = (0.5f * x) * erfcf(-x * 0.7071067811865476f);
        }
    }
}

#endif /* KERASLESS_KERNEL_GELU */

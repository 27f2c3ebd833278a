/* softsign.h: y = x / (1 + |x|) elementwise; +-inf give NaN (inf / inf), as in Keras.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SOFTSIGN
#define KERASLESS_KERNEL_SOFTSIGN

#include <math.h>

static inline void kl_softsign_forward(float *out,       /* (rows, n) */
                                       const float *inp, /* (rows, n) */
                                       int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x / (1.0f + fabsf(x));
    }
}

#endif /* KERASLESS_KERNEL_SOFTSIGN */

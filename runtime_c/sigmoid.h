/* sigmoid.h: y = 1 / (1 + exp(-x)) elementwise, in a form where expf never overflows:
 * 1 / (1 + expf(-x)) for x >= 0, and e / (1 + e) with e = expf(x) below 0 (and for NaN).
 * Large negative inputs give tiny positive values (then 0), never NaN. out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SIGMOID
#define KERASLESS_KERNEL_SIGMOID

#include <math.h>

static inline void kl_sigmoid_forward(float *out,       /* (rows, n) */
                                      const float *inp, /* (rows, n) */
                                      int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        if (x >= 0.0f) {
            out[k] = 1.0f / (1.0f + expf(-x));
        } else {
            const float e = expf(x); /* x < 0 or NaN: e <= 1 */
            out[k] = e / (1.0f + e);
        }
    }
}

#endif /* KERASLESS_KERNEL_SIGMOID */

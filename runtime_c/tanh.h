/* tanh.h: y = tanh(x) elementwise (tanhf: float math only). out == inp is allowed. */
#ifndef KERASLESS_KERNEL_TANH
#define KERASLESS_KERNEL_TANH

#include <math.h>

static inline void kl_tanh_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        out[k] = tanhf(inp[k]);
    }
}

#endif /* KERASLESS_KERNEL_TANH */

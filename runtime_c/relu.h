/* relu.h: y = max(x, 0) elementwise; NaN stays NaN, as in Keras. out == inp is allowed. */
#ifndef KERASLESS_KERNEL_RELU
#define KERASLESS_KERNEL_RELU

static inline void kl_relu_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > 0.0f ? x : (x == x ? 0.0f : x); /* x != x only for NaN */
    }
}

#endif /* KERASLESS_KERNEL_RELU */

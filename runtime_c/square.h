/* square.h: y = x * x elementwise (keras.ops.square).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_SQUARE
#define KERASLESS_KERNEL_SQUARE

static inline void kl_square_forward(float *out,       /* (rows, n) */
                                     const float *inp, /* (rows, n) */
                                     int rows, int n)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x * x;
    }
}

#endif /* KERASLESS_KERNEL_SQUARE */

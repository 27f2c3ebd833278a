/* minimum_constant.h: y = min(x, value) elementwise (keras.ops.minimum with a number): as tf.minimum, NaN and a tie keep x.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_MINIMUM_CONSTANT
#define KERASLESS_KERNEL_MINIMUM_CONSTANT

static inline void kl_minimum_constant_forward(float *out,       /* (rows, n) */
                                               const float *inp, /* (rows, n) */
                                               int rows, int n, float value)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x > value ? value : x;
    }
}

#endif /* KERASLESS_KERNEL_MINIMUM_CONSTANT */

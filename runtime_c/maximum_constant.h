/* maximum_constant.h: y = max(x, value) elementwise (keras.ops.maximum with a number): as tf.maximum, NaN and a tie keep x.
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_MAXIMUM_CONSTANT
#define KERASLESS_KERNEL_MAXIMUM_CONSTANT

static inline void kl_maximum_constant_forward(float *out,       /* (rows, n) */
                                               const float *inp, /* (rows, n) */
                                               int rows, int n, float value)
{
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        out[k] = x < value ? value : x;
    }
}

#endif /* KERASLESS_KERNEL_MAXIMUM_CONSTANT */

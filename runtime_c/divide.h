/* divide.h: y = a / b, one IEEE division per value (keras.ops.divide of two tensors; exactly two inputs).
 *
 * A subnormal a or b reads as a zero of its sign, as under TensorFlow's denormals-are-zero
 * (1e-40 / 0 is NaN there, 1 / 1e-40 is inf).
 * out may be a or b: each value is read before it is overwritten.
 */
#ifndef KERASLESS_KERNEL_DIVIDE
#define KERASLESS_KERNEL_DIVIDE

#include <float.h>

static inline void kl_divide_forward(float *out,     /* (size,) */
                                     const float *a, /* (size,) */
                                     const float *b, /* (size,) */
                                     int size)
{
    for (int k = 0; k < size; k++) {
        const float x = (a[k] > -FLT_MIN && a[k] < FLT_MIN) ? a[k] * 0.0f : a[k];
        const float y = (b[k] > -FLT_MIN && b[k] < FLT_MIN) ? b[k] * 0.0f : b[k];
        out[k] = x / y;
    }
}

#endif /* KERASLESS_KERNEL_DIVIDE */

/* subtract.h: Keras's Subtract layer, y = a - b (exactly two inputs).
 *
 * out may be a or b: each value is read before it is overwritten.
 */
#ifndef KERASLESS_KERNEL_SUBTRACT
#define KERASLESS_KERNEL_SUBTRACT

static inline void kl_subtract_forward(float *out,     /* (size,) */
                                       const float *a, /* (size,) */
                                       const float *b, /* (size,) */
                                       int size)
{
    for (int k = 0; k < size; k++) {
        out[k] = a[k] - b[k];
    }
}

#endif /* KERASLESS_KERNEL_SUBTRACT */

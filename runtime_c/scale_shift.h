/* scale_shift.h: y = x * scale + shift per channel of the last axis (BatchNormalization folded at
 * export, Rescaling).
 *
 * One multiply, then one add: two roundings, as TensorFlow computes x * inv + (beta - mean * inv).
 * The product is a named value so that no compiler in a standard mode fuses the two into an fmaf.
 * out == inp is allowed: each value is read before it is overwritten.
 */
#ifndef KERASLESS_KERNEL_SCALE_SHIFT
#define KERASLESS_KERNEL_SCALE_SHIFT

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

#include <stddef.h>

static inline void kl_scale_shift_forward(float *out,         /* (rows, n) */
                                          const float *inp,   /* (rows, n) */
                                          const float *scale, /* (n,) */
                                          const float *shift, /* (n,) */
                                          int rows, int n)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float *y = out + (size_t)r * (size_t)n;       /* (n,) */
        for (int j = 0; j < n; j++) {
            const float scaled = x[j] * KL_LOAD_F32(scale + j);
            y[j] = scaled + KL_LOAD_F32(shift + j);
        }
    }
}

#endif /* KERASLESS_KERNEL_SCALE_SHIFT */

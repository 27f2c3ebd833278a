/* repeat.h: RepeatVector, y[t][j] = x[j] for t = 0 .. n-1 (n copies of a vector of size values).
 *
 * out must not overlap inp.
 */
#ifndef KERASLESS_KERNEL_REPEAT
#define KERASLESS_KERNEL_REPEAT

#include <stddef.h>

static inline void kl_repeat_forward(float *out,       /* (n, size) */
                                     const float *inp, /* (size,) */
                                     int size, int n)
{
    for (int t = 0; t < n; t++) {
        float *y = out + (size_t)t * (size_t)size; /* (size,) */
        for (int j = 0; j < size; j++) {
            y[j] = inp[j];
        }
    }
}

#endif /* KERASLESS_KERNEL_REPEAT */

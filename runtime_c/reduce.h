/* reduce.h: each row of n values -> one value (keras.ops.sum/mean/max/min over axes, lowered by the
 * exporter to a reduction of the last axis).
 *
 * function 0 sum, 1 mean: float32 adds in increasing index from +0, each rounded (no reassociation);
 * mean then divides by n. function 2 max, 3 min: as TensorFlow's reduce_max/reduce_min, a NaN
 * anywhere in the row gives NaN. out may not overlap inp.
 */
#ifndef KERASLESS_KERNEL_REDUCE
#define KERASLESS_KERNEL_REDUCE

#include <stddef.h>

static inline void kl_reduce_forward(float *out,       /* (rows,) */
                                     const float *inp, /* (rows, n) */
                                     int rows, int n, int function)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float acc;
        if (function <= 1) {
            acc = 0.0f;
            for (int j = 0; j < n; j++) {
                acc = acc + x[j];
            }
            if (function == 1) {
                acc = acc / (float)n;
            }
        } else {
            acc = x[0];
            for (int j = 1; j < n; j++) {
                const float v = x[j];
                const int wins = function == 2 ? v > acc : v < acc;
                if (acc == acc && (v != v || wins)) { /* a NaN stays once met */
                    acc = v;
                }
            }
        }
        out[r] = acc;
    }
}

#endif /* KERASLESS_KERNEL_REDUCE */
